// Optimisers and schedule: AdamW and SGD against steps worked out by hand,
// the learning-rate schedule at its landmarks, the optimisers' refusals, and
// a small regression that training with backward() + AdamW actually solves.
#include "gradient_checks.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

namespace {

using glora_test::MatrixXd;
using glora_test::VectorXd;

// A 1 x 1 dense layer: weight w and bias b, two one-entry tensors.
glora::Dense<double> scalar_layer(double w, double b) {
  return glora::Dense<double>(MatrixXd::Constant(1, 1, w), VectorXd::Constant(1, b));
}

}  // namespace

TEST_CASE("AdamW: two steps match torch.optim.AdamW worked by hand", "[optim]") {
  glora::AdamW<double>::Options options;
  options.lr = 0.1;
  options.beta1 = 0.9;
  options.beta2 = 0.999;
  options.eps = 1e-8;
  options.weight_decay = 0.01;
  glora::AdamW<double> adam(options);

  glora::Dense<double> params = scalar_layer(1.0, -2.0);
  glora::Dense<double> grads = scalar_layer(0.1, -0.3);

  // Step 1 (t = 1: 1 - β1 = 0.1, 1 - β2 = 0.001), w = 1, g = 0.1:
  //   decay   w = 1 · (1 - 0.1 · 0.01)                      = 0.999
  //   m = 0.1 · 0.1 = 0.01,  v = 0.001 · 0.01               = 1e-5
  //   w -= 0.1 / 0.1 · 0.01 / (√1e-5 / √0.001 + 1e-8)
  //      = 0.999 - 0.01 / (0.1 + 1e-8)                      = 0.89900000999999900...
  // b = -2, g = -0.3: decay b = -1.998; m = -0.03, v = 9e-5;
  //   b -= 1 · -0.03 / (√9e-5 / √0.001 + 1e-8) = -0.03 / 0.30000001
  //   b = -1.998 + 0.09999999666...                          = -1.89800000333333322...
  adam.step(params, grads);
  CHECK(params.weight(0, 0) == Approx(0.8990000099999990).epsilon(1e-14));
  CHECK(params.bias(0) == Approx(-1.8980000033333332).epsilon(1e-14));

  // Step 2 (t = 2: 1 - β1² = 0.19, 1 - β2² = 0.001999), w-gradient now -0.2:
  //   decay   w = 0.89900001 · 0.999                        = 0.89810100999...
  //   m = 0.9 · 0.01 + 0.1 · -0.2 = -0.011
  //   v = 0.999 · 1e-5 + 0.001 · 0.04 = 4.999e-5
  //   w -= 0.1 / 0.19 · -0.011 / (√4.999e-5 / √0.001999 + 1e-8)
  //      = 0.89810101 + 0.5263158 · 0.011 / 0.1581376       = 0.93471136037848910...
  // b keeps its gradient -0.3, so m / (1 - β1²) = -0.3 and v / (1 - β2²) = 0.09:
  //   b = -1.89800000333 · 0.999 + 0.1 · 0.3 / (0.3 + 1e-8)  = -1.79610200666333311...
  grads.weight(0, 0) = -0.2;
  adam.step(params, grads);
  CHECK(params.weight(0, 0) == Approx(0.9347113603784891).epsilon(1e-14));
  CHECK(params.bias(0) == Approx(-1.7961020066633331).epsilon(1e-14));
}

TEST_CASE("SGD with momentum: two steps match torch.optim.SGD worked by hand", "[optim]") {
  glora::SGD<double>::Options options;
  options.lr = 0.1;
  options.momentum = 0.9;
  options.weight_decay = 0.1;
  glora::SGD<double> sgd(options);

  glora::Dense<double> params = scalar_layer(1.0, -2.0);
  glora::Dense<double> grads = scalar_layer(0.5, 0.0);

  // w: d = 0.5 + 0.1 · 1 = 0.6, buf = 0.6, w = 1 - 0.1 · 0.6 = 0.94
  // b: d = 0 + 0.1 · -2 = -0.2, buf = -0.2, b = -2 + 0.02 = -1.98
  sgd.step(params, grads);
  CHECK(params.weight(0, 0) == Approx(0.94).epsilon(1e-14));
  CHECK(params.bias(0) == Approx(-1.98).epsilon(1e-14));

  // w: d = -1 + 0.1 · 0.94 = -0.906, buf = 0.9 · 0.6 - 0.906 = -0.366, w = 0.94 + 0.0366 = 0.9766
  // b: d = 0.1 · -1.98 = -0.198, buf = 0.9 · -0.2 - 0.198 = -0.378, b = -1.98 + 0.0378 = -1.9422
  grads.weight(0, 0) = -1.0;
  sgd.step(params, grads);
  CHECK(params.weight(0, 0) == Approx(0.9766).epsilon(1e-14));
  CHECK(params.bias(0) == Approx(-1.9422).epsilon(1e-14));
}

