// The GLoRA layer written out plainly, element by element, as the contract
// states it (docs/contract.md, "The layer"):
//
//     W = W0 + W0 (.) A + B
//     b = b0 + b0 (.) D + E + W0 c        (no bias: b = E + W0 c)
//     y = W x + b
//
// Every support tensor is first expanded to the full value that enters the
// formula (A, B: m x n; c: n; D, E: m), following the spec's table, with
// explicit loops. Nothing here calls into the library's arithmetic: the only
// things read from an adapter are its stored tensors.
//
// The reference is evaluated in long double. The same code run on the
// absolute values of every input gives, for each entry, the sum of the
// magnitudes of the terms that make it up; a correct float/double evaluation
// in any order stays within (a few ulps x number of terms) x that magnitude,
// which is what the comparisons below use as the error bound.
//
// What depends on no type is compiled once, in reference_formula.cpp.
#ifndef GLORA_TESTS_REFERENCE_FORMULA_HPP
#define GLORA_TESTS_REFERENCE_FORMULA_HPP

#include <glora/glora.hpp>

#include <Eigen/Core>

#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

// The helpers below are instantiated for every configuration of the search
// space; keeping them out of line keeps those hundreds of instantiations
// cheap to compile.
#if defined(__GNUC__) || defined(__clang__)
#define GLORA_TEST_OUT_OF_LINE [[gnu::noinline]]
#else
#define GLORA_TEST_OUT_OF_LINE
#endif

