#pragma once
// merge: W = W0 + W0 ⊙ A + B and b = b0 + b0 ⊙ D + E + W0 c in one tiled pass.

#include <glora/adapter.hpp>
#include <glora/detail/bias.hpp>
#include <glora/detail/parallel.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <type_traits>

namespace glora::detail {

/// Tile of the merge: a few columns across many rows, so that each column of
/// W0 is a long contiguous run, and small enough for L2 with its scratch.
inline constexpr Eigen::Index merge_tile_rows = 512;
inline constexpr Eigen::Index merge_tile_cols = 64;

/// Writes one tile of the merged weight, W0t ⊙ (1 + A) + B. `scratch` holds
/// A's product. W0t is read in full before Wt is written (and each element of
/// W0t only for the same element of Wt), so the two may be the same memory.
template <typename T, typename Adapter, typename W0Tile, typename WTile>
void merge_tile(const Adapter& ad, Eigen::Index i0, Eigen::Index j0, const W0Tile& W0t, WTile&& Wt,
                MatrixX<T>& scratch) {
  using KA = typename Adapter::kind_a;
  using KB = typename Adapter::kind_b;
  const Eigen::Index h = W0t.rows(), w = W0t.cols();
  if constexpr (is_low_rank_v<KA>) {
    auto At = scratch.topLeftCorner(h, w);
    At.noalias() = ad.A.down.middleRows(i0, h) * ad.A.up.middleCols(j0, w);
    Wt.array() = W0t.array() * (T(1) + At.array());
  } else if constexpr (std::is_same_v<KA, Vector>) {
    Wt.array() = W0t.array().colwise() * (T(1) + ad.A.value.segment(i0, h).array());
  } else if constexpr (std::is_same_v<KA, Scalar>) {
    Wt = W0t * (T(1) + ad.A.value);
  } else {
    Wt = W0t;
  }
  if constexpr (is_low_rank_v<KB>) {
    Wt.noalias() += ad.B.down.middleRows(i0, h) * ad.B.up.middleCols(j0, w);
  } else if constexpr (std::is_same_v<KB, Vector>) {
    Wt.colwise() += ad.B.value.segment(i0, h);
  } else if constexpr (std::is_same_v<KB, Scalar>) {
    Wt.array() += ad.B.value;
  }
}

/// Writes the merged W (out x in) and b (out; or empty, for a layer that has
/// no bias and adds none, to merge W alone). W and b may be W0's and b0's
/// own storage: each tile of W0 is read (for A and for W0 c) before the same
/// tile of W is written, and the bias update is elementwise.
///
/// One pass over W0, split by rows between threads. A's product and the
/// prompt c are formed a tile at a time: besides W and b, the memory used is
/// one tile per thread (heap) and a slice of c (stack).
template <typename T, typename W0Type, typename B0Type, typename Adapter>
void merge(const W0Type& W0, const B0Type& b0, bool has_bias, const Adapter& ad,
           Eigen::Ref<MatrixX<T>> W, Eigen::Ref<VectorX<T>> b) {
  constexpr bool prompt = has_prompt_v<Adapter>;
  const Eigen::Index m = W0.rows();
  const Eigen::Index n = W0.cols();
  if (b.size() != 0) write_bias_without_prompt<T>(b0, has_bias, ad, b);

  const int threads = row_threads(double(m) * double(n));
  for_row_ranges(m, threads, [&](int, Eigen::Index begin, Eigen::Index end) {
    MatrixX<T> scratch;
    if constexpr (is_low_rank_v<typename Adapter::kind_a>) {
      scratch.resize(std::min(merge_tile_rows, end - begin), std::min(merge_tile_cols, n));
    }
    Eigen::Matrix<T, merge_tile_cols, 1> c;  // the slice of c that meets the column panel
    for (Eigen::Index j0 = 0; j0 < n; j0 += merge_tile_cols) {
      const Eigen::Index w = std::min(merge_tile_cols, n - j0);
      if constexpr (prompt) write_prompt_rows(ad.C, j0, c.head(w));
      for (Eigen::Index i0 = begin; i0 < end; i0 += merge_tile_rows) {
        const Eigen::Index h = std::min(merge_tile_rows, end - i0);
        const auto W0t = W0.block(i0, j0, h, w);
        if constexpr (prompt) b.segment(i0, h).noalias() += W0t * c.head(w);
        merge_tile<T>(ad, i0, j0, W0t, W.block(i0, j0, h, w), scratch);
      }
    }
  });
}

}  // namespace glora::detail
