// Optimisers and schedule: AdamW and SGD against steps worked out by hand and
// against their torch formulas written plainly for one number; every option
// set by name reaches the arithmetic; step() consumes the gradients it is
// given (the common loop needs no zeroing, several backward calls before a
// step add up); the schedule at its landmarks; the optimisers' refusals; and a
// small regression that training with backward() + AdamW actually solves.
#include "gradient_checks.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using glora_test::MatrixXd;
using glora_test::VectorXd;

// A 1 x 1 dense layer: weight w and bias b, two one-entry tensors.
glora::Dense<double> scalar_layer(double w, double b) {
  return glora::Dense<double>(MatrixXd::Constant(1, 1, w), VectorXd::Constant(1, b));
}

bool all_zero(const glora::Dense<double>& d) {
  return (d.weight.array() == 0).all() && (d.bias.array() == 0).all();
}

// torch.optim.AdamW's algorithm for one number, written as its documentation
// states it (bias-corrected moments m̂ and v̂).
struct AdamWReference {
  double lr = 1e-4, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-4;

  double run(double p, const std::vector<double>& gradients) const {
    double m = 0, v = 0;
    for (std::size_t i = 0; i < gradients.size(); ++i) {
      const double g = gradients[i];
      const double t = double(i + 1);
      p -= lr * weight_decay * p;
      m = beta1 * m + (1 - beta1) * g;
      v = beta2 * v + (1 - beta2) * g * g;
      const double m_hat = m / (1 - std::pow(beta1, t));
      const double v_hat = v / (1 - std::pow(beta2, t));
      p -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    return p;
  }
};

// torch.optim.SGD's algorithm for one number (no dampening, no Nesterov): the
// momentum buffer starts as the first step's d.
struct SGDReference {
  double lr = 1e-2, momentum = 0.9, weight_decay = 0;

  double run(double p, const std::vector<double>& gradients) const {
    double buf = 0;
    for (std::size_t i = 0; i < gradients.size(); ++i) {
      const double d = gradients[i] + weight_decay * p;
      buf = i == 0 ? d : momentum * buf + d;
      p -= lr * buf;
    }
    return p;
  }
};

// Gradients for three steps: the weight's of ordinary size, the bias's small
// enough (1e-7) that eps matters against √v̂.
const std::vector<double> weight_gradients = {0.3, -0.2, 0.05};
const std::vector<double> bias_gradients = {1e-7, 3e-7, -2e-7};

// Runs three steps of `optimiser` on the 1 x 1 layer (w, b) = (1, -2), with a
// fresh gradient set before each step; returns the layer.
template <class Optimiser>
glora::Dense<double> three_steps(Optimiser& optimiser) {
  glora::Dense<double> params = scalar_layer(1.0, -2.0);
  glora::Dense<double> grads = glora::zeros_like(params);
  for (std::size_t i = 0; i < weight_gradients.size(); ++i) {
    grads.weight(0, 0) = weight_gradients[i];
    grads.bias(0) = bias_gradients[i];
    optimiser.step(params, grads);
  }
  return params;
}

// One option set by name, and the same change made to the reference.
template <class Optimiser, class Reference>
struct OptionCase {
  using Options = typename Optimiser::Options;
  const char* name;
  std::function<Options(Options)> set;
  std::function<void(Reference&)> set_reference;
};

// For each case: three steps with the option set from `base` agree with the
// reference given the same change, and differ from the run without it (eps
// shows in the bias, whose gradients are of its size; the rest in the weight).
template <class Optimiser, class Reference>
void check_option_cases(const typename Optimiser::Options& base, const Reference& base_reference,
                        const std::vector<OptionCase<Optimiser, Reference>>& cases) {
  for (const auto& c : cases) {
    INFO("option " << c.name);
    Optimiser optimiser(c.set(base));
    const glora::Dense<double> after = three_steps(optimiser);

    Reference reference = base_reference;
    c.set_reference(reference);
    CHECK(after.weight(0, 0) == Approx(reference.run(1.0, weight_gradients)).epsilon(1e-13));
    CHECK(after.bias(0) == Approx(reference.run(-2.0, bias_gradients)).epsilon(1e-13));

    const double weight_change =
        std::abs(after.weight(0, 0) - base_reference.run(1.0, weight_gradients));
    const double bias_change = std::abs(after.bias(0) - base_reference.run(-2.0, bias_gradients));
    CHECK(std::max(weight_change, bias_change) > 1e-3);
  }
}

}  // namespace