namespace glora_test {

using Index = Eigen::Index;
using Real = long double;
using RealMatrix = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic>;
using RealVector = Eigen::Matrix<Real, Eigen::Dynamic, 1>;

// A value no correct computation produces here: marks storage that the
// library is expected to overwrite (or, in the error tests, to leave alone).
template <class T>
constexpr T sentinel() {
  return T(-12345.0);
}

// ---------------------------------------------------------------- kinds

template <class K>
struct low_rank_traits {
  static constexpr bool value = false;
  static constexpr Index rank = 0;
};

template <auto R>
struct low_rank_traits<glora::LowRank<R>> {
  static constexpr bool value = true;
  static constexpr Index rank = static_cast<Index>(R);
};

template <class K>
constexpr bool is_none = std::is_same_v<K, glora::None>;
template <class K>
constexpr bool is_scalar = std::is_same_v<K, glora::Scalar>;
template <class K>
constexpr bool is_vector = std::is_same_v<K, glora::Vector>;
template <class K>
constexpr bool is_low_rank = low_rank_traits<K>::value;
template <class K>
constexpr Index rank_of = low_rank_traits<K>::rank;

template <class T>
std::string type_name() {
  return std::is_same_v<T, float> ? "float" : "double";
}

template <class K>
const char* kind_name() {
  if constexpr (is_none<K>) {
    return "None";
  } else if constexpr (is_scalar<K>) {
    return "Scalar";
  } else if constexpr (is_vector<K>) {
    return "Vector";
  } else {
    static_assert(is_low_rank<K>, "unknown kind");
    static const std::string name = "LowRank<" + std::to_string(rank_of<K>) + ">";
    return name.c_str();
  }
}

// "A=... B=... C=... D=... E=...".
std::string config_name(const char* a, const char* b, const char* c, const char* d, const char* e);

template <class KA, class KB, class KC, class KD, class KE>
std::string config_name() {
  return config_name(kind_name<KA>(), kind_name<KB>(), kind_name<KC>(), kind_name<KD>(),
                     kind_name<KE>());
}

// ---------------------------------------------------- stored shapes (table)

template <class M>
void require_shape(const M& stored, Index rows, Index cols, const char* what) {
  if (stored.rows() != rows || stored.cols() != cols) {
    std::ostringstream msg;
    msg << what << " is stored as " << stored.rows() << " x " << stored.cols() << ", the spec says "
        << rows << " x " << cols;
    throw std::logic_error(msg.str());
  }
}

// Slots A and B (m x n layer): LowRank: down m x r, up r x n; Vector: m.
template <class K, class Support>
GLORA_TEST_OUT_OF_LINE void require_weight_slot_shape(const Support& s, Index m, Index n,
                                                      const char* slot) {
  const std::string name(slot);
  if constexpr (is_low_rank<K>) {
    require_shape(s.down, m, rank_of<K>, (name + "d").c_str());
    require_shape(s.up, rank_of<K>, n, (name + "u").c_str());
  } else if constexpr (is_vector<K>) {
    require_shape(s.value, m, 1, slot);
  }
}

// Slot C: LowRank: down n x r, up r x 1; Vector: n.
template <class K, class Support>
GLORA_TEST_OUT_OF_LINE void require_c_slot_shape(const Support& s, Index n) {
  if constexpr (is_low_rank<K>) {
    require_shape(s.down, n, rank_of<K>, "Cd");
    require_shape(s.up, rank_of<K>, 1, "Cu");
  } else if constexpr (is_vector<K>) {
    require_shape(s.value, n, 1, "C");
  }
}

// Slots D and E: Vector: m.
template <class K, class Support>
GLORA_TEST_OUT_OF_LINE void require_bias_slot_shape(const Support& s, Index m, const char* slot) {
  static_assert(!is_low_rank<K>, "D and E take no LowRank");
  if constexpr (is_vector<K>) {
    require_shape(s.value, m, 1, slot);
  }
}

template <class T, class KA, class KB, class KC, class KD, class KE>
void require_spec_shapes(const glora::Adapter<T, KA, KB, KC, KD, KE>& ad, Index m, Index n) {
  require_weight_slot_shape<KA>(ad.A, m, n, "A");
  require_weight_slot_shape<KB>(ad.B, m, n, "B");
  require_c_slot_shape<KC>(ad.C, n);
  require_bias_slot_shape<KD>(ad.D, m, "D");
  require_bias_slot_shape<KE>(ad.E, m, "E");
}

// Number of values a slot stores (its trainable parameters).
template <class K, class Support>
Index stored_count(const Support& s) {
  if constexpr (is_low_rank<K>) {
    return s.down.size() + s.up.size();
  } else if constexpr (is_vector<K>) {
    return s.value.size();
  } else if constexpr (is_scalar<K>) {
    return 1;
  } else {
    return 0;
  }
}

// Whether every value a slot stores is zero (None: trivially).
template <class K, class Support>
GLORA_TEST_OUT_OF_LINE bool all_zero(const Support& s) {
  if constexpr (is_low_rank<K>) {
    return (s.down.array() == 0).all() && (s.up.array() == 0).all();
  } else if constexpr (is_vector<K>) {
    return (s.value.array() == 0).all();
  } else if constexpr (is_scalar<K>) {
    return s.value == 0;
  } else {
    return true;
  }
}

// ------------------------------------------- full values of the supports

inline Real value_of(Real v, bool magnitude) { return magnitude ? std::fabs(v) : v; }

// A slot as the formula reads it: its choice, and its tensors as stored,
// with a vector or a scalar as the first column or entry of `down` (as the
// supernet keeps them); absolute values with `magnitude`.
struct SlotTensors {
  glora::Choice choice;
  RealMatrix down;
  RealMatrix up;
};

template <class Derived>
RealMatrix to_real(const Eigen::MatrixBase<Derived>& M, bool magnitude = false) {
  RealMatrix R(M.rows(), M.cols());
  for (Index i = 0; i < M.rows(); ++i) {
    for (Index j = 0; j < M.cols(); ++j) {
      R(i, j) = value_of(static_cast<Real>(M(i, j)), magnitude);
    }
  }
  return R;
}

// A compile-time support's slot (kind K).
template <class K, class Support>
GLORA_TEST_OUT_OF_LINE SlotTensors slot_tensors(const Support& s, bool magnitude) {
  if constexpr (is_low_rank<K>) {
    return {glora::Choice::low_rank(int(rank_of<K>)), to_real(s.down, magnitude),
            to_real(s.up, magnitude)};
  } else if constexpr (is_vector<K>) {
    return {glora::Choice::vector(), to_real(s.value, magnitude), RealMatrix()};
  } else if constexpr (is_scalar<K>) {
    RealMatrix v(1, 1);
    v(0, 0) = value_of(s.value, magnitude);
    return {glora::Choice::scalar(), v, RealMatrix()};
  } else {
    return {glora::Choice::none(), RealMatrix(), RealMatrix()};
  }
}

// A run-time adapter's slot s under choice c: all of the stored tensors
// (the formulas below read only the part the choice uses, by the supernet's
// rule: the first k columns of down and rows of up for LoRA_k, column 0 for
// a vector, entry (0, 0) for a constant).
template <class T>
SlotTensors slot_tensors(const glora::DynamicAdapter<T>& a, glora::Slot s, glora::Choice c,
                         bool magnitude) {
  using glora::Slot;
  switch (s) {
    case Slot::A: return {c, to_real(a.Ad, magnitude), to_real(a.Au, magnitude)};
    case Slot::B: return {c, to_real(a.Bd, magnitude), to_real(a.Bu, magnitude)};
    case Slot::C: return {c, to_real(a.Cd, magnitude), to_real(a.Cu, magnitude)};
    case Slot::D: return {c, to_real(a.D, magnitude), RealMatrix()};
    case Slot::E: return {c, to_real(a.E, magnitude), RealMatrix()};
  }
  return {};
}

// Entry (i, j) of the value a slot stands for: A or B as the full m x n matrix
// in W = W0 + W0 (.) A + B (j = 0 for c and for D, E).
Real slot_entry(const SlotTensors& s, Index i, Index j);

// A or B as the full m x n matrix.
RealMatrix full_weight_support(const SlotTensors& s, Index m, Index n);

// c (n entries), or D or E (m entries).
RealVector full_vector_support(const SlotTensors& s, Index size);

// ------------------------------------------------------------ the layer

struct Reference {
  RealMatrix W;  // m x n
  RealVector b;  // m

