#include <glora/glora.hpp>

#include <cstdio>
#include <utility>

int main() {
  // A frozen layer: W0 is out x in (the PyTorch layout), b0 has out entries.
  glora::MatrixX<float> W0 = glora::MatrixX<float>::Random(8, 16);
  glora::VectorX<float> b0 = glora::VectorX<float>::Random(8);

  // Slots A..E: W = W0 + W0 ⊙ A + B,  b = b0 + b0 ⊙ D + E + W0 c.
  glora::Linear<float, glora::LowRank<4>, glora::LowRank<4>, glora::Vector, glora::Vector,
                glora::Vector>
      layer(std::move(W0), std::move(b0));
  layer.adapter().initialize(/*seed=*/42);    // equals the frozen layer until trained
  layer.adapter().A.down.setConstant(0.1f);   // Ad: 8 x 4 (Au was drawn by initialize)
  layer.adapter().C.value.setConstant(0.2f);  // c: 16 entries
  layer.adapter().E.value.setOnes();          // E: 8 entries

  const glora::MatrixX<float> X = glora::MatrixX<float>::Random(16, 5);  // 5 samples (columns)
  const glora::MatrixX<float> Y = layer.forward(X);                      // 8 x 5

  const glora::Dense<float> merged = layer.merge();  // plain y = W x + b, no adapter left
  const float diff = (merged.forward(X) - Y).cwiseAbs().maxCoeff();
  std::printf("max |merged - unmerged| = %g\n", diff);
  return diff < 1e-4f ? 0 : 1;
}
