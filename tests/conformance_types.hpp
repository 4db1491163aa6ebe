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

/// Names a layer type to a generic lambda.
template <class Layer>
struct tag {
  using type = Layer;
};

/// Both storage orders of one compile-time configuration against the run-time
/// layer; "" when they agree everywhere, else the first difference.
template <class T, class KA, class KB, class KC, class KD, class KE>
GLORA_TEST_OUT_OF_LINE std::string compare_with_run_time_layer(std::mt19937& rng, Index m, Index n,
                                                               Index N, bool with_bias) {
  constexpr glora::LayerConfig config = glora::config_of<KA, KB, KC, KD, KE>();
  glora::MatrixX<T> W0 = random_matrix<T>(rng, m, n);
  glora::VectorX<T> b0 = random_vector<T>(rng, m);
  const glora::MatrixX<T> X = random_matrix<T>(rng, n, N);
  const glora::MatrixX<T> dY = random_matrix<T>(rng, m, N);

  // Each layer is built in place from a returned prvalue: these files
  // instantiate 432 layer types, and the less each one pulls in (no
  // std::optional around it), the less they cost to compile.
  const auto make = [&](auto layer_tag, auto& weight, auto& bias, auto... run_time_config) {
    using Layer = typename decltype(layer_tag)::type;
    if (with_bias) return Layer(weight, bias, run_time_config...);
    return Layer(weight, run_time_config...);
  };

  glora::Linear<T, KA, KB, KC, KD, KE> fixed =
      make(tag<glora::Linear<T, KA, KB, KC, KD, KE>>{}, W0, b0);
  glora::DynamicLinear<T> dynamic = make(tag<glora::DynamicLinear<T>>{}, W0, b0, config);
  fill_random(fixed.adapter(), m, n, rng);
  dynamic.adapter() = glora::to_dynamic(fixed.adapter());
  std::string why = difference(observe(fixed, X, dY), observe(dynamic, X, dY));
  if (!why.empty()) return "column-major: " + why;
  why = difference(merge_in_place(fixed, X), merge_in_place(dynamic, X));
  if (!why.empty()) return "column-major: " + why;

  glora::RowMajorMatrixX<T> rows = W0, dynamic_rows = W0;
  glora::VectorX<T> rows_b = b0, dynamic_rows_b = b0;
  glora::LinearView<T, KA, KB, KC, KD, KE> view =
      make(tag<glora::LinearView<T, KA, KB, KC, KD, KE>>{}, rows, rows_b);
  glora::DynamicLinearView<T> dynamic_view =
      make(tag<glora::DynamicLinearView<T>>{}, dynamic_rows, dynamic_rows_b, config);
  fill_random(view.adapter(), m, n, rng);
  dynamic_view.adapter() = glora::to_dynamic(view.adapter());
  why = difference(observe(view, X, dY), observe(dynamic_view, X, dY));
  if (!why.empty()) return "row-major: " + why;
  why = difference(merge_in_place(view, X), merge_in_place(dynamic_view, X));
  if (!why.empty()) return "row-major: " + why;
  if (!(rows == dynamic_rows && rows_b == dynamic_rows_b)) return "row-major: the viewed storage";
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
