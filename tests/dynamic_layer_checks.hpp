// The run-time configured layer against the compile-time layer of the same
// kinds, over the whole search space of the paper.
//
// One set of shared tensors, sized for ranks {5, 3} (A, B, C of rank 5, D and
// E vectors) and filled with random nonzero values everywhere, serves every
// configuration at rank 3: the dynamic layer reads it through the slicing
// rule, and the compile-time layer Linear<T, KA..KE> gets its tensors copied
// out of it by the rule written again here (take). Both must give the same
// numbers, bit for bit (they share the kernels): forward(X), forward(X, Y),
// merge(), merge_into(W, b) and backward(), whose gradients, put back into the shared layout by the
// rule (place), must equal the dynamic layer's exactly, zero in every entry the configuration does
// not read. The dynamic layer's forward and merge are also checked against the formula written out
// plainly (dynamic_formula.hpp). Each configuration runs with and without bias, column-major W0
// (DynamicLinear) and row-major W0 (DynamicLinearView over a RowMajorMatrixX),
// on a 7 x 5 and a 5 x 9 layer.
#ifndef GLORA_TESTS_DYNAMIC_LAYER_CHECKS_HPP
#define GLORA_TESTS_DYNAMIC_LAYER_CHECKS_HPP

#include "dynamic_formula.hpp"
#include "search_space.hpp"

#include <glora/glora.hpp>
#include <glora/search.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <random>
#include <string>

namespace glora_test::dynamic {

template <class T>
using Matrix = glora::MatrixX<T>;
template <class T>
using RowMatrix = glora::RowMajorMatrixX<T>;
template <class T>
using Vector = glora::VectorX<T>;

/// The capacity of the shared tensors: the paper's {5, 3} supernet.
inline LayerConfig capacity() { return glora::SearchSpace::reference({5, 3}).capacity(); }

/// One layer's frozen base, inputs and shared tensors.
template <class T>
struct Case {
  Matrix<T> W0;                 // out x in
  RowMatrix<T> W0_row;          // the same values, row-major
  std::optional<Vector<T>> b0;  // out, or no bias
  Matrix<T> X;                  // in x batch
  Matrix<T> dY;                 // out x batch
  glora::DynamicAdapter<T> shared;

