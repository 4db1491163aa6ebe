#pragma once
// Workspace<T>: scratch memory for the unmerged forward, reused across calls.

#include <glora/detail/gemm.hpp>
#include <glora/support.hpp>

#include <mutex>
#include <vector>

namespace glora {

namespace detail {

/// What one thread needs inside a forward: packing buffers for Eigen's GEMM
/// kernel and a tile of the adapted weight (in the weight's storage order).
template <typename T>
struct ThreadScratch {
  GemmBuffers<T> gemm;
  VectorX<T> tile;
};

}  // namespace detail

/// Scratch for Linear::forward. Its buffers grow to fit the largest call
/// seen and are then reused, so a forward at a batch size seen before
/// allocates nothing. One workspace serves one forward at a time.
///
/// Size: O((m + n) · r · N) for an m x n layer, a batch of N and a rank-r A,
/// plus one fixed-size tile per thread; never a full m x n matrix.
template <typename T>
struct Workspace {
  MatrixX<T> stacked;   ///< the right-hand sides that share one pass over W0
  MatrixX<T> product;   ///< W0 times `stacked`
  MatrixX<T> low_rank;  ///< B's up times X
  VectorX<T> bias;      ///< the effective bias b0 + b0 ⊙ D + E + W0 c
  VectorX<T> prompt;    ///< the prompt c
  std::vector<detail::ThreadScratch<T>> threads;  ///< one per thread of a forward
};

namespace detail {

/// A layer's own scratch (a Workspace or a BackwardWorkspace), used by its
/// const forward and backward. A call that finds it taken by a call on another
/// thread runs on a temporary one instead, so concurrent calls are correct
/// (those allocate). Copies start empty.
template <typename Scratch>
class SharedWorkspace {
 public:
  SharedWorkspace() = default;
  SharedWorkspace(const SharedWorkspace&) {}
  SharedWorkspace& operator=(const SharedWorkspace&) { return *this; }

  template <typename F>
  void use(F&& f) {
    std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
    if (lock.owns_lock()) {
      f(workspace_);
    } else {
      Scratch temporary;
      f(temporary);
    }
  }

 private:
  std::mutex mutex_;
  Scratch workspace_;
};

}  // namespace detail

}  // namespace glora
