// Small layers whose outputs are worked out by hand from the formula of
// docs/contract.md, "The layer":
//
//     W = W0 + W0 (.) A + B          ((.) is the elementwise product)
//     b = b0 + b0 (.) D + E + W0 c   (no bias: b = E + W0 c, D has no effect)
//     y = W x + b
//
// Every number below is a short dyadic fraction, so every evaluation order
// gives it exactly, in float as in double. Each case notes which misreadings
// of the formula it tells apart.
#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <initializer_list>

namespace {

using Rows = std::initializer_list<std::initializer_list<double>>;

template <class Derived>
void check_values(const Eigen::MatrixBase<Derived>& actual, Rows expected) {
  REQUIRE(actual.rows() == static_cast<Eigen::Index>(expected.size()));
  Eigen::Index i = 0;
  for (const auto& row : expected) {
    REQUIRE(actual.cols() == static_cast<Eigen::Index>(row.size()));
    Eigen::Index j = 0;
    for (const double e : row) {
      INFO("entry (" << i << ", " << j << ")");
      CHECK(static_cast<double>(actual(i, j)) == e);
      ++j;
    }
    ++i;
  }
}

template <class Derived>
void check_vector(const Eigen::MatrixBase<Derived>& actual,
                  std::initializer_list<double> expected) {
  REQUIRE(actual.cols() == 1);
  REQUIRE(actual.rows() == static_cast<Eigen::Index>(expected.size()));
  Eigen::Index i = 0;
  for (const double e : expected) {
    INFO("entry " << i);
    CHECK(static_cast<double>(actual(i)) == e);
    ++i;
  }
}

// Checks a layer's forward(X), forward(X, Y), merge() and merge_into()
// against hand-worked W, b and Y.
template <class Layer, class T>
void check_layer(const Layer& layer, const glora::MatrixX<T>& X, Rows W,
                 std::initializer_list<double> b, Rows Y) {
  check_values(layer.forward(X), Y);

  glora::MatrixX<T> Y_out = glora::MatrixX<T>::Zero(layer.out_features(), X.cols());
  layer.forward(X, Y_out);
  check_values(Y_out, Y);

  const glora::Dense<T> merged = layer.merge();
  check_values(merged.weight, W);
  check_vector(merged.bias, b);
  check_values(merged.forward(X), Y);

  glora::MatrixX<T> W_out = glora::MatrixX<T>::Zero(layer.out_features(), layer.in_features());
  glora::VectorX<T> b_out = glora::VectorX<T>::Zero(layer.out_features());
  layer.merge_into(W_out, b_out);
  check_values(W_out, W);
  check_vector(b_out, b);
}

}  // namespace

TEMPLATE_TEST_CASE(
    "2 x 3 layer: LowRank<1> A, Vector B, LowRank<1> C, Vector D, "
    "Scalar E",
    "[reference]", float, double) {
  using T = TestType;
  glora::MatrixX<T> W0(2, 3);
  W0 << 1, 2, 3,  //
      4, 5, 6;
  glora::VectorX<T> b0(2);
  b0 << 1, -1;
  glora::Linear<T, glora::LowRank<1>, glora::Vector, glora::LowRank<1>, glora::Vector,
                glora::Scalar>
      layer(W0, b0);
  auto& ad = layer.adapter();
  ad.A.down << 1, 2;      // Ad: 2 x 1
  ad.A.up << 1, 0, -1;    // Au: 1 x 3
  ad.B.value << 0.5, -1;  // B[i][j] = v[i]
  ad.C.down << 1, 0, 2;   // Cd: 3 x 1
  ad.C.up << 0.5;         // Cu: 1 x 1
  ad.D.value << 2, 3;
  ad.E.value = T(0.25);

  // A = Ad Au = [1 0 -1; 2 0 -2]
  // W0 (.) A  = [1*1 2*0 3*(-1); 4*2 5*0 6*(-2)] = [1 0 -3; 8 0 -12]
  // B         = [0.5 0.5 0.5; -1 -1 -1]
  // W = W0 + W0 (.) A + B = [1+1+0.5  2+0+0.5  3-3+0.5;  4+8-1  5+0-1  6-12-1]
  //                       = [2.5 2.5 0.5; 11 4 -7]
  // c = Cd Cu = [0.5 0 1];  W0 c = [0.5+0+3; 2+0+6] = [3.5; 8]
  // b0 (.) D = [1*2; -1*3] = [2; -3]
  // b = b0 + b0 (.) D + E + W0 c = [1+2+0.25+3.5; -1-3+0.25+8] = [6.75; 4.25]
  // x1 = [1 0 2]:  W x1 = [2.5+0+1; 11+0-14] = [3.5; -3]  -> y1 = [10.25; 1.25]
  // x2 = [0 1 -1]: W x2 = [2.5-0.5; 4+7]    = [2; 11]    -> y2 = [8.75; 15.25]
  //
  // Misreadings: W0 + A instead of W0 (.) A gives W(0,2) = 2.5; b0 + D
  // instead of b0 + b0 (.) D gives b(1) = 10.25; ignoring Cu gives W0 c =
  // [7; 16].
  glora::MatrixX<T> X(3, 2);
  X << 1, 0,  //
      0, 1,   //
      2, -1;
  check_layer(layer, X, {{2.5, 2.5, 0.5}, {11, 4, -7}}, {6.75, 4.25},
              {{10.25, 8.75}, {1.25, 15.25}});
}

