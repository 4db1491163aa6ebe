// Uses glora the way a downstream project does; exits non-zero when the adapted layer, its merged
// form and the GLoRA formula disagree.
#include <glora/glora.hpp>

#include <cstdio>

int main() {
  const Eigen::Index out = 6, in = 5, batch = 3;
  const glora::MatrixX<float> W0 = glora::MatrixX<float>::Random(out, in);
  const glora::VectorX<float> b0 = glora::VectorX<float>::Random(out);

  glora::Linear<float, glora::LowRank<2>> layer(W0, b0);
  layer.adapter().initialize(7);
  layer.adapter().A.down.setRandom();

  const glora::MatrixX<float> X = glora::MatrixX<float>::Random(in, batch);
  const glora::MatrixX<float> Y = layer.forward(X);
  const glora::Dense<float> merged = layer.merge();
  const glora::MatrixX<float> Y_merged = merged.forward(X);

  // W = W0 + W0 (.) (Ad Au), b = b0
  const auto& A = layer.adapter().A;
  const glora::MatrixX<float> W = W0 + W0.cwiseProduct(A.down * A.up);
  const glora::MatrixX<float> Y_formula = (W * X).colwise() + b0;
  const glora::MatrixX<float> Y_frozen = (W0 * X).colwise() + b0;

  const float merge_error = (Y - Y_merged).cwiseAbs().maxCoeff();
  const float formula_error = (Y - Y_formula).cwiseAbs().maxCoeff();
  const float adapter_effect = (Y - Y_frozen).cwiseAbs().maxCoeff();
  std::printf("forward vs merge: %g, forward vs formula: %g, adapter effect: %g\n", merge_error,
              formula_error, adapter_effect);
  const bool ok = merge_error < 1e-5f && formula_error < 1e-5f && adapter_effect > 1e-3f;
  std::printf("%s\n", ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
