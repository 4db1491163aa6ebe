#pragma once
// BackwardWorkspace<T>: scratch memory for the backward pass, reused across calls.

#include <glora/support.hpp>
#include <glora/workspace.hpp>

#include <vector>

namespace glora {

/// Scratch for Linear::backward. Its buffers grow to fit the largest call
/// seen and are then reused, so a backward at a batch size seen before
/// allocates nothing. One workspace serves one backward at a time.
template <typename T>
struct BackwardWorkspace {
  MatrixX<T> scaled_x;      ///< u_k ⊙ X for each row u_k of a low-rank A's up
  MatrixX<T> w0_x;          ///< W0 times X or `scaled_x`
  MatrixX<T> stacked;       ///< the right-hand sides that share one pass over W0ᵀ
  MatrixX<T> w0t_stacked;   ///< W0ᵀ times `stacked`
  MatrixX<T> low_rank;      ///< up · X, then downᵀ · dY, for a low-rank B
  VectorX<T> x_sums;        ///< the column sums of X, for a vector or scalar B
  VectorX<T> column_terms;  ///< (Bᵀ dY)'s value per column, for a vector or scalar B
  VectorX<T> dy_sums;       ///< the row sums of dY: the gradient w.r.t. the bias b
  std::vector<detail::ThreadScratch<T>> threads;  ///< one per thread of a product
};

}  // namespace glora
