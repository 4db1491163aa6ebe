#pragma once
// Workspace<T>: scratch memory for the unmerged forward, reused across calls.

#include <glora/support.hpp>

namespace glora {

/// Scratch for Linear::forward. Its buffers grow to fit the largest call
/// seen and are then reused, so a forward at a batch size seen before
/// allocates nothing. One workspace serves one thread at a time.
template <typename T>
struct Workspace {
  MatrixX<T> stacked;   ///< the right-hand sides that share one pass over W0
  MatrixX<T> product;   ///< W0 times `stacked`
  MatrixX<T> low_rank;  ///< up · X for a low-rank B
  VectorX<T> bias;      ///< the effective bias b0 + b0 ⊙ D + E + W0 c
  VectorX<T> prompt;    ///< the prompt c, or W0 c
};

}  // namespace glora
