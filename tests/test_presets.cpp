// The presets compute what the methods they are named after compute, written
// out plainly: LoRA, SSF-style scale and shift, and a learned input prompt;
// the view presets over a model's own weights, merged back into them.
#include "gradient_checks.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <random>

namespace {

using glora_test::MatrixXd;
using glora_test::uniform_matrix;
using glora_test::VectorXd;

constexpr Eigen::Index m = 5, n = 7, N = 3;

}  // namespace

TEST_CASE("LoRA: y = (W0 + down · up) x + b0", "[presets]") {
  std::mt19937 rng(1);
  const MatrixXd W0 = uniform_matrix(rng, m, n);
  const VectorXd b0 = uniform_matrix(rng, m, 1);
  glora::LoRA<double, 2> layer(W0, b0);
  layer.adapter().B.down = uniform_matrix(rng, m, 2);
  layer.adapter().B.up = uniform_matrix(rng, 2, n);
  const MatrixXd X = uniform_matrix(rng, n, N);

  const MatrixXd W = W0 + layer.adapter().B.down * layer.adapter().B.up;
  const MatrixXd expected = (W * X).colwise() + b0;
  CHECK(layer.forward(X).isApprox(expected, 1e-14));
  CHECK(glora::parameter_count(layer.adapter()) == 2 * (m + n));
}

TEST_CASE("ScaleShift: y = γ ⊙ (W0 x + b0) + β, as SSF", "[presets]") {
  std::mt19937 rng(2);
  const MatrixXd W0 = uniform_matrix(rng, m, n);
  const VectorXd b0 = uniform_matrix(rng, m, 1);
  const VectorXd gamma = uniform_matrix(rng, m, 1);
  const VectorXd beta = uniform_matrix(rng, m, 1);
  glora::ScaleShift<double> layer(W0, b0);
  layer.adapter().A.value = gamma.array() - 1;
  layer.adapter().D.value = gamma.array() - 1;
  layer.adapter().E.value = beta;
  const MatrixXd X = uniform_matrix(rng, n, N);

  const MatrixXd expected =
      (((W0 * X).colwise() + b0).array().colwise() * gamma.array()).matrix().colwise() + beta;
  CHECK(layer.forward(X).isApprox(expected, 1e-14));
  CHECK(glora::parameter_count(layer.adapter()) == 3 * m);
}

TEST_CASE("Prompt: the frozen layer applied to x + c", "[presets]") {
  std::mt19937 rng(3);
  const glora::Dense<double> frozen(uniform_matrix(rng, m, n), uniform_matrix(rng, m, 1));
  const VectorXd c = uniform_matrix(rng, n, 1);
  glora::Prompt<double> layer(frozen.weight, frozen.bias);
  layer.adapter().C.value = c;
  const MatrixXd X = uniform_matrix(rng, n, N);

  const MatrixXd prompted = X.colwise() + c;
  CHECK(layer.forward(X).isApprox(frozen.forward(prompted), 1e-14));
  // The same as a constant shift W0 c of the frozen layer's output.
  const MatrixXd shifted = frozen.forward(X).colwise() + frozen.weight * c;
  CHECK(layer.forward(X).isApprox(shifted, 1e-14));
  CHECK(glora::parameter_count(layer.adapter()) == n);
}

// The view presets adapt a model's own storage: forward gives the method's
// output, and merge_in_place() writes the merged layer into the model.
namespace {

struct Model {
  MatrixXd W;
  VectorXd b;
};

Model random_model(std::mt19937& rng) {
  return {uniform_matrix(rng, m, n), uniform_matrix(rng, m, 1)};
}

// Checks the view's output before the merge and the model's weights after it
// against the expected merged layer (W, b), computed plainly by the caller.
template <class View>
void check_merges_into_model(View& view, Model& model, const MatrixXd& W, const VectorXd& b,
                             std::mt19937& rng) {
  const MatrixXd X = uniform_matrix(rng, n, N);
  const MatrixXd expected = (W * X).colwise() + b;
  CHECK(view.forward(X).isApprox(expected, 1e-14));
  view.merge_in_place();
  CHECK(model.W.isApprox(W, 1e-14));
  CHECK(model.b.isApprox(b, 1e-14));
  CHECK(view.forward(X).isApprox(expected, 1e-14));  // the view now reads the merged model
}

}  // namespace

TEST_CASE("LoRAView: LoRA over the model's own weights, merged into them", "[presets]") {
  std::mt19937 rng(4);
  Model model = random_model(rng);
  const Model frozen = model;
  glora::LoRAView<double, 2> view(model.W, model.b);
  REQUIRE(view.weight().data() == model.W.data());
  view.adapter().B.down = uniform_matrix(rng, m, 2);
  view.adapter().B.up = uniform_matrix(rng, 2, n);
  const MatrixXd W = frozen.W + view.adapter().B.down * view.adapter().B.up;
  check_merges_into_model(view, model, W, frozen.b, rng);
  CHECK(glora::parameter_count(view.adapter()) == 2 * (m + n));
}

TEST_CASE("ScaleShiftView: γ ⊙ (W0 x + b0) + β over the model's own weights", "[presets]") {
  std::mt19937 rng(5);
  Model model = random_model(rng);
  const Model frozen = model;
  const VectorXd gamma = uniform_matrix(rng, m, 1);
  const VectorXd beta = uniform_matrix(rng, m, 1);
  glora::ScaleShiftView<double> view(model.W, model.b);
  view.adapter().A.value = gamma.array() - 1;
  view.adapter().D.value = gamma.array() - 1;
  view.adapter().E.value = beta;
  const MatrixXd W = gamma.asDiagonal() * frozen.W;
  const VectorXd b = (gamma.array() * frozen.b.array()).matrix() + beta;
  check_merges_into_model(view, model, W, b, rng);
}

TEST_CASE("PromptView: W0 (x + c) + b0 over the model's own weights", "[presets]") {
  std::mt19937 rng(6);
  Model model = random_model(rng);
  const Model frozen = model;
  const VectorXd c = uniform_matrix(rng, n, 1);
  glora::PromptView<double> view(model.W, model.b);
  view.adapter().C.value = c;
  check_merges_into_model(view, model, frozen.W, frozen.b + frozen.W * c, rng);
}
