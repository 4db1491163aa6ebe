#pragma once
// Workspace<T>: scratch memory for the forward passes, reused across calls.

#include <glora/detail/gemm.hpp>
#include <glora/detail/scratch.hpp>
#include <glora/support.hpp>

#include <memory>
#include <mutex>
#include <vector>

namespace glora {

namespace detail {

/// What one thread needs inside a forward (or Dense's backward): packing
/// buffers for Eigen's GEMM kernel, a tile of the adapted weight (in the
/// weight's storage order) with the scratch that forms it, and a tile of the
/// product of W0 and the right-hand sides.
template <typename T>
struct ThreadScratch {
  GemmBuffers<T> gemm;
  VectorX<T> tile;
  MergeScratch<T> merge;
  VectorX<T> product;
  VectorX<T> product_transposed;  ///< a tile of the product, transposed (row-major tiles)
};

}  // namespace detail

/// Scratch for the unmerged forward (Linear::forward, AdapterBank::forward)
/// and for Dense's forward and backward. Its buffers grow to fit the calls
/// seen and are then reused, so a forward like one seen before (the batch
/// size and, for a bank, the keys of its columns) allocates nothing; a smaller
/// one can take another path with other scratch. One workspace serves one
/// call at a time.
///
/// Size, for an m x n layer, a batch of N columns in G groups (one per
/// adapter) and a rank-r A: O(n · (1 + r) · min(N, 256) + (m + n) · G), plus
/// a tile of the product and one of the adapted weight per thread; never a
/// full m x n matrix. The members are the kernels' scratch, in no particular
/// shape: each is seen as a matrix of the size a call needs.
template <typename T>
struct Workspace {
  VectorX<T> stacked;           ///< one block's right-hand sides that share one pass over W0
  VectorX<T> gathered;          ///< one block of X, its columns in the order of their groups
  VectorX<T> input_transposed;  ///< one block of X, transposed (row-major tiles)
  VectorX<T> low_rank;          ///< B's up times one block of X
  VectorX<T> transposed;        ///< B's up, transposed
  VectorX<T> column_sums;       ///< one block of X's column sums, for a vector or scalar B
  VectorX<T> bias;              ///< each group's bias b0 + b0 ⊙ D + E + W0 c (out x groups)
  VectorX<T> prompt;            ///< each group's prompt c (in x groups with a prompt)
  std::vector<Eigen::Index> prompt_index;   ///< each group's column of `prompt`, or -1
  std::vector<Eigen::Index> stacked_index;  ///< each group's first own column of `stacked`, or -1
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
  /// The scratch of one call: the shared one, held until the lease ends, or
  /// a temporary when another call holds it. A type of the scratch alone, so
  /// that a call site costs no instantiation of its own.
  class Lease {
   public:
    explicit Lease(SharedWorkspace& shared) : lock_(shared.mutex_, std::try_to_lock) {
      if (lock_.owns_lock()) {
        scratch_ = &shared.workspace_;
      } else {
        temporary_ = std::make_unique<Scratch>();
        scratch_ = temporary_.get();
      }
    }
    Scratch& get() { return *scratch_; }

   private:
    std::unique_lock<std::mutex> lock_;
    std::unique_ptr<Scratch> temporary_;
    Scratch* scratch_ = nullptr;
  };

  SharedWorkspace() = default;
  SharedWorkspace(const SharedWorkspace&) {}
  SharedWorkspace& operator=(const SharedWorkspace&) { return *this; }

  Lease lease() { return Lease(*this); }

 private:
  std::mutex mutex_;
  Scratch workspace_;
};

}  // namespace detail

}  // namespace glora
