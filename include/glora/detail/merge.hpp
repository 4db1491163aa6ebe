#pragma once
// merge: W = W0 + W0 ⊙ A + B and b = b0 + b0 ⊙ D + E + W0 c in one tiled pass.

#include <glora/adapter.hpp>
#include <glora/detail/bias.hpp>

#include <Eigen/Core>

#include <algorithm>

namespace glora::detail {

/// Writes the merged W (out x in) and b (out). W and b may be W0's and b0's
/// own storage: W0 c is taken first, and every other update of an entry reads
/// only that entry of W0.
template <typename T, typename W0Type, typename B0Type, typename Adapter>
void merge(const W0Type& W0, const B0Type& b0, bool has_bias, const Adapter& ad,
           Eigen::Ref<MatrixX<T>> W, Eigen::Ref<VectorX<T>> b) {
  using KA = typename Adapter::kind_a;
  using KB = typename Adapter::kind_b;
  const Eigen::Index m = W0.rows();
  const Eigen::Index n = W0.cols();

  if constexpr (has_prompt_v<Adapter>) {
    VectorX<T> c(n);
    write_prompt(ad.C, c);
    const VectorX<T> w0c = W0 * c;
    write_bias_without_prompt<T>(b0, has_bias, ad, b);
    b += w0c;
  } else {
    write_bias_without_prompt<T>(b0, has_bias, ad, b);
  }

  // Tiles small enough to stay in cache while A's product and W0 meet.
  constexpr Eigen::Index tile_rows = 256;
  constexpr Eigen::Index tile_cols = 64;
  MatrixX<T> a_tile;
  if constexpr (is_low_rank_v<KA>) a_tile.resize(std::min(m, tile_rows), std::min(n, tile_cols));

  for (Eigen::Index j0 = 0; j0 < n; j0 += tile_cols) {
    const Eigen::Index w = std::min(tile_cols, n - j0);
    for (Eigen::Index i0 = 0; i0 < m; i0 += tile_rows) {
      const Eigen::Index h = std::min(tile_rows, m - i0);
      auto Wt = W.block(i0, j0, h, w);
      const auto W0t = W0.block(i0, j0, h, w);
      if constexpr (is_low_rank_v<KA>) {
        auto At = a_tile.topLeftCorner(h, w);
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
  }
}

}  // namespace glora::detail