TEMPLATE_TEST_CASE(
    "2 x 2 layer: LowRank<2> A, Scalar B, Vector C, Scalar D, "
    "Vector E",
    "[reference]", float, double) {
  using T = TestType;
  glora::MatrixX<T> W0(2, 2);
  W0 << 1, 2,  //
      3, 4;
  glora::VectorX<T> b0(2);
  b0 << 2, -1;
  glora::Linear<T, glora::LowRank<2>, glora::Scalar, glora::Vector, glora::Scalar, glora::Vector>
      layer(W0, b0);
  auto& ad = layer.adapter();
  ad.A.down << 1, 1,  // Ad: 2 x 2
      0, 2;
  ad.A.up << 1, 0,  // Au: 2 x 2
      0.5, -1;
  ad.B.value = T(-0.5);
  ad.C.value << 1, -2;
  ad.D.value = T(0.5);
  ad.E.value << 0.25, 0.75;

  // A = Ad Au = [1*1+1*0.5  1*0+1*(-1); 0*1+2*0.5  0*0+2*(-1)] = [1.5 -1; 1 -2]
  // W0 (.) A  = [1*1.5 2*(-1); 3*1 4*(-2)] = [1.5 -2; 3 -8]
  // W = W0 + W0 (.) A + B = [1+1.5-0.5  2-2-0.5; 3+3-0.5  4-8-0.5]
  //                       = [2 -0.5; 5.5 -4.5]
  // c = [1 -2];  W0 c = [1-4; 3-8] = [-3; -5]
  // b0 (.) D = [2*0.5; -1*0.5] = [1; -0.5]
  // b = [2+1+0.25-3; -1-0.5+0.75-5] = [0.25; -5.75]
  // x1 = [1 2]:     W x1 = [2-1; 5.5-9]          = [1; -3.5]    -> y1 = [1.25; -9.25]
  // x2 = [-1 0.5]:  W x2 = [-2-0.25; -5.5-2.25]  = [-2.25; -7.75] -> y2 = [-2; -13.5]
  //
  // Misreadings: the matrix product W0 A = [3.5 -5; 8.5 -11] instead of
  // W0 (.) A gives W = [4 -3.5; 11 -7.5]; adding c directly instead of W0 c
  // gives b = [4.25; -2.75]; taking W c (merged W) instead of W0 c gives
  // b = [6.25; 13.75].
  glora::MatrixX<T> X(2, 2);
  X << 1, -1,  //
      2, 0.5;
  check_layer(layer, X, {{2, -0.5}, {5.5, -4.5}}, {0.25, -5.75}, {{1.25, -2}, {-9.25, -13.5}});
}