  bool row_major = false;
  const Vector<T>* bias() const { return b0 ? &*b0 : nullptr; }
  std::string describe() const {
    return std::to_string(W0.rows()) + " x " + std::to_string(W0.cols()) +
           (b0 ? " with bias" : " without bias") + (row_major ? ", row-major W0" : "");
  }
};

template <class T>
GLORA_TEST_OUT_OF_LINE Case<T> make_case(std::mt19937& rng, Index out, Index in, bool with_bias,
                                         bool row_major) {
  Case<T> c{random_matrix<T>(rng, out, in),
            {},
            {},
            random_matrix<T>(rng, in, 3),
            random_matrix<T>(rng, out, 3),
            glora::DynamicAdapter<T>(capacity(), out, in),
            row_major};
  c.W0_row = c.W0;
  if (with_bias) c.b0 = random_vector<T>(rng, out);
  fill_shared(c.shared, rng);
  return c;
}

/// What a layer gave through each public path.
template <class T>
struct Outputs {
  Matrix<T> forward, forward_into, into_W, dX;
  Vector<T> into_b;
  glora::Dense<T> merged;
  glora::DynamicAdapter<T> grads;  // in the shared layout
};

/// Outputs whose caller-sized storage (forward_into, into_W, into_b) holds a
/// value no computation here gives, so that a skipped write shows.
template <class T>
GLORA_TEST_OUT_OF_LINE Outputs<T> unwritten(const Case<T>& c) {
  const Index m = c.W0.rows(), n = c.W0.cols();
  Outputs<T> o;
  o.forward_into = Matrix<T>::Constant(m, c.X.cols(), sentinel<T>());
  o.into_W = Matrix<T>::Constant(m, n, sentinel<T>());
  o.into_b = Vector<T>::Constant(m, sentinel<T>());
  return o;
}

/// Runs forward, merges and backward; `grads` is the layer's own gradient
/// set, zero on entry. The part that depends on the layer's type is kept to
/// the calls: it is compiled once per configuration.
template <class T, class Layer, class Grads>
void observe(const Layer& layer, const Case<T>& c, Grads& grads, Outputs<T>& o) {
  o.forward = layer.forward(c.X);
  layer.forward(c.X, o.forward_into);
  o.merged = layer.merge();
  layer.merge_into(o.into_W, o.into_b);
  o.dX = layer.backward(c.X, c.dY, grads);
}

// ------------------------------------------------ the slicing rule, written again

/// Copies the part of a shared A, B or C that kind K reads into a compile-time support.
template <class K, class T, class Support>
GLORA_TEST_OUT_OF_LINE void take(Support& to, const Matrix<T>& down, const Matrix<T>& up) {
  if constexpr (is_low_rank<K>) {
    to.down = down.leftCols(rank_of<K>);
    to.up = up.topRows(rank_of<K>);
  } else if constexpr (is_vector<K>) {
    to.value = down.col(0);
  } else if constexpr (is_scalar<K>) {
    to.value = down(0, 0);
  }
}

/// The same for D or E.
template <class K, class T, class Support>
GLORA_TEST_OUT_OF_LINE void take(Support& to, const Vector<T>& v) {
  if constexpr (is_vector<K>) {
    to.value = v;
  } else if constexpr (is_scalar<K>) {
    to.value = v(0);
  }
}

/// The inverse: a compile-time support's values back to where the rule reads them.
template <class K, class T, class Support>
GLORA_TEST_OUT_OF_LINE void place(const Support& from, Matrix<T>& down, Matrix<T>& up) {
  if constexpr (is_low_rank<K>) {
    down.leftCols(rank_of<K>) = from.down;
    up.topRows(rank_of<K>) = from.up;
  } else if constexpr (is_vector<K>) {
    down.col(0) = from.value;
  } else if constexpr (is_scalar<K>) {
    down(0, 0) = from.value;
  }
}

template <class K, class T, class Support>
GLORA_TEST_OUT_OF_LINE void place(const Support& from, Vector<T>& v) {
  if constexpr (is_vector<K>) {
    v = from.value;
  } else if constexpr (is_scalar<K>) {
    v(0) = from.value;
  }
}

// ------------------------------------------------------------ the two layers

/// The compile-time layer of kinds KA..KE over the case's base, with its
/// tensors taken from the shared ones.
template <class T, class KA, class KB, class KC, class KD, class KE>
Outputs<T> compile_time_outputs(const Case<T>& c) {
  using Layer = glora::Linear<T, KA, KB, KC, KD, KE>;
  std::optional<Layer> made;
  if (c.row_major) {
    c.b0 ? made.emplace(c.W0_row, *c.b0) : made.emplace(c.W0_row);
  } else {
    c.b0 ? made.emplace(c.W0, *c.b0) : made.emplace(c.W0);
  }
  auto& a = made->adapter();
  const glora::DynamicAdapter<T>& s = c.shared;
  take<KA>(a.A, s.Ad, s.Au);
  take<KB>(a.B, s.Bd, s.Bu);
  take<KC>(a.C, s.Cd, s.Cu);
  take<KD>(a.D, s.D);
  take<KE>(a.E, s.E);

  Outputs<T> o = unwritten(c);
  auto grads = glora::zeros_like(a);
  observe(*made, c, grads, o);
  o.grads = glora::zeros_like(s);
  place<KA>(grads.A, o.grads.Ad, o.grads.Au);
  place<KB>(grads.B, o.grads.Bd, o.grads.Bu);
  place<KC>(grads.C, o.grads.Cd, o.grads.Cu);
  place<KD>(grads.D, o.grads.D);
  place<KE>(grads.E, o.grads.E);
  return o;
}

/// The run-time layer over the case's base and its shared tensors, set to `config`.
template <class T>
GLORA_TEST_OUT_OF_LINE Outputs<T> run_time_outputs(const Case<T>& c, const LayerConfig& config) {
  Outputs<T> o = unwritten(c);
  o.grads = glora::zeros_like(c.shared);
  const auto run = [&](auto& layer) {
    layer.adapter() = c.shared;
    layer.set_config(config);
    REQUIRE(layer.config() == config);
    observe(layer, c, o.grads, o);
  };
  if (c.row_major) {
    glora::DynamicLinearView<T> view =
        c.b0 ? glora::DynamicLinearView<T>(c.W0_row, *c.b0, capacity())
             : glora::DynamicLinearView<T>(c.W0_row, capacity());
    run(view);
  } else {
    glora::DynamicLinear<T> layer = c.b0 ? glora::DynamicLinear<T>(c.W0, *c.b0, capacity())
                                         : glora::DynamicLinear<T>(c.W0, capacity());
    run(layer);
  }
  return o;
}

// ---------------------------------------------------------------- comparing

/// Every output of the two layers identical; the run-time layer's forward
/// and merge also within rounding of the formula.
template <class T>
GLORA_TEST_OUT_OF_LINE void compare(const Outputs<T>& fixed, const Outputs<T>& dynamic,
                                    const Case<T>& c, const LayerConfig& config) {
  INFO(type_name<T>() << " " << glora::to_short_string(config) << ", " << c.describe());
  CHECK(dynamic.forward == fixed.forward);
  CHECK(dynamic.forward_into == fixed.forward_into);
  CHECK(dynamic.merged.weight == fixed.merged.weight);
  CHECK(dynamic.merged.bias == fixed.merged.bias);
  CHECK(dynamic.into_W == fixed.into_W);
  CHECK(dynamic.into_b == fixed.into_b);
  CHECK(dynamic.dX == fixed.dX);
  glora::for_each_tensor(
      [&](const char* name, glora::Role, const auto& d, const auto& f) {
        INFO("gradient of " << name);
        CHECK(d == f);
      },
      dynamic.grads, fixed.grads);

  const Reference exact = shared_reference(c.W0, c.bias(), c.shared, config);
  const Reference size = shared_reference(c.W0, c.bias(), c.shared, config, true);
  const RealMatrix Y_size = size.forward(to_real(c.X, true));
  CHECK(mismatch(dynamic.forward, exact.forward(to_real(c.X)), Y_size, tolerance<T>()) == "");
  CHECK(mismatch(dynamic.merged.weight, exact.W, size.W, tolerance<T>()) == "");
  CHECK(mismatch(dynamic.into_b, exact.b, size.b, tolerance<T>()) == "");
}

/// Compares the two layers on every configuration of the paper's space (at
/// rank 3, search_space.hpp), for every case. Returns the configurations seen.
template <class T>
std::size_t check_search_space(std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Case<T>> cases;
  for (const bool row_major : {false, true}) {
    for (const bool with_bias : {true, false}) {
      cases.push_back(make_case<T>(rng, 7, 5, with_bias, row_major));
      cases.push_back(make_case<T>(rng, 5, 9, with_bias, row_major));
    }
  }
  return search_space::for_each_config(search_space::all_configs{}, [&](auto cfg) {
    using C = decltype(cfg);
    constexpr LayerConfig config = glora::config_of<typename C::KA, typename C::KB, typename C::KC,
                                                    typename C::KD, typename C::KE>();
    for (const Case<T>& c : cases) {
      compare(compile_time_outputs<T, typename C::KA, typename C::KB, typename C::KC,
                                   typename C::KD, typename C::KE>(c),
              run_time_outputs(c, config), c, config);
    }
  });
}

}  // namespace glora_test::dynamic

#endif  // GLORA_TESTS_DYNAMIC_LAYER_CHECKS_HPP
