// The model of model_eigen.cpp with its first layer adapted by GLoRA through a LinearView:
// forward, backward, AdamW and a merge back into the model's weights. Compiled with
// -DGLORA_EXTRA_TYPES=N (N up to 3), it also trains N further layer types in the same file, to
// measure what each one more costs.
#include <glora/glora.hpp>

#include <cstdio>

#ifndef GLORA_EXTRA_TYPES
#define GLORA_EXTRA_TYPES 0
#endif

namespace {

// One training run of a layer of type Layer over W1, b1; returns a number that depends on it.
template <typename Layer>
float train(Eigen::MatrixXf& W1, Eigen::VectorXf& b1, const Eigen::MatrixXf& W2,
            const Eigen::VectorXf& b2, const Eigen::MatrixXf& X, const Eigen::MatrixXf& T) {
  Layer layer(W1, b1);
  layer.adapter().initialize(1);
  auto grads = glora::zeros_like(layer.adapter());
  glora::AdamW<float> optimiser(glora::AdamW<float>::Options().lr(1e-3f));
  Eigen::MatrixXf H(W1.rows(), X.cols()), dX(X.rows(), X.cols());
  for (int step = 0; step < 100; ++step) {
    layer.forward(X, H);
    H = H.cwiseMax(0.0f);
    const Eigen::MatrixXf Y = (W2 * H).colwise() + b2;
    const Eigen::MatrixXf dY = (Y - T) / 16.0f;
    const Eigen::MatrixXf dH =
        (W2.transpose() * dY).cwiseProduct((H.array() > 0).cast<float>().matrix());
    layer.backward(X, dH, grads, dX);
    optimiser.step(layer.adapter(), grads);
    if (step % 50 == 0) std::printf("%g %g\n", (Y - T).squaredNorm(), dX.sum());
  }
  layer.merge_in_place();
  return W1.sum();
}

}  // namespace

int main() {
  using glora::LowRank;
  using glora::None;
  using glora::Scalar;
  using glora::Vector;
  Eigen::MatrixXf W1 = Eigen::MatrixXf::Random(64, 32), W2 = Eigen::MatrixXf::Random(10, 64);
  Eigen::VectorXf b1 = Eigen::VectorXf::Random(64), b2 = Eigen::VectorXf::Random(10);
  const Eigen::MatrixXf X = Eigen::MatrixXf::Random(32, 16), T = Eigen::MatrixXf::Random(10, 16);
  float sum = train<glora::LinearView<float, LowRank<4>, LowRank<4>, Vector, Vector, Vector>>(
      W1, b1, W2, b2, X, T);
#if GLORA_EXTRA_TYPES >= 1
  sum += train<glora::LinearView<float, Vector, LowRank<8>>>(W1, b1, W2, b2, X, T);
#endif
#if GLORA_EXTRA_TYPES >= 2
  sum += train<glora::LinearView<float, None, LowRank<2>, Vector, Scalar>>(W1, b1, W2, b2, X, T);
#endif
#if GLORA_EXTRA_TYPES >= 3
  sum +=
      train<glora::LinearView<float, Scalar, Vector, None, Vector, Scalar>>(W1, b1, W2, b2, X, T);
#endif
  std::printf("%g\n", sum);
}
