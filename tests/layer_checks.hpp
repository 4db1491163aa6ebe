// Catch2 checks shared by the conformance tests: one layer configuration,
// built on random frozen weights and random nonzero support tensors, checked
// against the plain formula of reference_formula.hpp through every public
// evaluation path (forward, merge, merge_into).
//
// The part that depends on the configuration is kept to the library calls
// themselves; expanding the supports and all the comparisons happen in code
// that depends only on the scalar type, so that the hundreds of
// configurations of the search space stay cheap to compile.
#ifndef GLORA_TESTS_LAYER_CHECKS_HPP
#define GLORA_TESTS_LAYER_CHECKS_HPP

#include "reference_formula.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <random>
#include <string>
#include <type_traits>

namespace glora_test {

// What one layer gave through each public path.
template <class T>
struct Observed {
  Index out_features = 0;
  Index in_features = 0;
  bool has_bias = false;
  glora::MatrixX<T> weight;          // weight() after everything else ran
  glora::VectorX<T> bias;            // bias() after everything else ran
  glora::MatrixX<T> forward;         // forward(X)
  glora::MatrixX<T> forward_into;    // forward(X, Y)
  glora::Dense<T> merged;            // merge()
  glora::MatrixX<T> merged_forward;  // merge().forward(X)
  glora::MatrixX<T> merge_into_W;    // merge_into(W, b)
  glora::VectorX<T> merge_into_b;
};

template <class T>
GLORA_TEST_OUT_OF_LINE void check_observed(const Observed<T>& got, const std::string& description,
                                           const glora::MatrixX<T>& W0, const glora::VectorX<T>* b0,
                                           const glora::MatrixX<T>& X,
                                           const Supports& exact_supports,
                                           const Supports& size_supports) {
  INFO(type_name<T>() << " " << description << ", " << W0.rows() << " x " << W0.cols()
                      << (b0 != nullptr ? " with bias" : " without bias") << ", batch "
                      << X.cols());
  REQUIRE(got.out_features == W0.rows());
  REQUIRE(got.in_features == W0.cols());
  REQUIRE(got.has_bias == (b0 != nullptr));

  // The reference, and the same formula on magnitudes as the error bound.
  const RealVector b0_exact = b0 != nullptr ? RealVector(to_real(*b0)) : RealVector();
  const RealVector b0_size = b0 != nullptr ? RealVector(to_real(*b0, true)) : RealVector();
  const Reference exact = combine(to_real(W0), b0 != nullptr ? &b0_exact : nullptr, exact_supports);
  const Reference size =
      combine(to_real(W0, true), b0 != nullptr ? &b0_size : nullptr, size_supports);
  const RealMatrix Y_exact = exact.forward(to_real(X));
  const RealMatrix Y_size = size.forward(to_real(X, true));
  const Real tol = tolerance<T>();

  CHECK(mismatch(got.forward, Y_exact, Y_size, tol) == "");
  CHECK(mismatch(got.forward_into, Y_exact, Y_size, tol) == "");
  CHECK(mismatch(got.merged.weight, exact.W, size.W, tol) == "");
  CHECK(mismatch(got.merged.bias, exact.b, size.b, tol) == "");
  CHECK(mismatch(got.merged_forward, Y_exact, Y_size, tol) == "");
  CHECK(mismatch(got.merge_into_W, exact.W, size.W, tol) == "");
  CHECK(mismatch(got.merge_into_b, exact.b, size.b, tol) == "");

  // The frozen base is left as it was given.
  CHECK(got.weight == W0);
  if (b0 != nullptr) {
    CHECK(got.bias == *b0);
  } else {
    CHECK(got.bias.size() == 0);
  }
}

// Builds glora::Linear<T, KA..KE> on random W0 (m x n) and b0 (or no bias),
// fills its adapter with random nonzero tensors, and checks forward(X),
// forward(X, Y), merge(), merge().forward(X) and merge_into(W, b) against the
// plain formula.
template <class T, class KA, class KB, class KC, class KD, class KE>
void check_layer_against_formula(std::mt19937& rng, Index m, Index n, Index batch, bool with_bias) {
  using Layer = glora::Linear<T, KA, KB, KC, KD, KE>;
  const glora::MatrixX<T> W0 = random_matrix<T>(rng, m, n);
  const glora::VectorX<T> b0 = random_vector<T>(rng, m);
  const glora::MatrixX<T> X = random_matrix<T>(rng, n, batch);
  std::optional<Layer> made;
  if (with_bias) {
    made.emplace(W0, b0);
  } else {
    made.emplace(W0);
  }
  Layer& layer = *made;
  fill_random(layer.adapter(), m, n, rng);
  const Layer& frozen = layer;

  Observed<T> got;
  got.out_features = frozen.out_features();
  got.in_features = frozen.in_features();
  got.has_bias = frozen.has_bias();
  got.forward = frozen.forward(X);
  got.forward_into = glora::MatrixX<T>::Constant(m, batch, sentinel<T>());
  frozen.forward(X, got.forward_into);
  got.merged = frozen.merge();
  got.merged_forward = got.merged.forward(X);
  got.merge_into_W = glora::MatrixX<T>::Constant(m, n, sentinel<T>());
  got.merge_into_b = glora::VectorX<T>::Constant(m, sentinel<T>());
  frozen.merge_into(got.merge_into_W, got.merge_into_b);
  got.weight = frozen.weight();
  got.bias = frozen.bias();

  check_observed<T>(got, config_name<KA, KB, KC, KD, KE>(), W0, with_bias ? &b0 : nullptr, X,
                    expand(frozen.adapter(), m, n), expand(frozen.adapter(), m, n, true));
}

}  // namespace glora_test

#endif  // GLORA_TESTS_LAYER_CHECKS_HPP
