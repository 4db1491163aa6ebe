// Construction and the reference initialisation (docs/contract.md,
// "Initialisation"):
//  - a freshly constructed adapter holds the spec's shapes, zero-filled;
//  - initialize(seed): downs, vectors and scalars zero; ups (Au, Bu, Cu)
//    Xavier-uniform in (-a, a), a = sqrt(6 / (fan_in + fan_out)), fan_in = k
//    and fan_out = r for an r x k up; reproducible from the seed;
//  - with every down / vector / scalar at zero the adapted layer equals the
//    frozen one exactly.
#include "layer_checks.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

using glora::LowRank;
using glora::None;
using glora::Scalar;
using glora::Vector;
using glora_test::Index;

namespace {

// Values chosen so that W0 x + b0 is exact in any evaluation order: small
// positive integers (every output is then a nonzero integer).
template <class T>
glora::MatrixX<T> small_integers(std::mt19937& rng, Index rows, Index cols, int max) {
  std::uniform_int_distribution<int> value(1, max);
  glora::MatrixX<T> M(rows, cols);
  for (Index j = 0; j < cols; ++j) {
    for (Index i = 0; i < rows; ++i) {
      M(i, j) = static_cast<T>(value(rng));
    }
  }
  return M;
}

// W0 x + b0 (or W0 x) by hand.
template <class T>
glora::MatrixX<T> frozen_output(const glora::MatrixX<T>& W0, const glora::VectorX<T>* b0,
                                const glora::MatrixX<T>& X) {
  glora::MatrixX<T> Y(W0.rows(), X.cols());
  for (Index k = 0; k < X.cols(); ++k) {
    for (Index i = 0; i < W0.rows(); ++i) {
      T y = b0 != nullptr ? (*b0)(i) : T(0);
      for (Index j = 0; j < W0.cols(); ++j) {
        y += W0(i, j) * X(j, k);
      }
      Y(i, k) = y;
    }
  }
  return Y;
}

template <class T>
bool bitwise_equal(const glora::MatrixX<T>& a, const glora::MatrixX<T>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<std::size_t>(a.size())) == 0;
}

// The ups of an initialised slot lie in (-a, a), a = sqrt(6 / (k + r)) for an
// r x k up, are all nonzero and not all equal; downs / vectors / scalars are 0.
template <class K, class Support>
void check_initialised_slot(const Support& s, const char* slot) {
  INFO("slot " << slot);
  if constexpr (glora_test::is_low_rank<K>) {
    CHECK((s.down.array() == 0).all());
    const Index r = s.up.rows();
    const Index k = s.up.cols();
    const double a = std::sqrt(6.0 / static_cast<double>(k + r));
    INFO("up is " << r << " x " << k << ", a = " << a);
    CHECK((s.up.array() != 0).all());
    CHECK((s.up.array().abs().template cast<double>() < a).all());
    if (s.up.size() > 1) {
      CHECK(s.up.maxCoeff() != s.up.minCoeff());
    }
  } else {
    CHECK(glora_test::all_zero<K>(s));
  }
}

template <class T, class KA, class KB, class KC, class KD, class KE>
void check_initialised(const glora::Adapter<T, KA, KB, KC, KD, KE>& ad) {
  check_initialised_slot<KA>(ad.A, "A");
  check_initialised_slot<KB>(ad.B, "B");
  check_initialised_slot<KC>(ad.C, "C");
  check_initialised_slot<KD>(ad.D, "D");
  check_initialised_slot<KE>(ad.E, "E");
}

template <class K, class Support>
bool same_slot(const Support& x, const Support& y) {
  if constexpr (glora_test::is_low_rank<K>) {
    return x.down == y.down && x.up == y.up;
  } else if constexpr (glora_test::is_vector<K> || glora_test::is_scalar<K>) {
    return x.value == y.value;
  } else {
    return true;
  }
}

template <class T, class KA, class KB, class KC, class KD, class KE>
bool same_tensors(const glora::Adapter<T, KA, KB, KC, KD, KE>& x,
                  const glora::Adapter<T, KA, KB, KC, KD, KE>& y) {
  return same_slot<KA>(x.A, y.A) && same_slot<KB>(x.B, y.B) && same_slot<KC>(x.C, y.C) &&
         same_slot<KD>(x.D, y.D) && same_slot<KE>(x.E, y.E);
}