TEST_CASE("optimisers: learning rate can be read and changed", "[optim]") {
  glora::AdamW<float> adam;
  CHECK(adam.learning_rate() == Approx(1e-4f));
  adam.set_learning_rate(0.5f);
  CHECK(adam.learning_rate() == 0.5f);

  glora::SGD<float> sgd;
  CHECK(sgd.learning_rate() == Approx(1e-2f));
  sgd.set_learning_rate(0.25f);
  CHECK(sgd.learning_rate() == 0.25f);
}

TEST_CASE("optimisers refuse mismatched gradients and foreign parameter sets", "[optim]") {
  using Layer = glora::Linear<double, glora::LowRank<2>, glora::Vector>;
  Layer layer(MatrixXd::Ones(3, 4));
  Layer other(MatrixXd::Ones(5, 4));
  auto grads = glora::zeros_like(layer.adapter());
  auto wrong = glora::zeros_like(other.adapter());
  glora::AdamW<double> adam;

  SECTION("gradients of other shapes") {
    const auto before = layer.adapter();
    CHECK_THROWS_WITH(adam.step(layer.adapter(), wrong),
                      Catch::Contains("gradient of Ad is 5 x 2, expected 3 x 2"));
    glora::for_each_tensor([](const char*, glora::Role, auto a, auto b) { CHECK(a == b); },
                           layer.adapter(), before);
  }
  SECTION("another parameter set after the first step") {
    adam.step(layer.adapter(), grads);
    CHECK_THROWS_AS(adam.step(other.adapter(), wrong), glora::shape_error);
  }
}

TEST_CASE("cosine_schedule: linear warm-up, then half a cosine down to zero", "[optim]") {
  CHECK(glora::cosine_schedule(0, 100, 10, 2.0) == 0.0);
  CHECK(glora::cosine_schedule(5, 100, 10, 2.0) == Approx(1.0));
  CHECK(glora::cosine_schedule(10, 100, 10, 2.0) == Approx(2.0));
  CHECK(glora::cosine_schedule(55, 100, 10, 2.0) == Approx(1.0));  // half way down
  const double pi = 3.14159265358979323846;
  CHECK(glora::cosine_schedule(99, 100, 10, 2.0) == Approx(1.0 + std::cos(pi * 89.0 / 90.0)));
  CHECK(glora::cosine_schedule(100, 100, 10, 2.0) == 0.0);
  CHECK(glora::cosine_schedule(250, 100, 10, 2.0) == 0.0);
  CHECK(glora::cosine_schedule(0, 100, 0, 2.0f) == 2.0f);  // no warm-up: start at base_lr
  CHECK_THROWS_AS(glora::cosine_schedule(-1, 100, 10, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(glora::cosine_schedule(0, 10, 20, 1.0), std::invalid_argument);
}

TEST_CASE("training with backward and AdamW fits a reachable target, and merging keeps it",
          "[optim][backward]") {
  // The target is exactly what the configuration can express:
  //   W* = diag(1 + a*) W0 + Bd* Bu*   (rank 2),   b* = b0 + e*.
  constexpr Eigen::Index m = 6, n = 8, N = 64;
  std::mt19937 rng(7);
  const MatrixXd W0 = glora_test::uniform_matrix(rng, m, n);
  const VectorXd b0 = glora_test::uniform_matrix(rng, m, 1);
  const VectorXd a_target = 0.5 * glora_test::uniform_matrix(rng, m, 1);
  const MatrixXd B_target =
      glora_test::uniform_matrix(rng, m, 2) * glora_test::uniform_matrix(rng, 2, n);
  const VectorXd e_target = glora_test::uniform_matrix(rng, m, 1);
  const glora::Dense<double> target((1.0 + a_target.array()).matrix().asDiagonal() * W0 + B_target,
                                    b0 + e_target);

  glora::Linear<double, glora::Vector, glora::LowRank<2>, glora::None, glora::None, glora::Vector>
      layer(W0, b0);
  layer.adapter().initialize(3);
  auto grads = glora::zeros_like(layer.adapter());

  const MatrixXd X = glora_test::uniform_matrix(rng, n, N);
  const MatrixXd T = target.forward(X);
  // L = ½ mean over samples of |y - t|²; dL/dY = (Y - T) / N.
  const auto loss_and_gradient = [&](MatrixXd& dY) {
    dY = (layer.forward(X) - T) / double(N);
    return 0.5 * double(N) * dY.squaredNorm();
  };

  glora::AdamW<double>::Options options;
  options.weight_decay = 0;
  glora::AdamW<double> adam(options);
  constexpr int steps = 3000;
  MatrixXd dY;
  const double start = loss_and_gradient(dY);
  for (int step = 0; step < steps; ++step) {
    adam.set_learning_rate(glora::cosine_schedule(step, steps, 100, 0.05));
    loss_and_gradient(dY);
    glora::set_zero(grads);
    layer.backward(X, dY, grads);
    adam.step(layer.adapter(), grads);
  }
  const double end = loss_and_gradient(dY);
  INFO("loss " << start << " -> " << end);
  CHECK(end < 1e-10 * start);

  const glora::Dense<double> merged = layer.merge();
  CHECK((merged.forward(X) - layer.forward(X)).cwiseAbs().maxCoeff() < 1e-12);
}
