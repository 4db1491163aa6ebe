// The supernet's slicing rule written out plainly (docs/contract.md, "The
// search space"): which entries of a layer's shared tensors a configuration
// uses, and the full values of A, B, c, D, E that it reads from them.
//
//   LoRA_k    the first k columns of down, the first k rows of up: X = down[:, :k] up[:k, :]
//   vector    column 0 of down (A, B: out entries, C: in entries); all of D or E
//   constant  down[0][0]; D[0] or E[0]
//
// Nothing here calls the library's arithmetic or its views; only the stored
// tensors of a DynamicAdapter are read. With reference_formula.hpp's combine()
// this gives the layer a run-time configuration must compute.
#ifndef GLORA_TESTS_DYNAMIC_FORMULA_HPP
#define GLORA_TESTS_DYNAMIC_FORMULA_HPP

#include "reference_formula.hpp"

#include <glora/glora.hpp>

#include <random>

namespace glora_test {

using glora::Choice;
using glora::Kind;
using glora::LayerConfig;
using glora::Slot;

template <class T>
const glora::MatrixX<T>& shared_down(const glora::DynamicAdapter<T>& a, Slot s) {
  return s == Slot::A ? a.Ad : s == Slot::B ? a.Bd : a.Cd;
}
template <class T>
const glora::MatrixX<T>& shared_up(const glora::DynamicAdapter<T>& a, Slot s) {
  return s == Slot::A ? a.Au : s == Slot::B ? a.Bu : a.Cu;
}

// A or B (rows x cols = out x in) or c (rows = in, cols = 1), as read by choice c.
template <class T>
RealMatrix full_from_shared(const glora::DynamicAdapter<T>& a, Slot s, Choice c, Index rows,
                            Index cols, bool magnitude) {
  const glora::MatrixX<T>& down = shared_down(a, s);
  const glora::MatrixX<T>& up = shared_up(a, s);
  RealMatrix full(rows, cols);
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      Real v = 0;
      if (c.kind == Kind::scalar) v = value_of(down(0, 0), magnitude);
      if (c.kind == Kind::vector) v = value_of(down(i, 0), magnitude);
      if (c.kind == Kind::low_rank) {
        for (Index k = 0; k < c.rank; ++k) {
          v += value_of(down(i, k), magnitude) * value_of(up(k, j), magnitude);
        }
      }
      full(i, j) = v;
    }
  }
  return full;
}

// D or E (out entries) as read by choice c.
template <class T>
RealVector bias_from_shared(const glora::VectorX<T>& v, Choice c, Index out, bool magnitude) {
  RealVector full(out);
  for (Index i = 0; i < out; ++i) {
    full(i) = c.kind == Kind::scalar   ? value_of(v(0), magnitude)
              : c.kind == Kind::vector ? value_of(v(i), magnitude)
                                       : Real(0);
  }
  return full;
}

// The full values that `config` reads from the shared tensors of an m x n layer.
template <class T>
Supports expand_shared(const glora::DynamicAdapter<T>& a, const LayerConfig& config, Index m,
                       Index n, bool magnitude = false) {
  return {full_from_shared(a, Slot::A, config.A, m, n, magnitude),
          full_from_shared(a, Slot::B, config.B, m, n, magnitude),
          RealVector(full_from_shared(a, Slot::C, config.C, n, 1, magnitude)),
          bias_from_shared(a.D, config.D, m, magnitude),
          bias_from_shared(a.E, config.E, m, magnitude)};
}

// The layer W, b that `config` gives over the shared tensors.
template <class T>
Reference shared_reference(const glora::MatrixX<T>& W0, const glora::VectorX<T>* b0,
                           const glora::DynamicAdapter<T>& a, const LayerConfig& config,
                           bool magnitude = false) {
  const Supports s = expand_shared(a, config, W0.rows(), W0.cols(), magnitude);
  if (b0 == nullptr) return combine(to_real(W0, magnitude), nullptr, s);
  const RealVector b = to_real(*b0, magnitude);
  return combine(to_real(W0, magnitude), &b, s);
}

// 1 where `config` reads an entry of the shared tensors, 0 elsewhere; laid
// out like `a` itself (the same eight tensors).
template <class T>
glora::DynamicAdapter<T> used_entries(const glora::DynamicAdapter<T>& a,
                                      const LayerConfig& config) {
  glora::DynamicAdapter<T> mask = glora::zeros_like(a);
  const auto mark_weight = [&](glora::MatrixX<T>& down, glora::MatrixX<T>& up, Choice c) {
    if (c.kind == Kind::scalar) down(0, 0) = 1;
    if (c.kind == Kind::vector) down.col(0).setOnes();
    if (c.kind == Kind::low_rank) {
      for (Index k = 0; k < c.rank; ++k) {
        down.col(k).setOnes();
        up.row(k).setOnes();
      }
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

// Fills every entry of every shared tensor (used or not) with a random nonzero value.
template <class T>
void fill_shared(glora::DynamicAdapter<T>& a, std::mt19937& rng) {
  glora::for_each_tensor(
      [&](const char*, glora::Role, auto t) { t = random_matrix<T>(rng, t.rows(), t.cols()); }, a);
}

}  // namespace glora_test

#endif  // GLORA_TESTS_DYNAMIC_FORMULA_HPP