template <class T, class KA, class KB, class KC, class KD, class KE>
void check_initialise_is_identity(std::mt19937& rng, Index m, Index n) {
  const std::string config = glora_test::config_name<KA, KB, KC, KD, KE>();
  INFO(glora_test::type_name<T>() << " " << config << " on " << m << " x " << n);
  const glora::MatrixX<T> W0 = small_integers<T>(rng, m, n, 4);
  const glora::VectorX<T> b0 = small_integers<T>(rng, m, 1, 4);
  const glora::MatrixX<T> X = small_integers<T>(rng, n, 3, 3);

  glora::Linear<T, KA, KB, KC, KD, KE> layer(W0, b0);
  glora_test::fill_random(layer.adapter(), m, n, rng);  // start far from identity
  layer.adapter().initialize(std::uint64_t{7});
  check_initialised(layer.adapter());

  const glora::MatrixX<T> expected = frozen_output<T>(W0, &b0, X);
  CHECK(layer.forward(X) == expected);
  CHECK(bitwise_equal<T>(layer.forward(X), expected));
  const glora::Dense<T> merged = layer.merge();
  CHECK(merged.weight == W0);
  CHECK(merged.bias == b0);

  glora::Linear<T, KA, KB, KC, KD, KE> no_bias(W0);
  no_bias.adapter().initialize(std::uint64_t{8});
  const glora::MatrixX<T> expected_no_bias = frozen_output<T>(W0, nullptr, X);
  CHECK(bitwise_equal<T>(no_bias.forward(X), expected_no_bias));
}

}  // namespace

TEMPLATE_TEST_CASE("a fresh adapter is zero-filled with the spec's shapes", "[init]", float,
                   double) {
  using T = TestType;
  const Index m = 7;  // out
  const Index n = 4;  // in

  SECTION("LowRank in A, B and C") {
    const glora::Adapter<T, LowRank<3>, LowRank<2>, LowRank<5>, Vector, Scalar> ad(m, n);
    // A and B: down m x r, up r x n.
    CHECK(ad.A.down.rows() == m);
    CHECK(ad.A.down.cols() == 3);
    CHECK(ad.A.up.rows() == 3);
    CHECK(ad.A.up.cols() == n);
    CHECK(ad.B.down.rows() == m);
    CHECK(ad.B.down.cols() == 2);
    CHECK(ad.B.up.rows() == 2);
    CHECK(ad.B.up.cols() == n);
    // C: down n x r, up r x 1.
    CHECK(ad.C.down.rows() == n);
    CHECK(ad.C.down.cols() == 5);
    CHECK(ad.C.up.rows() == 5);
    CHECK(ad.C.up.cols() == 1);
    // D vector: m entries; E scalar.
    CHECK(ad.D.value.size() == m);
    CHECK((ad.A.down.array() == 0).all());
    CHECK((ad.A.up.array() == 0).all());
    CHECK((ad.B.down.array() == 0).all());
    CHECK((ad.B.up.array() == 0).all());
    CHECK((ad.C.down.array() == 0).all());
    CHECK((ad.C.up.array() == 0).all());
    CHECK((ad.D.value.array() == 0).all());
    CHECK(ad.E.value == T(0));
  }

  SECTION("Vector and Scalar in every slot") {
    const glora::Adapter<T, Vector, Vector, Vector, Vector, Vector> vectors(m, n);
    CHECK(vectors.A.value.size() == m);
    CHECK(vectors.B.value.size() == m);
    CHECK(vectors.C.value.size() == n);  // C lives on the input side
    CHECK(vectors.D.value.size() == m);
    CHECK(vectors.E.value.size() == m);
    CHECK((vectors.A.value.array() == 0).all());
    CHECK((vectors.B.value.array() == 0).all());
    CHECK((vectors.C.value.array() == 0).all());
    CHECK((vectors.D.value.array() == 0).all());
    CHECK((vectors.E.value.array() == 0).all());

    const glora::Adapter<T, Scalar, Scalar, Scalar, Scalar, Scalar> scalars(m, n);
    CHECK(scalars.A.value == T(0));
    CHECK(scalars.B.value == T(0));
    CHECK(scalars.C.value == T(0));
    CHECK(scalars.D.value == T(0));
    CHECK(scalars.E.value == T(0));
  }

  SECTION("a layer's adapter is sized from W0") {
    glora::Linear<T, LowRank<2>, Vector, LowRank<3>, Vector, Vector> layer(
        glora::MatrixX<T>::Ones(m, n), glora::VectorX<T>::Ones(m));
    CHECK_NOTHROW(glora_test::require_spec_shapes(layer.adapter(), m, n));
    CHECK(glora_test::all_zero<LowRank<2>>(layer.adapter().A));
    CHECK(glora_test::all_zero<Vector>(layer.adapter().B));
    CHECK(glora_test::all_zero<LowRank<3>>(layer.adapter().C));
    CHECK(glora_test::all_zero<Vector>(layer.adapter().D));
    CHECK(glora_test::all_zero<Vector>(layer.adapter().E));
  }
}

