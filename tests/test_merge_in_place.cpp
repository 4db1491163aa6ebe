// Merging into the model's own storage (docs/contract.md, "Merging"):
// a glora::LinearView adapts a W0 / b0 that the caller owns, without copying
// it; merge_in_place() and merge_into(W0 storage, b0 storage) overwrite that
// storage with W = W0 + W0 (.) A + B and b = b0 + b0 (.) D + E + W0 c, where
// W0 c must use the original W0, not the partly merged one.
#include "layer_checks.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <stdexcept>
#include <vector>

using glora::LowRank;
using glora::None;
using glora::Scalar;
using glora::Vector;
using glora_test::Index;
using glora_test::mismatch;
using glora_test::random_matrix;
using glora_test::random_vector;
using glora_test::Reference;
using glora_test::reference_layer;
using glora_test::to_real;

namespace {

// Downs, vectors and scalars all zero: the adapter is the identity.
template <class K, class Support>
bool is_identity_slot(const Support& s) {
  if constexpr (glora_test::is_low_rank<K>) {
    return (s.down.array() == 0).all();
  } else {
    return glora_test::all_zero<K>(s);
  }
}

template <class T, class KA, class KB, class KC, class KD, class KE>
bool is_identity(const glora::Adapter<T, KA, KB, KC, KD, KE>& ad) {
  return is_identity_slot<KA>(ad.A) && is_identity_slot<KB>(ad.B) && is_identity_slot<KC>(ad.C) &&
         is_identity_slot<KD>(ad.D) && is_identity_slot<KE>(ad.E);
}

// One configuration with A, B and C active, merged in place through a view
// over user storage, compared with the plain formula and with an owned
// Linear holding copies of the same tensors.
template <class T, class KA, class KB, class KC, class KD, class KE>
void check_view_merges(std::mt19937& rng, Index m, Index n) {
  const std::string config = glora_test::config_name<KA, KB, KC, KD, KE>();
  INFO(glora_test::type_name<T>() << " " << config << " on " << m << " x " << n);
  const glora::MatrixX<T> W0 = random_matrix<T>(rng, m, n);
  const glora::VectorX<T> b0 = random_vector<T>(rng, m);
  const glora::MatrixX<T> X = random_matrix<T>(rng, n, 3);

  {
    INFO("merge_in_place() writes the merged layer into the viewed storage");
    glora::MatrixX<T> weights = W0;  // the model's own storage
    glora::VectorX<T> biases = b0;
    glora::LinearView<T, KA, KB, KC, KD, KE> view(weights, biases);
    REQUIRE(view.weight().data() == weights.data());
    REQUIRE(view.bias().data() == biases.data());
    glora_test::fill_random(view.adapter(), m, n, rng);

    glora::Linear<T, KA, KB, KC, KD, KE> owned(W0, b0);
    owned.adapter() = view.adapter();
    const glora::Dense<T> merged = owned.merge();

    const Reference exact = reference_layer(W0, &b0, view.adapter());
    const Reference size = reference_layer(W0, &b0, view.adapter(), true);
    const glora_test::RealMatrix Y_exact = exact.forward(to_real(X));
    const glora_test::RealMatrix Y_size = size.forward(to_real(X, true));
    const auto tol_T = glora_test::tolerance<T>();

    view.merge_in_place();

    // The storage now holds the merged layer, the same as the owned merge.
    CHECK(mismatch(weights, exact.W, size.W, tol_T) == "");
    CHECK(mismatch(biases, exact.b, size.b, tol_T) == "");
    CHECK(mismatch(weights, to_real(merged.weight), size.W, tol_T) == "");
    CHECK(mismatch(biases, to_real(merged.bias), size.b, tol_T) == "");

    // Still a view of the same storage, with the adapter back to identity,
    // so the layer computes what it computed before the merge.
    CHECK(view.weight().data() == weights.data());
    CHECK(view.bias().data() == biases.data());
    CHECK(is_identity(view.adapter()));
    CHECK(mismatch(view.forward(X), Y_exact, Y_size, tol_T) == "");
    CHECK(mismatch(view.merge().weight, exact.W, size.W, tol_T) == "");
  }

  {
    INFO("merge_into(W0 storage, b0 storage) on a view");
    glora::MatrixX<T> weights = W0;
    glora::VectorX<T> biases = b0;
    glora::LinearView<T, KA, KB, KC, KD, KE> view(weights, biases);
    glora_test::fill_random(view.adapter(), m, n, rng);

    glora::Linear<T, KA, KB, KC, KD, KE> owned(W0, b0);
    owned.adapter() = view.adapter();
    const glora::Dense<T> merged = owned.merge();

    const Reference exact = reference_layer(W0, &b0, view.adapter());
    const Reference size = reference_layer(W0, &b0, view.adapter(), true);
    const auto tol_T = glora_test::tolerance<T>();

    view.merge_into(weights, biases);

    CHECK(mismatch(weights, exact.W, size.W, tol_T) == "");
    CHECK(mismatch(biases, exact.b, size.b, tol_T) == "");
    CHECK(mismatch(weights, to_real(merged.weight), size.W, tol_T) == "");
    CHECK(mismatch(biases, to_real(merged.bias), size.b, tol_T) == "");
    // merge_into leaves the adapter as it was.
    CHECK_FALSE(is_identity(view.adapter()));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("in-place merges through a view equal merge() of an owned layer",
                   "[merge_in_place]", float, double) {
  using T = TestType;
  std::mt19937 rng(21);
  check_view_merges<T, LowRank<2>, LowRank<3>, LowRank<2>, Vector, Scalar>(rng, 6, 4);
  check_view_merges<T, LowRank<2>, LowRank<3>, LowRank<2>, Vector, Scalar>(rng, 3, 7);
  check_view_merges<T, Vector, Vector, Vector, Scalar, Vector>(rng, 6, 4);
  check_view_merges<T, LowRank<1>, Vector, Vector, None, None>(rng, 5, 5);
  check_view_merges<T, Vector, LowRank<2>, LowRank<1>, Scalar, None>(rng, 4, 9);
  check_view_merges<T, LowRank<4>, LowRank<4>, LowRank<4>, Vector, Vector>(rng, 300, 80);
}

TEMPLATE_TEST_CASE("in-place merges take W0 c from the original W0", "[merge_in_place]", float,
                   double) {
  using T = TestType;
  // W0 = [1 2; 3 4], b0 = [0.5; -0.5], A = vector [1; 1] (so W = 2 W0), c = [1; 1].
  //   right: b = b0 + W0 c = [0.5 + 3; -0.5 + 7]  = [3.5; 6.5]
  //   wrong: b = b0 + W  c = [0.5 + 6; -0.5 + 14] = [6.5; 13.5]
  //   W = W0 + W0 (.) A = [2 4; 6 8]
  glora::MatrixX<T> expected_W(2, 2);
  expected_W << 2, 4,  //
      6, 8;
  glora::VectorX<T> expected_b(2);
  expected_b << 3.5, 6.5;

  auto make_storage = [](glora::MatrixX<T>& W0, glora::VectorX<T>& b0) {
    W0.resize(2, 2);
    W0 << 1, 2,  //
        3, 4;
    b0.resize(2);
    b0 << 0.5, -0.5;
  };

  SECTION("merge_in_place()") {
    glora::MatrixX<T> W0;
    glora::VectorX<T> b0;
    make_storage(W0, b0);
    glora::LinearView<T, Vector, None, Vector> view(W0, b0);
    view.adapter().A.value << 1, 1;
    view.adapter().C.value << 1, 1;
    view.merge_in_place();
    CHECK(W0 == expected_W);
    CHECK(b0 == expected_b);
  }

  SECTION("merge_into(W0, b0)") {
    glora::MatrixX<T> W0;
    glora::VectorX<T> b0;
    make_storage(W0, b0);
    glora::LinearView<T, Vector, None, Vector> view(W0, b0);
    view.adapter().A.value << 1, 1;
    view.adapter().C.value << 1, 1;
    view.merge_into(W0, b0);
    CHECK(W0 == expected_W);
    CHECK(b0 == expected_b);
  }

  SECTION("merge_in_place() with LowRank A, B and C over a raw buffer") {
    // W0 = [1 2; 3 4] column-major, b0 = [0.5; -0.5].
    // Ad = [1; 1], Au = [1 1]: A = [1 1; 1 1], W0 (.) A = W0.
    // Bd = [1; 0], Bu = [0.5 0.5]: B = [0.5 0.5; 0 0].
    // Cd = [1; 1], Cu = [1]: c = [1; 1].
    //   W = [1+1+0.5  2+2+0.5; 3+3  4+4] = [2.5 4.5; 6 8]
    //   b = b0 + W0 c = [3.5; 6.5]   (W c would give [7.5; 13.5])
    std::vector<T> weights = {1, 3, 2, 4};
    std::vector<T> biases = {0.5, -0.5};
    glora::LinearView<T, LowRank<1>, LowRank<1>, LowRank<1>> view(
        glora::column_major, weights.data(), 2, 2, biases.data());
    view.adapter().A.down << 1, 1;
    view.adapter().A.up << 1, 1;
    view.adapter().B.down << 1, 0;
    view.adapter().B.up << 0.5, 0.5;
    view.adapter().C.down << 1, 1;
    view.adapter().C.up << 1;
    view.merge_in_place();
    CHECK(weights == std::vector<T>{2.5, 6, 4.5, 8});
    CHECK(biases == std::vector<T>{3.5, 6.5});
  }
}

TEMPLATE_TEST_CASE("a view does not copy the storage it adapts", "[merge_in_place]", float,
                   double) {
  using T = TestType;
  std::mt19937 rng(22);
  const Index m = 5;
  const Index n = 3;

  SECTION("over Eigen objects") {
    glora::MatrixX<T> W0 = random_matrix<T>(rng, m, n);
    glora::VectorX<T> b0 = random_vector<T>(rng, m);
    glora::LinearView<T, LowRank<2>, Vector, Vector, Scalar, Vector> view(W0, b0);
    CHECK(view.weight().data() == W0.data());
    CHECK(view.bias().data() == b0.data());
    CHECK(view.out_features() == m);
    CHECK(view.in_features() == n);
    CHECK(view.has_bias());
    // A change to the model's weights is seen by the view.
    W0(1, 2) = T(42);
    b0(4) = T(-7);
    CHECK(view.weight()(1, 2) == T(42));
    CHECK(view.bias()(4) == T(-7));
  }

  SECTION("over Eigen maps") {
    std::vector<T> weights(static_cast<std::size_t>(m * n), T(1));
    std::vector<T> biases(static_cast<std::size_t>(m), T(2));
    glora::LinearView<T, Vector> view(Eigen::Map<glora::MatrixX<T>>(weights.data(), m, n),
                                      Eigen::Map<glora::VectorX<T>>(biases.data(), m));
    CHECK(view.weight().data() == weights.data());
    CHECK(view.bias().data() == biases.data());
    CHECK(view.has_bias());
  }

  SECTION("without a bias") {
    glora::MatrixX<T> W0 = random_matrix<T>(rng, m, n);
    glora::LinearView<T, Vector, LowRank<1>> view(W0);
    CHECK(view.weight().data() == W0.data());
    CHECK_FALSE(view.has_bias());
    CHECK(view.bias().size() == 0);
  }
}

TEMPLATE_TEST_CASE("the raw-pointer view reads a column-major buffer", "[merge_in_place]", float,
                   double) {
  using T = TestType;
  std::mt19937 rng(23);
  const Index m = 4;
  const Index n = 3;
  const glora::MatrixX<T> W0 = random_matrix<T>(rng, m, n);
  const glora::VectorX<T> b0 = random_vector<T>(rng, m);
  const glora::MatrixX<T> X = random_matrix<T>(rng, n, 2);
  std::vector<T> weights(static_cast<std::size_t>(m * n));
  for (Index j = 0; j < n; ++j) {
    for (Index i = 0; i < m; ++i) {
      weights[static_cast<std::size_t>(i + j * m)] = W0(i, j);  // column-major
    }
  }
  std::vector<T> biases(b0.data(), b0.data() + m);
  const auto tol = glora_test::tolerance<T>();

  SECTION("with a bias") {
    glora::LinearView<T, LowRank<2>, Vector, LowRank<1>, Vector, Scalar> view(
        glora::column_major, weights.data(), m, n, biases.data());
    CHECK(view.weight().data() == weights.data());
    CHECK(view.bias().data() == biases.data());
    CHECK(view.weight() == W0);
    CHECK(view.has_bias());
    glora_test::fill_random(view.adapter(), m, n, rng);
    const Reference exact = reference_layer(W0, &b0, view.adapter());
    const Reference size = reference_layer(W0, &b0, view.adapter(), true);
    CHECK(mismatch(view.forward(X), exact.forward(to_real(X)), size.forward(to_real(X, true)),
                   tol) == "");
    view.merge_in_place();
    const Eigen::Map<glora::MatrixX<T>> W(weights.data(), m, n);
    const Eigen::Map<glora::VectorX<T>> b(biases.data(), m);
    CHECK(mismatch(W, exact.W, size.W, tol) == "");
    CHECK(mismatch(b, exact.b, size.b, tol) == "");
  }

  SECTION("without a bias") {
    glora::LinearView<T, LowRank<2>, Vector, LowRank<1>, Vector, Scalar> view(glora::column_major,
                                                                              weights.data(), m, n);
    CHECK(view.weight().data() == weights.data());
    CHECK_FALSE(view.has_bias());
    CHECK(view.bias().size() == 0);
    glora_test::fill_random(view.adapter(), m, n, rng);
    const Reference exact = reference_layer<T>(W0, nullptr, view.adapter());
    const Reference size = reference_layer<T>(W0, nullptr, view.adapter(), true);
    CHECK(mismatch(view.forward(X), exact.forward(to_real(X)), size.forward(to_real(X, true)),
                   tol) == "");
    glora::MatrixX<T> W(m, n);
    glora::VectorX<T> b(m);
    view.merge_into(W, b);
    CHECK(mismatch(W, exact.W, size.W, tol) == "");
    CHECK(mismatch(b, exact.b, size.b, tol) == "");
  }
}

TEMPLATE_TEST_CASE("a view without a bias merges A and B in place", "[merge_in_place]", float,
                   double) {
  using T = TestType;
  std::mt19937 rng(24);
  const Index m = 5;
  const Index n = 4;
  const glora::MatrixX<T> W0 = random_matrix<T>(rng, m, n);
  const glora::MatrixX<T> X = random_matrix<T>(rng, n, 2);
  const auto tol = glora_test::tolerance<T>();

  SECTION("A and B only: the merged bias is zero, nothing is lost") {
    glora::MatrixX<T> weights = W0;
    glora::LinearView<T, LowRank<2>, Vector> view(weights);
    glora_test::fill_random(view.adapter(), m, n, rng);
    const Reference exact = reference_layer<T>(W0, nullptr, view.adapter());
    const Reference size = reference_layer<T>(W0, nullptr, view.adapter(), true);
    view.merge_in_place();
    CHECK(mismatch(weights, exact.W, size.W, tol) == "");
    CHECK(is_identity(view.adapter()));
    CHECK(mismatch(view.forward(X), exact.forward(to_real(X)), size.forward(to_real(X, true)),
                   tol) == "");
  }

  SECTION("C and E present but zero, as initialize() leaves them: it merges") {
    glora::MatrixX<T> weights = W0;
    glora::LinearView<T, LowRank<2>, Vector, Vector, None, Scalar> view(weights);
    view.adapter().initialize(3);
    REQUIRE(view.adapter().C.value.isZero(0));
    REQUIRE(view.adapter().E.value == T(0));
    view.adapter().A.down = random_matrix<T>(rng, m, 2);
    view.adapter().A.up = random_matrix<T>(rng, 2, n);
    view.adapter().B.value = random_matrix<T>(rng, m, 1);
    const Reference exact = reference_layer<T>(W0, nullptr, view.adapter());
    const Reference size = reference_layer<T>(W0, nullptr, view.adapter(), true);
    view.merge_in_place();
    CHECK(mismatch(weights, exact.W, size.W, tol) == "");
    CHECK(is_identity(view.adapter()));
  }

  SECTION("with C active there is nowhere to put W0 c: it throws and writes nothing") {
    glora::MatrixX<T> weights = W0;
    glora::LinearView<T, LowRank<2>, Vector, Vector> view(weights);
    glora_test::fill_random(view.adapter(), m, n, rng);
    const auto before = view.adapter().A.down;
    CHECK_THROWS_AS(view.merge_in_place(), std::logic_error);
    CHECK(weights == W0);
    CHECK(view.adapter().A.down == before);
  }
}