TEST_CASE("AdamW: two steps match torch.optim.AdamW worked by hand", "[optim]") {
  glora::AdamW<double> adam(
      glora::AdamW<double>::Options().lr(0.1).beta1(0.9).beta2(0.999).eps(1e-8).weight_decay(0.01));

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
  CHECK(all_zero(grads));  // consumed

  // Step 2 (t = 2: 1 - β1² = 0.19, 1 - β2² = 0.001999), w-gradient now -0.2:
  //   decay   w = 0.89900001 · 0.999                        = 0.89810100999...
  //   m = 0.9 · 0.01 + 0.1 · -0.2 = -0.011
  //   v = 0.999 · 1e-5 + 0.001 · 0.04 = 4.999e-5
  //   w -= 0.1 / 0.19 · -0.011 / (√4.999e-5 / √0.001999 + 1e-8)
  //      = 0.89810101 + 0.5263158 · 0.011 / 0.1581376       = 0.93471136037848910...
  // b keeps its gradient -0.3, so m / (1 - β1²) = -0.3 and v / (1 - β2²) = 0.09:
  //   b = -1.89800000333 · 0.999 + 0.1 · 0.3 / (0.3 + 1e-8)  = -1.79610200666333311...
  grads.weight(0, 0) = -0.2;
  grads.bias(0) = -0.3;
  adam.step(params, grads);
  CHECK(params.weight(0, 0) == Approx(0.9347113603784891).epsilon(1e-14));
  CHECK(params.bias(0) == Approx(-1.7961020066633331).epsilon(1e-14));
  CHECK(all_zero(grads));
}

TEST_CASE("SGD with momentum: two steps match torch.optim.SGD worked by hand", "[optim]") {
  glora::SGD<double> sgd(glora::SGD<double>::Options().lr(0.1).momentum(0.9).weight_decay(0.1));

  glora::Dense<double> params = scalar_layer(1.0, -2.0);
  glora::Dense<double> grads = scalar_layer(0.5, 0.0);

  // w: d = 0.5 + 0.1 · 1 = 0.6, buf = 0.6, w = 1 - 0.1 · 0.6 = 0.94
  // b: d = 0 + 0.1 · -2 = -0.2, buf = -0.2, b = -2 + 0.02 = -1.98
  sgd.step(params, grads);
  CHECK(params.weight(0, 0) == Approx(0.94).epsilon(1e-14));
  CHECK(params.bias(0) == Approx(-1.98).epsilon(1e-14));
  CHECK(all_zero(grads));

  // w: d = -1 + 0.1 · 0.94 = -0.906, buf = 0.9 · 0.6 - 0.906 = -0.366, w = 0.94 + 0.0366 = 0.9766
  // b: d = 0.1 · -1.98 = -0.198, buf = 0.9 · -0.2 - 0.198 = -0.378, b = -1.98 + 0.0378 = -1.9422
  grads.weight(0, 0) = -1.0;
  sgd.step(params, grads);
  CHECK(params.weight(0, 0) == Approx(0.9766).epsilon(1e-14));
  CHECK(params.bias(0) == Approx(-1.9422).epsilon(1e-14));
}

TEST_CASE("optimiser options: the defaults are the reference's", "[optim]") {
  const glora::AdamW<float>::Options adam;
  CHECK(adam.lr() == 1e-4f);
  CHECK(adam.beta1() == 0.9f);
  CHECK(adam.beta2() == 0.999f);
  CHECK(adam.eps() == 1e-8f);
  CHECK(adam.weight_decay() == 1e-4f);

  const glora::SGD<float>::Options sgd;
  CHECK(sgd.lr() == 1e-2f);
  CHECK(sgd.momentum() == 0.9f);
  CHECK(sgd.weight_decay() == 0.0f);
}

TEST_CASE("AdamW: each option set by name reaches the arithmetic", "[optim]") {
  using Options = glora::AdamW<double>::Options;
  using R = AdamWReference;
  // Each case changes one option of a base with lr 0.1 (the default 1e-4
  // moves the parameters too little for the other options to show).
  R base_reference;
  base_reference.lr = 0.1;
  check_option_cases<glora::AdamW<double>, R>(
      Options().lr(0.1), base_reference,
      {{"lr", [](Options o) { return o.lr(0.02); }, [](R& r) { r.lr = 0.02; }},
       {"beta1", [](Options o) { return o.beta1(0.5); }, [](R& r) { r.beta1 = 0.5; }},
       {"beta2", [](Options o) { return o.beta2(0.9); }, [](R& r) { r.beta2 = 0.9; }},
       {"eps", [](Options o) { return o.eps(1e-6); }, [](R& r) { r.eps = 1e-6; }},
       {"weight_decay", [](Options o) { return o.weight_decay(0.5); },
        [](R& r) { r.weight_decay = 0.5; }}});
}

TEST_CASE("SGD: each option set by name reaches the arithmetic", "[optim]") {
  using Options = glora::SGD<double>::Options;
  using R = SGDReference;
  check_option_cases<glora::SGD<double>, R>(
      Options(), R(),
      {{"lr", [](Options o) { return o.lr(0.5); }, [](R& r) { r.lr = 0.5; }},
       {"momentum", [](Options o) { return o.momentum(0.0); }, [](R& r) { r.momentum = 0.0; }},
       {"weight_decay", [](Options o) { return o.weight_decay(0.3); },
        [](R& r) { r.weight_decay = 0.3; }}});
}

