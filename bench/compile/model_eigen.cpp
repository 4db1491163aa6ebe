// A two-layer perceptron in plain Eigen, trained on its first layer's weights with a hand-written
// backward pass and AdamW: the baseline for what model_glora.cpp costs to compile.
#include <Eigen/Core>

#include <cmath>
#include <cstdio>

namespace {

struct AdamW {
  Eigen::MatrixXf m, v;
  int t = 0;

  void step(Eigen::MatrixXf& p, const Eigen::MatrixXf& g, float lr) {
    if (m.size() == 0) {
      m.setZero(p.rows(), p.cols());
      v.setZero(p.rows(), p.cols());
    }
    ++t;
    p *= 1 - lr * 1e-4f;
    m = 0.9f * m + 0.1f * g;
    v.array() = 0.999f * v.array() + 0.001f * g.array().square();
    const float c1 = 1 - std::pow(0.9f, float(t)), c2 = std::sqrt(1 - std::pow(0.999f, float(t)));
    p.array() -= (lr / c1) * m.array() / (v.array().sqrt() / c2 + 1e-8f);
  }
};

}  // namespace

int main() {
  Eigen::MatrixXf W1 = Eigen::MatrixXf::Random(64, 32), W2 = Eigen::MatrixXf::Random(10, 64);
  Eigen::VectorXf b1 = Eigen::VectorXf::Random(64), b2 = Eigen::VectorXf::Random(10);
  const Eigen::MatrixXf X = Eigen::MatrixXf::Random(32, 16), T = Eigen::MatrixXf::Random(10, 16);
  AdamW optimiser;
  Eigen::MatrixXf grad_W1;
  for (int step = 0; step < 100; ++step) {
    const Eigen::MatrixXf H = ((W1 * X).colwise() + b1).cwiseMax(0.0f);
    const Eigen::MatrixXf Y = (W2 * H).colwise() + b2;
    const Eigen::MatrixXf dY = (Y - T) / 16.0f;
    const Eigen::MatrixXf dH =
        (W2.transpose() * dY).cwiseProduct((H.array() > 0).cast<float>().matrix());
    grad_W1.noalias() = dH * X.transpose();
    const Eigen::MatrixXf dX = W1.transpose() * dH;
    optimiser.step(W1, grad_W1, 1e-3f);
    if (step % 50 == 0) std::printf("%g %g\n", (Y - T).squaredNorm(), dX.sum());
  }
  std::printf("%g\n", W1.sum());
}
