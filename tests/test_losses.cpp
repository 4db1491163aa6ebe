// Losses: mean squared error and softmax cross-entropy against values worked
// out by hand or computed with PyTorch, their gradients against central
// differences, logits large enough to overflow a naive exp, the gradient
// written over the output's own storage, row-major storage used as it is,
// and the refusals (whole messages).
#include "gradient_checks.hpp"

#include <glora/losses.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

using glora_test::central_difference;
using glora_test::MatrixXd;

TEST_CASE("mean_squared_error: the mean over all entries, as torch's mse_loss", "[losses]") {
  MatrixXd Y(2, 3), T(2, 3);
  Y << 1.0, 2.0, -1.0,  //
      0.5, 0.0, 3.0;
  T << 0.0, 2.5, -1.0,  //
      1.0, -1.0, 1.0;
  // Y - T = [1, -0.5, 0; -0.5, 1, 2]: squares sum to 6.5 over 6 entries;
  // the gradient is 2 (Y - T) / 6 (torch.nn.functional.mse_loss gives the same).
  MatrixXd expected_gradient(2, 3);
  expected_gradient << 1.0 / 3, -0.5 / 3, 0.0,  //
      -0.5 / 3, 1.0 / 3, 2.0 / 3;

  SECTION("into caller storage") {
    MatrixXd dY(2, 3);
    CHECK(glora::mean_squared_error(Y, T, dY) == Approx(6.5 / 6).epsilon(1e-15));
    CHECK(dY.isApprox(expected_gradient, 1e-15));
  }
  SECTION("into new storage") {
    const glora::LossAndGradient<double> result = glora::mean_squared_error(Y, T);
    CHECK(result.loss == Approx(6.5 / 6).epsilon(1e-15));
    CHECK(result.gradient.isApprox(expected_gradient, 1e-15));
  }
  SECTION("over Y itself") {
    CHECK(glora::mean_squared_error(Y, T, Y) == Approx(6.5 / 6).epsilon(1e-15));
    CHECK(Y.isApprox(expected_gradient, 1e-15));
  }
  SECTION("row-major Y, target and dY, each used as it is") {
    const glora::RowMajorMatrixX<double> Y_rows = Y, T_rows = T;
    glora::RowMajorMatrixX<double> dY(2, 3);
    CHECK(glora::mean_squared_error(Y_rows, T_rows, dY) == Approx(6.5 / 6).epsilon(1e-15));
    CHECK(dY.isApprox(expected_gradient, 1e-15));
    MatrixXd into_blocks = MatrixXd::Zero(4, 3);  // a writable block of other storage
    CHECK(glora::mean_squared_error(Y_rows, T, into_blocks.bottomRows(2)) ==
          Approx(6.5 / 6).epsilon(1e-15));
    CHECK(into_blocks.bottomRows(2).isApprox(expected_gradient, 1e-15));
    CHECK(into_blocks.topRows(2).isZero(0));
  }
}

TEST_CASE("mean_squared_error: the gradient matches central differences", "[losses]") {
  std::mt19937 rng(31);
  MatrixXd Y = glora_test::uniform_matrix(rng, 4, 5);
  const MatrixXd T = glora_test::uniform_matrix(rng, 4, 5);
  MatrixXd dY(4, 5), scratch(4, 5);  // quadratic: the central difference is exact
  glora::mean_squared_error(Y, T, dY);
  const MatrixXd numeric =
      central_difference(Y, [&] { return glora::mean_squared_error(Y, T, scratch); });
  CHECK(glora_test::relative_error(dY, numeric) < 1e-9);
}

