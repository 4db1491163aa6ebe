// Every compile-time layer type of the paper's search space against the
// run-time layer set to the same configuration over the same tensors: Linear
// (column-major W0, owned) against DynamicLinear, and LinearView over a
// row-major W0 against DynamicLinearView, through every public path, with and
// without bias. Both run one arithmetic, so they must agree bit for bit;
// test_conformance.cpp checks the run-time layer against the formula and
// central differences.
#ifndef GLORA_TESTS_CONFORMANCE_TYPES_HPP
#define GLORA_TESTS_CONFORMANCE_TYPES_HPP

#include "conformance.hpp"
#include "search_space.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace glora_test {

/// The random tensors of one comparison: the base, an input and an output gradient.
template <class T>
struct Case {
  glora::MatrixX<T> W0;
  glora::VectorX<T> b0;
  glora::MatrixX<T> X;
  glora::MatrixX<T> dY;
};

template <class T>
GLORA_TEST_OUT_OF_LINE Case<T> random_case(std::mt19937& rng, Index m, Index n, Index N) {
  Case<T> c;
  c.W0 = random_matrix<T>(rng, m, n);
  c.b0 = random_vector<T>(rng, m);
  c.X = random_matrix<T>(rng, n, N);
  c.dY = random_matrix<T>(rng, m, N);
  return c;
}

/// What a compile-time layer gave: its tensors as it was observed, what
/// observe() saw, and what merge_in_place did.
template <class T>
struct CompileTimeSide {
  glora::DynamicAdapter<T> tensors;
  Observed<T> observed;
  InPlace<T> in_place;
};

/// The part of a comparison that depends on the layer type: only its own calls.
template <class Layer, class T = typename Layer::scalar_type>
GLORA_TEST_OUT_OF_LINE CompileTimeSide<T> compile_time_side(Layer& layer, const Case<T>& c,
                                                            std::mt19937& rng) {
  fill_random(layer.adapter(), c.W0.rows(), c.W0.cols(), rng);
  CompileTimeSide<T> side;
  side.tensors = glora::to_dynamic(layer.adapter());
  side.observed = observe(layer, c.X, c.dY);
  side.in_place = merge_in_place(layer, c.X);
  return side;
}

/// The run-time layer set to `config` and the compile-time side's tensors,
/// against that side; "" when they agree everywhere. Without `rows` the side
/// is a column-major Linear, compared with a DynamicLinear; with it, a
/// LinearView over `rows` and `rows_b`, compared with a DynamicLinearView over
/// row-major copies of the base, and the viewed storage after merge_in_place
/// with the view's.
template <class T>
GLORA_TEST_OUT_OF_LINE std::string run_time_difference(const Case<T>& c,
                                                       const glora::LayerConfig& config,
                                                       bool with_bias,
                                                       const CompileTimeSide<T>& fixed,
                                                       const glora::RowMajorMatrixX<T>* rows,
                                                       const glora::VectorX<T>* rows_b) {
  const auto compare = [&](auto& layer) {
    layer.adapter() = fixed.tensors;
    std::string why = difference(fixed.observed, observe(layer, c.X, c.dY));
    if (why.empty()) why = difference(fixed.in_place, merge_in_place(layer, c.X));
    return why;
  };
  if (rows == nullptr) {
    glora::DynamicLinear<T> dynamic = with_bias ? glora::DynamicLinear<T>(c.W0, c.b0, config)
                                                : glora::DynamicLinear<T>(c.W0, config);
    return compare(dynamic);
  }
  glora::RowMajorMatrixX<T> dynamic_rows = c.W0;
  glora::VectorX<T> dynamic_rows_b = c.b0;
  glora::DynamicLinearView<T> dynamic =
      with_bias ? glora::DynamicLinearView<T>(dynamic_rows, dynamic_rows_b, config)
                : glora::DynamicLinearView<T>(dynamic_rows, config);
  std::string why = compare(dynamic);
  if (why.empty() && !(*rows == dynamic_rows && *rows_b == dynamic_rows_b)) {
    why = "the viewed storage";
  }
  return why;
}

/// Both storage orders of one compile-time configuration against the run-time
/// layer; "" when they agree everywhere, else the first difference. The
/// layers are built with ?: rather than in a std::optional, which would be
/// instantiated for each of the 432 layer types these files compile.
template <class T, class KA, class KB, class KC, class KD, class KE>
GLORA_TEST_OUT_OF_LINE std::string compare_with_run_time_layer(std::mt19937& rng, Index m, Index n,
                                                               Index N, bool with_bias) {
  constexpr glora::LayerConfig config = glora::config_of<KA, KB, KC, KD, KE>();
  const Case<T> c = random_case<T>(rng, m, n, N);

  using Fixed = glora::Linear<T, KA, KB, KC, KD, KE>;
  Fixed fixed = with_bias ? Fixed(c.W0, c.b0) : Fixed(c.W0);
  std::string why = run_time_difference<T>(c, config, with_bias, compile_time_side(fixed, c, rng),
                                           nullptr, nullptr);
  if (!why.empty()) return "column-major: " + why;

  using View = glora::LinearView<T, KA, KB, KC, KD, KE>;
  glora::RowMajorMatrixX<T> rows = c.W0;
  glora::VectorX<T> rows_b = c.b0;
  View view = with_bias ? View(rows, rows_b) : View(rows);
  why =
      run_time_difference<T>(c, config, with_bias, compile_time_side(view, c, rng), &rows, &rows_b);
  if (!why.empty()) return "row-major: " + why;
  return {};
}

/// compare_with_run_time_layer for every configuration of a slice, float and
/// double, with and without bias, on 7 x 5 and 5 x 9 layers at batch 3.
/// Returns the number of configurations.
template <class Configs>
std::size_t compare_slice_with_run_time_layer(std::uint32_t seed) {
  std::mt19937 rng(seed);
  return search_space::for_each_config(Configs{}, [&](auto cfg) {
    using C = decltype(cfg);
    INFO((config_name<typename C::KA, typename C::KB, typename C::KC, typename C::KD,
                      typename C::KE>()));
    for (const bool with_bias : {true, false}) {
      INFO((with_bias ? "with bias" : "without bias"));
      CHECK(compare_with_run_time_layer<float, typename C::KA, typename C::KB, typename C::KC,
                                        typename C::KD, typename C::KE>(rng, 7, 5, 3, with_bias) ==
            "");
      CHECK(compare_with_run_time_layer<double, typename C::KA, typename C::KB, typename C::KC,
                                        typename C::KD, typename C::KE>(rng, 5, 9, 3, with_bias) ==
            "");
    }
  });
}

}  // namespace glora_test

#endif  // GLORA_TESTS_CONFORMANCE_TYPES_HPP
