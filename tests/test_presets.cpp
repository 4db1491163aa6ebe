// The presets compute what the methods they are named after compute, written
// out plainly: LoRA, SSF-style scale and shift, and a learned input prompt.
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