TEST_CASE("softmax_cross_entropy: values and gradient as torch's cross_entropy", "[losses]") {
  // Classes are rows, samples are columns (torch takes the transpose).
  MatrixXd logits(3, 4);
  logits << 0.5, -1.0, 2.0, 0.0,  //
      1.5, 0.25, -0.5, 0.0,       //
      -2.0, 3.0, 0.75, 0.0;
  const std::vector<int> labels = {1, 2, 0, 1};
  // torch.nn.functional.cross_entropy(logits.t(), labels) in float64 (PyTorch
  // 1.13) and the gradient it backpropagates into logits:
  const double expected_loss = 0.45663173723140865;
  MatrixXd expected_gradient(3, 4);
  expected_gradient << 0.06578312341282408, 0.00423094222490570, -0.06733021769932782,
      0.08333333333333333,                                                                   //
      -0.07118293100764153, 0.01476743939812756, 0.01499444882877857, -0.16666666666666669,  //
      0.00539980759481743, -0.01899838162303327, 0.05233576887054923, 0.08333333333333333;

  SECTION("labels in a std::vector, into caller storage") {
    MatrixXd dlogits(3, 4);
    CHECK(glora::softmax_cross_entropy(logits, labels, dlogits) ==
          Approx(expected_loss).epsilon(1e-15));
    CHECK(dlogits.isApprox(expected_gradient, 1e-14));
  }
  SECTION("labels in an Eigen::VectorXi, into new storage") {
    const Eigen::VectorXi eigen_labels = Eigen::Map<const Eigen::VectorXi>(labels.data(), 4);
    const glora::LossAndGradient<double> result =
        glora::softmax_cross_entropy(logits, eigen_labels);
    CHECK(result.loss == Approx(expected_loss).epsilon(1e-15));
    CHECK(result.gradient.isApprox(expected_gradient, 1e-14));
  }
  SECTION("over the logits' own storage") {
    CHECK(glora::softmax_cross_entropy(logits, labels, logits) ==
          Approx(expected_loss).epsilon(1e-15));
    CHECK(logits.isApprox(expected_gradient, 1e-14));
  }
  SECTION("row-major logits and dlogits, used as they are") {
    const glora::RowMajorMatrixX<double> logits_rows = logits;
    glora::RowMajorMatrixX<double> dlogits(3, 4);
    CHECK(glora::softmax_cross_entropy(logits_rows, labels, dlogits) ==
          Approx(expected_loss).epsilon(1e-15));
    CHECK(dlogits.isApprox(expected_gradient, 1e-14));
  }
  SECTION("in float") {
    const glora::MatrixX<float> logits_f = logits.cast<float>();
    const glora::LossAndGradient<float> result = glora::softmax_cross_entropy(logits_f, labels);
    CHECK(result.loss == Approx(expected_loss).epsilon(1e-6));
    CHECK(result.gradient.cast<double>().isApprox(expected_gradient, 1e-5));
  }
}

TEST_CASE("softmax_cross_entropy: the gradient matches central differences", "[losses]") {
  std::mt19937 rng(32);
  MatrixXd logits = 3.0 * glora_test::uniform_matrix(rng, 5, 6);
  const std::vector<int> labels = {4, 0, 2, 2, 1, 3};
  MatrixXd dlogits(5, 6), scratch(5, 6);
  glora::softmax_cross_entropy(logits, labels, dlogits);
  const MatrixXd numeric = central_difference(
      logits, [&] { return glora::softmax_cross_entropy(logits, labels, scratch); });
  // The loss is not quadratic: the central difference (step 1e-3) is off by
  // O(step²) from the derivative.
  CHECK(glora_test::relative_error(dlogits, numeric) < 1e-6);
}

