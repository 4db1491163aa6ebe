// The supernet's shared tensors as the tests see them (docs/contract.md, "The
// search space"): every choice reads the top-left corner of its tensors,
//
//   LoRA_k    the first k columns of down, the first k rows of up
//   vector    column 0 of down (A, B: out entries, C: in entries); all of D or E
//   constant  down[0][0]; D[0] or E[0]
//
// written out here plainly, without the library's views.
#ifndef GLORA_TESTS_SHARED_TENSORS_HPP
#define GLORA_TESTS_SHARED_TENSORS_HPP

#include "reference_formula.hpp"

#include <glora/glora.hpp>

#include <random>

namespace glora_test {

/// 1 where `config` reads an entry of the shared tensors `a`, 0 elsewhere;
/// laid out like `a` (the same eight tensors).
template <class T>
glora::DynamicAdapter<T> used_entries(const glora::DynamicAdapter<T>& a,
                                      const glora::LayerConfig& config) {
  using glora::Choice;
  using glora::Kind;
  glora::DynamicAdapter<T> mask = glora::zeros_like(a);
  const auto mark_weight = [](glora::MatrixX<T>& down, glora::MatrixX<T>& up, Choice c) {
    if (c.kind == Kind::scalar) down(0, 0) = 1;
    if (c.kind == Kind::vector) down.col(0).setOnes();
    if (c.kind == Kind::low_rank) {
      down.leftCols(c.rank).setOnes();
      up.topRows(c.rank).setOnes();
    }
  };
  mark_weight(mask.Ad, mask.Au, config.A);
  mark_weight(mask.Bd, mask.Bu, config.B);
  mark_weight(mask.Cd, mask.Cu, config.C);
  const auto mark_bias = [](glora::VectorX<T>& v, Choice c) {
    if (c.kind == Kind::scalar) v(0) = 1;
    if (c.kind == Kind::vector) v.setOnes();
  };
  mark_bias(mask.D, config.D);
  mark_bias(mask.E, config.E);
  return mask;
}

/// Fills every entry of every shared tensor (read or not) with a random nonzero value.
template <class T>
void fill_shared(glora::DynamicAdapter<T>& a, std::mt19937& rng) {
  glora::for_each_tensor(
      [&](const char*, glora::Role, auto t) { t = random_matrix<T>(rng, t.rows(), t.cols()); }, a);
}

}  // namespace glora_test

#endif  // GLORA_TESTS_SHARED_TENSORS_HPP
