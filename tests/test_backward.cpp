// backward(): gradients of every support tensor and of the input against
// central finite differences (see gradient_checks.hpp) for every kind in
// every slot, with and without bias, on shapes down to 1 x 1 and batch 1;
// accumulation, caller storage, LinearView and Dense; shape errors.
#include "gradient_checks.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <limits>
#include <random>
#include <tuple>

namespace {

using glora::LowRank;
using glora::None;
using glora::Scalar;
using glora::Vector;
using glora_test::MatrixXd;
using glora_test::VectorXd;

// Between them, every kind each slot allows (C's Scalar included), with
// ranks that exceed the smaller shapes below.
template <class... Kinds>
struct Config {};
using Configs =
    std::tuple<Config<LowRank<2>, LowRank<3>, LowRank<2>, Vector, Vector>,
               Config<Vector, Vector, Vector, Scalar, Scalar>,
               Config<Scalar, Scalar, Scalar, Vector, None>,
               Config<LowRank<1>, None, None, None, Scalar>, Config<None, None, None, None, None>>;

struct Shape {
  Eigen::Index m, n, N;
};
constexpr Shape shapes[] = {{1, 1, 1}, {1, 4, 3}, {5, 1, 1}, {6, 4, 1}, {5, 7, 3}};

template <class KA, class KB, class KC, class KD, class KE>
void check_all_shapes(Config<KA, KB, KC, KD, KE>) {
  std::mt19937 rng(11);
  for (const Shape& s : shapes) {
    for (const bool with_bias : {true, false}) {
      glora_test::check_linear_backward<KA, KB, KC, KD, KE>(rng, s.m, s.n, s.N, with_bias);
    }
  }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("backward matches finite differences on every shape", "[backward]",
                        Configs) {
  check_all_shapes(TestType{});
}

TEST_CASE("LinearView::backward matches finite differences", "[backward]") {
  std::mt19937 rng(5);
  MatrixXd W0 = glora_test::uniform_matrix(rng, 4, 3);
  VectorXd b0 = glora_test::uniform_matrix(rng, 4, 1);
  glora::LinearView<double, Vector, LowRank<2>, Vector, Scalar, Vector> view(W0, b0);
  glora_test::randomize(view.adapter(), rng);
  glora_test::check_backward(view, view.adapter(), glora_test::uniform_matrix(rng, 3, 2),
                             glora_test::uniform_matrix(rng, 4, 2));
}

TEST_CASE("LinearView::backward over a block of a larger matrix, in either storage order",
          "[backward]") {
  // W0's stride exceeds its extent, and the backward reads it both as W0 and
  // as W0ᵀ (the other storage order): at batch 1 through the streaming
  // kernels, at batch 5 through GEMM.
  using View = glora::LinearView<double, LowRank<2>, LowRank<2>, LowRank<2>, Vector, Vector>;
  std::mt19937 rng(8);
  const Eigen::Index m = 5, n = 4;
  for (const Eigen::Index N : {1, 5}) {
    INFO("batch " << N);
    MatrixXd columns = glora_test::uniform_matrix(rng, m + 3, n + 2);
    glora::RowMajorMatrixX<double> rows = glora_test::uniform_matrix(rng, m + 3, n + 2);
    // The padding is NaN: a read past W0's extent would show in every check.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    columns.bottomRows(3).setConstant(nan);
    columns.rightCols(2).setConstant(nan);
    rows.bottomRows(3).setConstant(nan);
    rows.rightCols(2).setConstant(nan);
    VectorXd b0 = glora_test::uniform_matrix(rng, m, 1);
    const MatrixXd X = glora_test::uniform_matrix(rng, n, N);
    const MatrixXd R = glora_test::uniform_matrix(rng, m, N);
    View column_major(columns.topLeftCorner(m, n), b0);
    View row_major(rows.topLeftCorner(m, n), b0);
    REQUIRE(!column_major.weight_is_row_major());
    REQUIRE(row_major.weight_is_row_major());
    glora_test::randomize(column_major.adapter(), rng);
    row_major.adapter() = column_major.adapter();
    {
      INFO("column-major W0, column stride " << columns.outerStride());
      glora_test::check_backward(column_major, column_major.adapter(), X, R);
    }
    {
      INFO("row-major W0, row stride " << rows.outerStride());
      glora_test::check_backward(row_major, row_major.adapter(), X, R);
    }
  }
}

TEST_CASE("Dense::backward matches finite differences", "[backward]") {
  std::mt19937 rng(6);
  for (const Shape& s : shapes) {
    glora::Dense<double> dense(glora_test::uniform_matrix(rng, s.m, s.n),
                               glora_test::uniform_matrix(rng, s.m, 1));
    glora_test::check_backward(dense, dense, glora_test::uniform_matrix(rng, s.n, s.N),
                               glora_test::uniform_matrix(rng, s.m, s.N));
  }
}

TEST_CASE("backward adds to the gradients and agrees across its overloads", "[backward]") {
  std::mt19937 rng(8);
  using Layer = glora::Linear<double, LowRank<2>, Vector, LowRank<1>, Vector, Scalar>;
  Layer layer(glora_test::uniform_matrix(rng, 5, 4), glora_test::uniform_matrix(rng, 5, 1));
  glora_test::randomize(layer.adapter(), rng);
  const MatrixXd X = glora_test::uniform_matrix(rng, 4, 3);
  const MatrixXd dY = glora_test::uniform_matrix(rng, 5, 3);

  auto fresh = glora::zeros_like(layer.adapter());
  const MatrixXd dX = layer.backward(X, dY, fresh);

  auto start = layer.adapter();
  glora_test::randomize(start, rng);
  auto accumulated = start;
  MatrixXd dX_into(4, 3);
  glora::BackwardWorkspace<double> workspace;
  layer.backward(X, dY, accumulated, dX_into, workspace);

  CHECK(dX_into.isApprox(dX, 1e-14));
  glora::for_each_tensor(
      [](const char* name, glora::Role, auto sum, auto before, auto gradient) {
        INFO(name);
        CHECK(sum.isApprox(before + gradient, 1e-14));
      },
      accumulated, start, fresh);
}

TEST_CASE("an empty batch adds nothing and returns an empty dX", "[backward]") {
  glora::Linear<double, LowRank<2>, Vector, LowRank<1>, Vector, Scalar> layer(MatrixXd::Ones(4, 3),
                                                                              VectorXd::Ones(4));
  auto grads = glora::zeros_like(layer.adapter());
  const MatrixXd dX = layer.backward(MatrixXd(3, 0), MatrixXd(4, 0), grads);
  CHECK(dX.rows() == 3);
  CHECK(dX.cols() == 0);
  glora::for_each_tensor([](const char*, glora::Role, auto g) { CHECK(g.isZero()); }, grads);

  glora::Dense<double> dense(MatrixXd::Ones(4, 3), VectorXd::Ones(4));
  auto dense_grads = glora::zeros_like(dense);
  CHECK(dense.backward(MatrixXd(3, 0), MatrixXd(4, 0), dense_grads).cols() == 0);
  CHECK(dense_grads.weight.isZero());
  CHECK(dense_grads.bias.isZero());
}

TEST_CASE("backward in float agrees with double", "[backward]") {
  std::mt19937 rng(9);
  const MatrixXd W0 = glora_test::uniform_matrix(rng, 6, 5);
  const VectorXd b0 = glora_test::uniform_matrix(rng, 6, 1);
  glora::Linear<double, LowRank<2>, Vector, Vector, Vector, Scalar> exact(W0, b0);
  glora::Linear<float, LowRank<2>, Vector, Vector, Vector, Scalar> single(W0.cast<float>(),
                                                                          b0.cast<float>());
  glora_test::randomize(exact.adapter(), rng);
  glora::for_each_tensor(
      [](const char*, glora::Role, auto f, auto d) { f = d.template cast<float>(); },
      single.adapter(), exact.adapter());
  const MatrixXd X = glora_test::uniform_matrix(rng, 5, 4);
  const MatrixXd dY = glora_test::uniform_matrix(rng, 6, 4);

  auto g_exact = glora::zeros_like(exact.adapter());
  auto g_single = glora::zeros_like(single.adapter());
  const MatrixXd dX = exact.backward(X, dY, g_exact);
  const glora::MatrixX<float> dX_single =
      single.backward(X.cast<float>(), dY.cast<float>(), g_single);
  CHECK(dX_single.cast<double>().isApprox(dX, 1e-5));
  glora::for_each_tensor(
      [](const char* name, glora::Role, auto f, auto d) {
        INFO(name);
        CHECK(f.template cast<double>().isApprox(d, 1e-5));
      },
      g_single, g_exact);
}

TEST_CASE("backward checks every shape before writing anything", "[backward][errors]") {
  using Layer = glora::Linear<double, LowRank<2>, Vector, Vector, Scalar, Vector>;
  Layer layer(MatrixXd::Ones(3, 4), VectorXd::Ones(3));
  const auto sentinel = [](auto& params) {
    glora::for_each_tensor([](const char*, glora::Role, auto t) { t.setConstant(7); }, params);
  };
  auto grads = glora::zeros_like(layer.adapter());
  sentinel(grads);
  const auto untouched = grads;
  MatrixXd dX = MatrixXd::Constant(4, 2, 7);
  const MatrixXd X = MatrixXd::Ones(4, 2);
  const MatrixXd dY = MatrixXd::Ones(3, 2);

  CHECK_THROWS_WITH(layer.backward(MatrixXd::Ones(5, 2), dY, grads, dX),
                    "glora::Linear::backward: X is 5 x 2, expected 4 rows (in_features)");
  CHECK_THROWS_WITH(layer.backward(X, MatrixXd::Ones(3, 1), grads, dX),
                    "glora::Linear::backward: dY is 3 x 1, expected 3 x 2");
  MatrixXd small_dX(4, 1);
  CHECK_THROWS_WITH(layer.backward(X, dY, grads, small_dX),
                    "glora::Linear::backward: dX is 4 x 1, expected 4 x 2");
  auto misshapen = grads;
  misshapen.A.up.resize(2, 5);
  CHECK_THROWS_WITH(layer.backward(X, dY, misshapen, dX),
                    "glora::Linear::backward: grads.A.up (Au) is 2 x 5, expected 2 x 4");
  CHECK_THROWS_AS(layer.backward(X, dY, misshapen), glora::shape_error);

  CHECK(dX == MatrixXd::Constant(4, 2, 7));
  glora::for_each_tensor([](const char*, glora::Role, auto a, auto b) { CHECK(a == b); }, grads,
                         untouched);

  glora::Dense<double> dense(MatrixXd::Ones(3, 4), VectorXd::Ones(3));
  auto dense_grads = glora::zeros_like(dense);
  dense_grads.bias.resize(2);
  CHECK_THROWS_WITH(dense.backward(X, dY, dense_grads),
                    "glora::Dense::backward: grads.bias is 2 x 1, expected 3 x 1");
  dense_grads.bias.setZero(3);
  CHECK_THROWS_WITH(dense.backward(X, MatrixXd::Ones(2, 2), dense_grads),
                    "glora::Dense::backward: dY is 2 x 2, expected 3 x 2");
  CHECK(dense_grads.weight.isZero());
}

TEST_CASE("parameter_count, zeros_like and set_zero work on Dense too", "[backward]") {
  glora::Dense<float> dense(glora::MatrixX<float>::Ones(3, 4), glora::VectorX<float>::Ones(3));
  CHECK(glora::parameter_count(dense) == 15);
  const auto zeros = glora::zeros_like(dense);
  CHECK(zeros.weight.rows() == 3);
  CHECK(zeros.weight.cols() == 4);
  CHECK(zeros.weight.isZero());
  CHECK(zeros.bias.size() == 3);
  CHECK(zeros.bias.isZero());

  glora::set_zero(dense);
  CHECK(dense.weight.rows() == 3);
  CHECK(dense.weight.isZero());
  CHECK(dense.bias.isZero());
}