TEST_CASE("softmax_cross_entropy: logits that overflow exp stay finite (log-sum-exp)", "[losses]") {
  // Column 0: (1000, 1000, 999), label 0: loss log(e⁰ + e⁰ + e⁻¹) = log(2 + 1/e),
  //   softmax (1, 1, 1/e) / (2 + 1/e).
  // Column 1: (-1000, 10000, 0), label 1: loss 0 and gradient 0 to double precision.
  const double e = std::exp(1.0);
  const double z = 2 + 1 / e;
  const std::vector<int> labels = {0, 1};

  MatrixXd logits(3, 2);
  logits << 1000, -1000,  //
      1000, 1e4,          //
      999, 0;
  MatrixXd expected(3, 2);
  expected << (1 / z - 1) / 2, 0,  //
      1 / z / 2, 0,                //
      1 / e / z / 2, 0;

  const glora::LossAndGradient<double> result = glora::softmax_cross_entropy(logits, labels);
  CHECK(result.loss == Approx(std::log(z) / 2).epsilon(1e-15));
  CHECK(result.gradient.isApprox(expected, 1e-15));

  const glora::LossAndGradient<float> single =
      glora::softmax_cross_entropy(glora::MatrixX<float>(logits.cast<float>()), labels);
  CHECK(single.loss == Approx(std::log(z) / 2).epsilon(1e-6));
  CHECK(single.gradient.allFinite());
  CHECK(single.gradient.cast<double>().isApprox(expected, 1e-6));
}

TEST_CASE("losses refuse shapes and labels that do not fit, writing nothing", "[losses]") {
  const MatrixXd Y = MatrixXd::Ones(4, 3);
  MatrixXd dY = MatrixXd::Constant(4, 3, 7.0);
  const auto untouched = [&dY] { return (dY.array() == 7.0).all(); };

  SECTION("mean_squared_error") {
    MatrixXd wrong(4, 2);
    CHECK_THROWS_WITH(
        glora::mean_squared_error(Y, MatrixXd::Ones(3, 3), dY),
        "glora::mean_squared_error: target is 3 x 3, expected 4 x 3 (the shape of Y)");
    CHECK_THROWS_WITH(glora::mean_squared_error(Y, Y, wrong),
                      "glora::mean_squared_error: dY is 4 x 2, expected 4 x 3 (the shape of Y)");
    MatrixXd empty(4, 0);
    CHECK_THROWS_WITH(glora::mean_squared_error(empty, empty, empty),
                      "glora::mean_squared_error: Y is 4 x 0, expected at least one entry (the "
                      "loss is a mean over the entries)");
    CHECK_THROWS_AS(glora::mean_squared_error(Y, MatrixXd::Ones(3, 3)), glora::shape_error);
    CHECK(untouched());
  }
  SECTION("softmax_cross_entropy") {
    CHECK_THROWS_WITH(glora::softmax_cross_entropy(Y, std::vector<int>{0, 1}, dY),
                      "glora::softmax_cross_entropy: labels has 2 entries, expected 3 (one per "
                      "column of logits)");
    CHECK_THROWS_WITH(glora::softmax_cross_entropy(Y, std::vector<int>{0, 4, 1}, dY),
                      "glora::softmax_cross_entropy: labels[1] is 4, expected 0 <= label < 4 (one "
                      "row of logits per class)");
    CHECK_THROWS_WITH(glora::softmax_cross_entropy(Y, std::vector<int>{0, 1, -1}, dY),
                      "glora::softmax_cross_entropy: labels[2] is -1, expected 0 <= label < 4 (one "
                      "row of logits per class)");
    MatrixXd wrong(3, 3);
    CHECK_THROWS_WITH(glora::softmax_cross_entropy(Y, std::vector<int>{0, 1, 2}, wrong),
                      "glora::softmax_cross_entropy: dlogits is 3 x 3, expected 4 x 3 (the shape "
                      "of logits)");
    MatrixXd empty(4, 0);
    CHECK_THROWS_WITH(glora::softmax_cross_entropy(empty, std::vector<int>{}, empty),
                      "glora::softmax_cross_entropy: logits is 4 x 0, expected at least one "
                      "column (the loss is a mean over the columns)");
    CHECK_THROWS_AS(glora::softmax_cross_entropy(Y, Eigen::VectorXi::Zero(2)), glora::shape_error);
    CHECK(untouched());
  }
}