TEST_CASE("optimiser options out of range are refused by name", "[optim]") {
  using AdamOptions = glora::AdamW<double>::Options;
  using SGDOptions = glora::SGD<float>::Options;
  CHECK_THROWS_WITH(AdamOptions().lr(-1), "glora::AdamW: lr is -1, expected a value >= 0");
  CHECK_THROWS_WITH(AdamOptions().beta1(1.5),
                    "glora::AdamW: beta1 is 1.5, expected a value in [0, 1)");
  CHECK_THROWS_WITH(AdamOptions().beta2(1.0),
                    "glora::AdamW: beta2 is 1, expected a value in [0, 1)");
  CHECK_THROWS_WITH(AdamOptions().eps(-1e-8), "glora::AdamW: eps is -1e-08, expected a value >= 0");
  CHECK_THROWS_WITH(AdamOptions().weight_decay(std::nan("")),
                    "glora::AdamW: weight_decay is nan, expected a value >= 0");
  CHECK_THROWS_AS(AdamOptions().lr(-1), std::invalid_argument);
  CHECK_THROWS_WITH(SGDOptions().lr(-0.5f), "glora::SGD: lr is -0.5, expected a value >= 0");
  CHECK_THROWS_WITH(SGDOptions().momentum(-0.25f),
                    "glora::SGD: momentum is -0.25, expected a value >= 0");
  CHECK_THROWS_WITH(SGDOptions().weight_decay(-2.0f),
                    "glora::SGD: weight_decay is -2, expected a value >= 0");

  glora::AdamW<double> adam;
  CHECK_THROWS_WITH(adam.set_learning_rate(-1), "glora::AdamW: lr is -1, expected a value >= 0");
  CHECK(adam.learning_rate() == 1e-4);  // unchanged
}

TEST_CASE("optimisers: learning rate can be read and changed", "[optim]") {
  glora::AdamW<float> adam;
  CHECK(adam.learning_rate() == Approx(1e-4f));
  adam.set_learning_rate(0.5f);
  CHECK(adam.learning_rate() == 0.5f);
  CHECK(adam.options().lr() == 0.5f);

  glora::SGD<float> sgd;
  CHECK(sgd.learning_rate() == Approx(1e-2f));
  sgd.set_learning_rate(0.25f);
  CHECK(sgd.learning_rate() == 0.25f);
  CHECK(sgd.options().lr() == 0.25f);
}

TEST_CASE("step consumes the gradients: forward, backward, step needs no zeroing",
          "[optim][backward]") {
  // Three steps of plain gradient descent on a 2 x 3 Dense layer with the loss
  // L = Σ ½ (Y - T)², so dY = Y - T; the reference applies each step's own
  // gradient dY Xᵀ (and the row sums of dY for the bias), nothing older.
  std::mt19937 rng(21);
  const double lr = 0.1;
  glora::Dense<double> layer(glora_test::uniform_matrix(rng, 2, 3),
                             glora_test::uniform_matrix(rng, 2, 1));
  MatrixXd W = layer.weight;
  VectorXd b = layer.bias;
  glora::SGD<double> sgd(glora::SGD<double>::Options().lr(lr).momentum(0));
  auto grads = glora::zeros_like(layer);

  for (int step = 0; step < 3; ++step) {
    const MatrixXd X = glora_test::uniform_matrix(rng, 3, 4);
    const MatrixXd T = glora_test::uniform_matrix(rng, 2, 4);
    layer.backward(X, layer.forward(X) - T, grads);
    sgd.step(layer, grads);
    CHECK(all_zero(grads));

    const MatrixXd dY = ((W * X).colwise() + b) - T;
    W -= lr * dY * X.transpose();
    b -= lr * dY.rowwise().sum();
  }
  CHECK(layer.weight.isApprox(W, 1e-14));
  CHECK(layer.bias.isApprox(b, 1e-14));
}