TEMPLATE_TEST_CASE("after initialize(seed) the layer equals the frozen one exactly", "[init]",
                   float, double) {
  using T = TestType;
  std::mt19937 rng(31);
  check_initialise_is_identity<T, LowRank<4>, LowRank<3>, LowRank<2>, Vector, Scalar>(rng, 6, 5);
  check_initialise_is_identity<T, LowRank<4>, LowRank<3>, LowRank<2>, Vector, Scalar>(rng, 2, 9);
  check_initialise_is_identity<T, Vector, Scalar, Vector, Vector, Vector>(rng, 6, 5);
  check_initialise_is_identity<T, Scalar, LowRank<2>, LowRank<3>, Scalar, Vector>(rng, 4, 4);
  check_initialise_is_identity<T, LowRank<1>, None, Vector, None, Scalar>(rng, 1, 1);
}

TEMPLATE_TEST_CASE("initialize draws the ups Xavier-uniform", "[init]", float, double) {
  using T = TestType;
  // Large enough ups that the draws must come close to both ends of (-a, a):
  // P(all 256 draws of Au inside (-0.9a, 0.9a)) = 0.9^256 < 1e-11.
  const Index m = 32;
  const Index n = 64;
  glora::Adapter<T, LowRank<4>, LowRank<8>, LowRank<2>, Vector, Scalar> ad(m, n);
  ad.initialize(std::uint64_t{2023});
  check_initialised(ad);

  auto check_spread = [](const glora::MatrixX<T>& up, const char* name) {
    const double a = std::sqrt(6.0 / static_cast<double>(up.rows() + up.cols()));
    INFO(name << " is " << up.rows() << " x " << up.cols() << ", a = " << a);
    CHECK(static_cast<double>(up.maxCoeff()) > 0.9 * a);
    CHECK(static_cast<double>(up.minCoeff()) < -0.9 * a);
    // Roughly centred: the mean of U(-a, a) over >= 256 draws is within a/4
    // of 0 except with probability far below 1e-9.
    CHECK(std::abs(static_cast<double>(up.mean())) < 0.25 * a);
  };
  check_spread(ad.A.up, "Au");  // 4 x 64:  a = sqrt(6 / 68)
  check_spread(ad.B.up, "Bu");  // 8 x 64:  a = sqrt(6 / 72)
  // Cu is 2 x 1: a = sqrt(6 / 3) = sqrt(2).
  CHECK((ad.C.up.array().abs().template cast<double>() < std::sqrt(2.0)).all());
}

TEMPLATE_TEST_CASE("initialize is reproducible from its seed", "[init]", float, double) {
  using T = TestType;
  using Ad = glora::Adapter<T, LowRank<3>, LowRank<2>, LowRank<2>, Vector, Scalar>;
  std::mt19937 rng(32);

  Ad first(6, 5);
  first.initialize(std::uint64_t{99});
  Ad second(6, 5);
  glora_test::fill_random(second, 6, 5, rng);  // a different starting state
  second.initialize(std::uint64_t{99});
  CHECK(same_tensors(first, second));

  Ad other(6, 5);
  other.initialize(std::uint64_t{100});
  CHECK_FALSE(same_tensors(first, other));
  CHECK(first.A.up != other.A.up);
  CHECK(first.B.up != other.B.up);
  CHECK(first.C.up != other.C.up);

  // Seeds that differ only in their high bits are different seeds.
  Ad high(6, 5);
  high.initialize((std::uint64_t{1} << 40) + 99);
  CHECK(first.A.up != high.A.up);
}