TEMPLATE_TEST_CASE(
    "2 x 3 layer without bias: Vector A, LowRank<1> B, LowRank<2> C, "
    "Vector D (no effect), Vector E",
    "[reference]", float, double) {
  using T = TestType;
  glora::MatrixX<T> W0(2, 3);
  W0 << 1, 2, 3,  //
      4, 5, 6;
  glora::Linear<T, glora::Vector, glora::LowRank<1>, glora::LowRank<2>, glora::Vector,
                glora::Vector>
      layer(W0);
  REQUIRE_FALSE(layer.has_bias());
  auto& ad = layer.adapter();
  ad.A.value << 0.5, -1;
  ad.B.down << 1, -1;  // Bd: 2 x 1
  ad.B.up << 1, 2, 0;  // Bu: 1 x 3
  ad.C.down << 1, 0,   // Cd: 3 x 2
      0, 1,            //
      1, 1;
  ad.C.up << 2, -1;      // Cu: 2 x 1
  ad.D.value << 10, 20;  // no bias: D has no effect
  ad.E.value << 1, -1;

  // W0 (.) A = [0.5*1 0.5*2 0.5*3; -1*4 -1*5 -1*6] = [0.5 1 1.5; -4 -5 -6]
  // B = Bd Bu = [1 2 0; -1 -2 0]
  // W = [1+0.5+1  2+1+2  3+1.5+0; 4-4-1  5-5-2  6-6+0] = [2.5 5 4.5; -1 -2 0]
  // c = Cd Cu = [2; -1; 2-1] = [2; -1; 1];  W0 c = [2-2+3; 8-5+6] = [3; 9]
  // b = E + W0 c = [1+3; -1+9] = [4; 8]
  // x = [1 1 1]: W x = [12; -3] -> y = [16; 5]
  //
  // Misreading: applying D to a layer without bias (b = D + E + W0 c)
  // gives b = [14; 28].
  glora::MatrixX<T> X(3, 1);
  X << 1, 1, 1;
  check_layer(layer, X, {{2.5, 5, 4.5}, {-1, -2, 0}}, {4, 8}, {{16}, {5}});
}

TEMPLATE_TEST_CASE(
    "2 x 3 layer: Scalar A and Scalar D = -1 cancel into a plain "
    "rescaling without bias",
    "[reference]", float, double) {
  using T = TestType;
  glora::MatrixX<T> W0(2, 3);
  W0 << 1, 2, 3,  //
      4, 5, 6;
  glora::VectorX<T> b0(2);
  b0 << 1, -1;
  glora::Linear<T, glora::Scalar, glora::None, glora::None, glora::Scalar> layer(W0, b0);
  layer.adapter().A.value = T(0.5);
  layer.adapter().D.value = T(-1);

  // W = W0 + 0.5 W0 = [1.5 3 4.5; 6 7.5 9]
  // b = b0 + b0 (.) (-1) = [0; 0]
  // x = [1 0 2]: y = [1.5+9; 6+18] = [10.5; 24]
  //
  // Misreadings: W0 + A (A added, not multiplied) gives W(0,0) = 1.5 but
  // W(0,1) = 2.5; b0 + D gives b = [0; -2].
  glora::MatrixX<T> X(3, 1);
  X << 1, 0, 2;
  check_layer(layer, X, {{1.5, 3, 4.5}, {6, 7.5, 9}}, {0, 0}, {{10.5}, {24}});
}

TEMPLATE_TEST_CASE("a layer without bias and without adapter is y = W0 x", "[reference]", float,
                   double) {
  using T = TestType;
  glora::MatrixX<T> W0(2, 3);
  W0 << 1, 2, 3,  //
      4, 5, 6;
  // Only D is active; without a bias it has nothing to scale.
  glora::Linear<T, glora::None, glora::None, glora::None, glora::Vector> layer(W0);
  layer.adapter().D.value << 3, -7;

  // W = W0, b = 0; x = [1 -1 2]: y = [1-2+6; 4-5+12] = [5; 11]
  glora::MatrixX<T> X(3, 1);
  X << 1, -1, 2;
  check_layer(layer, X, {{1, 2, 3}, {4, 5, 6}}, {0, 0}, {{5}, {11}});
}