TEST_CASE("several backward calls before one step add up (gradient accumulation)",
          "[optim][backward]") {
  std::mt19937 rng(22);
  const double lr = 0.1;
  const MatrixXd X1 = glora_test::uniform_matrix(rng, 3, 4);
  const MatrixXd X2 = glora_test::uniform_matrix(rng, 3, 2);
  const MatrixXd dY1 = glora_test::uniform_matrix(rng, 2, 4);
  const MatrixXd dY2 = glora_test::uniform_matrix(rng, 2, 2);
  glora::SGD<double> sgd(glora::SGD<double>::Options().lr(lr).momentum(0));

  SECTION("a Dense layer: weight -= lr (dY1 X1ᵀ + dY2 X2ᵀ)") {
    glora::Dense<double> layer(glora_test::uniform_matrix(rng, 2, 3),
                               glora_test::uniform_matrix(rng, 2, 1));
    const MatrixXd W = layer.weight;
    const VectorXd b = layer.bias;
    auto grads = glora::zeros_like(layer);
    layer.backward(X1, dY1, grads);
    layer.backward(X2, dY2, grads);
    sgd.step(layer, grads);
    CHECK(layer.weight.isApprox(W - lr * (dY1 * X1.transpose() + dY2 * X2.transpose()), 1e-14));
    CHECK(layer.bias.isApprox(b - lr * (dY1.rowwise().sum() + dY2.rowwise().sum()), 1e-14));
    CHECK(all_zero(grads));
  }
  SECTION("an adapter: ∂L/∂E = row sums of dY, ∂L/∂D = b0 · row sums of dY") {
    const MatrixXd W0 = glora_test::uniform_matrix(rng, 2, 3);
    const VectorXd b0 = glora_test::uniform_matrix(rng, 2, 1);
    glora::Linear<double, glora::None, glora::None, glora::None, glora::Scalar, glora::Vector>
        layer(W0, b0);
    layer.adapter().D.value = 0.25;
    layer.adapter().E.value = glora_test::uniform_matrix(rng, 2, 1);
    const VectorXd E = layer.adapter().E.value;
    auto grads = glora::zeros_like(layer.adapter());
    layer.backward(X1, dY1, grads);
    layer.backward(X2, dY2, grads);
    sgd.step(layer.adapter(), grads);
    const VectorXd row_sums = dY1.rowwise().sum() + dY2.rowwise().sum();
    CHECK(layer.adapter().E.value.isApprox(E - lr * row_sums, 1e-14));
    CHECK(layer.adapter().D.value == Approx(0.25 - lr * b0.dot(row_sums)).epsilon(1e-14));
    CHECK(grads.D.value == 0.0);
    CHECK((grads.E.value.array() == 0).all());
  }
}

TEST_CASE("optimisers refuse mismatched gradients and foreign parameter sets", "[optim]") {
  using Layer = glora::Linear<double, glora::LowRank<2>, glora::Vector>;
  Layer layer(MatrixXd::Ones(3, 4));
  Layer other(MatrixXd::Ones(5, 4));
  auto grads = glora::zeros_like(layer.adapter());
  auto wrong = glora::zeros_like(other.adapter());
  glora::for_each_tensor([](const char*, glora::Role, auto g) { g.setOnes(); }, wrong);
  glora::AdamW<double> adam;

  SECTION("gradients of other shapes: neither set changes") {
    const auto before = layer.adapter();
    const auto wrong_before = wrong;
    CHECK_THROWS_WITH(adam.step(layer.adapter(), wrong),
                      "glora::AdamW::step: gradient of Ad is 5 x 2, expected 3 x 2");
    glora::for_each_tensor([](const char*, glora::Role, auto a, auto b) { CHECK(a == b); },
                           layer.adapter(), before);
    glora::for_each_tensor([](const char*, glora::Role, auto a, auto b) { CHECK(a == b); }, wrong,
                           wrong_before);
  }
  SECTION("another parameter set after the first step") {
    adam.step(layer.adapter(), grads);
    CHECK_THROWS_WITH(adam.step(other.adapter(), wrong),
                      "glora::AdamW::step: tensor Ad (one optimiser per parameter set) is 5 x 2, "
                      "expected 3 x 2");
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
  CHECK_THROWS_WITH(glora::cosine_schedule(-1, 100, 10, 1.0),
                    "glora::cosine_schedule: needs 0 <= step and 0 <= warmup_steps <= total_steps");
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
  glora::AdamW<double> adam(glora::AdamW<double>::Options().weight_decay(0));
  constexpr int steps = 3000;
  MatrixXd Y(m, N), dY(m, N);
  layer.forward(X, Y);
  const double start = glora::mean_squared_error(Y, T, dY);
  double end = start;
  for (int step = 0; step < steps; ++step) {  // the loop as the README shows it: no zeroing
    adam.set_learning_rate(glora::cosine_schedule(step, steps, 100, 0.05));
    layer.forward(X, Y);
    end = glora::mean_squared_error(Y, T, dY);
    layer.backward(X, dY, grads);
    adam.step(layer.adapter(), grads);
  }
  layer.forward(X, Y);
  end = glora::mean_squared_error(Y, T, dY);
  INFO("loss " << start << " -> " << end);
  CHECK(end < 1e-10 * start);

  const glora::Dense<double> merged = layer.merge();
  CHECK((merged.forward(X) - layer.forward(X)).cwiseAbs().maxCoeff() < 1e-12);
}