  // y = W x + b for each column x of X (X.rows() == W.cols(), else
  // std::logic_error): each y starts at b and adds W's columns in order.
  RealMatrix forward(const RealMatrix& X) const;
};

// The full values of the five supports (A, B: m x n; c: n; D, E: m).
struct Supports {
  RealMatrix A;
  RealMatrix B;
  RealVector c;
  RealVector D;
  RealVector E;
};

Supports expand(const SlotTensors& A, const SlotTensors& B, const SlotTensors& C,
                const SlotTensors& D, const SlotTensors& E, Index m, Index n);

// A compile-time adapter's supports, after checking that the stored shapes
// are the spec's.
template <class T, class KA, class KB, class KC, class KD, class KE>
Supports expand(const glora::Adapter<T, KA, KB, KC, KD, KE>& ad, Index m, Index n,
                bool magnitude = false) {
  require_spec_shapes(ad, m, n);
  return expand(slot_tensors<KA>(ad.A, magnitude), slot_tensors<KB>(ad.B, magnitude),
                slot_tensors<KC>(ad.C, magnitude), slot_tensors<KD>(ad.D, magnitude),
                slot_tensors<KE>(ad.E, magnitude), m, n);
}

// A run-time adapter's supports under `config`.
template <class T>
Supports expand(const glora::DynamicAdapter<T>& a, const glora::LayerConfig& config, Index m,
                Index n, bool magnitude = false) {
  using glora::Slot;
  return expand(
      slot_tensors(a, Slot::A, config.A, magnitude), slot_tensors(a, Slot::B, config.B, magnitude),
      slot_tensors(a, Slot::C, config.C, magnitude), slot_tensors(a, Slot::D, config.D, magnitude),
      slot_tensors(a, Slot::E, config.E, magnitude), m, n);
}

// W = W0 + W0 (.) A + B;  b = b0 + b0 (.) D + E + W0 c  (b0 == nullptr: the
// layer has no bias, b = E + W0 c).
Reference combine(const RealMatrix& W0, const RealVector* b0, const Supports& s);

// The merged layer W, b for frozen W0 (m x n), optional b0 (nullptr: the
// layer has no bias) and the adapter's tensors.
template <class T, class KA, class KB, class KC, class KD, class KE>
Reference reference_layer(const glora::MatrixX<T>& W0, const glora::VectorX<T>* b0,
                          const glora::Adapter<T, KA, KB, KC, KD, KE>& ad, bool magnitude = false) {
  const Supports supports = expand(ad, W0.rows(), W0.cols(), magnitude);
  if (b0 == nullptr) {
    return combine(to_real(W0, magnitude), nullptr, supports);
  }
  const RealVector b0_real = to_real(*b0, magnitude);
  return combine(to_real(W0, magnitude), &b0_real, supports);
}

// The same for a run-time adapter under `config`.
template <class T>
Reference reference_layer(const glora::MatrixX<T>& W0, const glora::VectorX<T>* b0,
                          const glora::DynamicAdapter<T>& a, const glora::LayerConfig& config,
                          bool magnitude = false) {
  const Supports supports = expand(a, config, W0.rows(), W0.cols(), magnitude);
  if (b0 == nullptr) {
    return combine(to_real(W0, magnitude), nullptr, supports);
  }
  const RealVector b0_real = to_real(*b0, magnitude);
  return combine(to_real(W0, magnitude), &b0_real, supports);
}

// ----------------------------------------------------------- comparison

template <class T>
constexpr Real tolerance() {
  return std::is_same_v<T, float> ? Real(1e-5) : Real(1e-12);
}

// "" when `actual` has the shape of `expected` and every entry is within
// tol * magnitude of it; otherwise a description of the first mismatch.
std::string real_mismatch(const RealMatrix& actual, const RealMatrix& expected,
                          const RealMatrix& magnitude, Real tol);

// real_mismatch of any float or double matrix (its values are exact in long double).
template <class Derived>
std::string mismatch(const Eigen::MatrixBase<Derived>& actual, const RealMatrix& expected,
                     const RealMatrix& magnitude, Real tol) {
  return real_mismatch(actual.template cast<Real>(), expected, magnitude, tol);
}

// ------------------------------------------------------- random tensors

// Nonzero values: magnitude in [0.25, 1.25), random sign.
template <class T>
T nonzero(std::mt19937& rng) {
  std::uniform_real_distribution<double> magnitude(0.25, 1.25);
  std::bernoulli_distribution negative(0.5);
  const double v = magnitude(rng);
  return static_cast<T>(negative(rng) ? -v : v);
}

// A matrix or vector of nonzero values, drawn column by column.
template <class T>
glora::MatrixX<T> random_matrix(std::mt19937& rng, Index rows, Index cols) {
  glora::MatrixX<T> M(rows, cols);
  for (Index j = 0; j < cols; ++j) {
    for (Index i = 0; i < rows; ++i) {
      M(i, j) = nonzero<T>(rng);
    }
  }
  return M;
}

template <class T>
glora::VectorX<T> random_vector(std::mt19937& rng, Index size) {
  glora::VectorX<T> v(size);
  for (Index i = 0; i < size; ++i) {
    v(i) = nonzero<T>(rng);
  }
  return v;
}

// Instantiated in reference_formula.cpp.
extern template glora::MatrixX<float> random_matrix<float>(std::mt19937&, Index, Index);
extern template glora::MatrixX<double> random_matrix<double>(std::mt19937&, Index, Index);
extern template glora::VectorX<float> random_vector<float>(std::mt19937&, Index);
extern template glora::VectorX<double> random_vector<double>(std::mt19937&, Index);

template <class T, class K, class Support>
GLORA_TEST_OUT_OF_LINE void fill_slot(Support& s, std::mt19937& rng) {
  if constexpr (is_low_rank<K>) {
    s.down = random_matrix<T>(rng, s.down.rows(), s.down.cols());
    s.up = random_matrix<T>(rng, s.up.rows(), s.up.cols());
  } else if constexpr (is_vector<K>) {
    s.value = random_vector<T>(rng, s.value.size());
  } else if constexpr (is_scalar<K>) {
    s.value = nonzero<T>(rng);
  }
}

// Fills every stored tensor of the adapter with random nonzero values,
// after checking that the stored shapes are the spec's.
template <class T, class KA, class KB, class KC, class KD, class KE>
void fill_random(glora::Adapter<T, KA, KB, KC, KD, KE>& ad, Index m, Index n, std::mt19937& rng) {
  require_spec_shapes(ad, m, n);
  fill_slot<T, KA>(ad.A, rng);
  fill_slot<T, KB>(ad.B, rng);
  fill_slot<T, KC>(ad.C, rng);
  fill_slot<T, KD>(ad.D, rng);
  fill_slot<T, KE>(ad.E, rng);
}

}  // namespace glora_test

#endif  // GLORA_TESTS_REFERENCE_FORMULA_HPP
