#pragma once
// merge: W = W0 + W0 ⊙ A + B and b = b0 + b0 ⊙ D + E + W0 c in one tiled pass.

#include <glora/adapter.hpp>
#include <glora/detail/bias.hpp>
#include <glora/detail/parallel.hpp>
#include <glora/detail/unroll.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <type_traits>

namespace glora::detail {

/// Tile of the merge: a few columns across many rows, so that each column of
/// W0 is a long contiguous run, and small enough for L2 with its scratch.
inline constexpr Eigen::Index merge_tile_rows = 512;
inline constexpr Eigen::Index merge_tile_cols = 64;

/// Ranks up to this are merged column by column with the R values of the up
/// factor's column in registers; larger ranks form the tile's product with
/// Eigen's GEMM.
inline constexpr int max_column_rank = 8;

/// Whether a slot's low-rank product is merged column by column.
template <typename K>
inline constexpr bool column_low_rank_v = (is_low_rank_v<K> && rank_v<K> <= max_column_rank);

/// Rows [i0, i0 + h) of a down factor D (column stride ldd, R columns),
/// repacked so that the R packets of each group of P rows are adjacent. Read
/// in place, D's columns are R streams whose stride is often a multiple of
/// 4 KB, which all land in one set of the L1 cache.
template <int R, typename T>
void pack_down_rows(const T* d, Eigen::Index ldd, Eigen::Index h, T* packed) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<T>::type;
  constexpr int P = packet_traits<T>::size;
  for (Eigen::Index p = 0; (p + 1) * P <= h; ++p) {
    unroll<R>(
        [&](auto k) { pstoreu(packed + (p * R + k) * P, ploadu<Packet>(d + p * P + k * ldd)); });
  }
}

/// out = in + in ⊙ (D u) when `Scaled` (slot A), out = in + D u otherwise
/// (slot B), for one column of h rows. D comes packed by pack_down_rows for
/// whole packets of rows, and as the factor itself (d, ldd) for the last
/// h mod P rows; u holds the R values of the up factor's column. `out` may be
/// `in`.
template <int R, bool Scaled, typename T>
void low_rank_column(const T* packed, const T* d, Eigen::Index ldd, const T* u, const T* in, T* out,
                     Eigen::Index h) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<T>::type;
  constexpr int P = packet_traits<T>::size;
  Packet uv[R];
  unroll<R>([&](auto k) { uv[k] = pset1<Packet>(u[k]); });
  const auto finish = [](auto x, auto sum) { return Scaled ? pmadd(x, sum, x) : padd(x, sum); };
  Eigen::Index i = 0;
  // G packets of rows per step: G independent chains of R multiply-adds.
  const auto steps = [&](auto groups) {
    constexpr int G = decltype(groups)::value;
    for (; i + G * P <= h; i += G * P, packed += G * R * P) {
      Packet sum[G];
      unroll<G>([&](auto g) { sum[g] = pmul(ploadu<Packet>(packed + g * R * P), uv[0]); });
      unroll<R - 1>([&](auto k) {
        unroll<G>([&](auto g) {
          sum[g] = pmadd(ploadu<Packet>(packed + (g * R + k + 1) * P), uv[k + 1], sum[g]);
        });
      });
      unroll<G>([&](auto g) {
        pstoreu(out + i + g * P, finish(ploadu<Packet>(in + i + g * P), sum[g]));
      });
    }
  };
  steps(std::integral_constant<int, 4>());
  steps(std::integral_constant<int, 1>());
  for (; i < h; ++i) {
    T sum = d[i] * u[0];
    unroll<R - 1>([&](auto k) { sum += d[i + (k + 1) * ldd] * u[k + 1]; });
    out[i] = finish(in[i], sum);
  }
}

/// One tile of out = in + in ⊙ (down up) when `Scaled` (slot A), or
/// out = in + down up (slot B), column by column; `in` may be `out`. The
/// tile's rows of down are packed into `packed` first. They are packed again
/// for every column panel: a tile's worth of copying against 64 times as many
/// multiply-adds, and the scratch stays tile-sized.
template <bool Scaled, typename Support, typename InTile, typename OutTile, typename T>
void low_rank_columns(const Support& s, Eigen::Index i0, Eigen::Index j0, const InTile& in,
                      OutTile& out, VectorX<T>& packed) {
  constexpr int R = rank_v<typename Support::kind>;
  const Eigen::Index h = in.rows();
  const T* down = s.down.data() + i0;
  pack_down_rows<R>(down, s.down.outerStride(), h, packed.data());
  for (Eigen::Index j = 0; j < in.cols(); ++j) {
    low_rank_column<R, Scaled>(packed.data(), down, s.down.outerStride(), s.up.col(j0 + j).data(),
                               in.data() + j * in.outerStride(), out.data() + j * out.outerStride(),
                               h);
  }
}

/// Per-thread scratch of the merge: A's product for a tile when it is formed
/// by GEMM, and the tile's rows of A's and B's down factors, packed, when they
/// are merged column by column.
template <typename T>
struct MergeScratch {
  MatrixX<T> product;
  VectorX<T> down_a;
  VectorX<T> down_b;
};

/// Writes one tile of the merged weight, W0t ⊙ (1 + A) + B. W0t is read in
/// full before Wt is written (and each element of W0t only for the same
/// element of Wt), so the two may be the same memory.
template <typename T, typename KA, typename KB, typename W0Tile, typename WTile>
void merge_tile(const Support<T, Slot::A, KA>& A, const Support<T, Slot::B, KB>& B, Eigen::Index i0,
                Eigen::Index j0, const W0Tile& W0t, WTile&& Wt, MergeScratch<T>& scratch) {
  const Eigen::Index h = W0t.rows(), w = W0t.cols();
  if constexpr (column_low_rank_v<KA>) {
    low_rank_columns<true>(A, i0, j0, W0t, Wt, scratch.down_a);
  } else if constexpr (is_low_rank_v<KA>) {
    auto At = scratch.product.topLeftCorner(h, w);
    At.noalias() = A.down.middleRows(i0, h) * A.up.middleCols(j0, w);
    Wt.array() = W0t.array() * (T(1) + At.array());
  } else if constexpr (std::is_same_v<KA, Vector>) {
    Wt.array() = W0t.array().colwise() * (T(1) + A.value.segment(i0, h).array());
  } else if constexpr (std::is_same_v<KA, Scalar>) {
    Wt = W0t * (T(1) + A.value);
  } else {
    Wt = W0t;
  }
  if constexpr (column_low_rank_v<KB>) {
    low_rank_columns<false>(B, i0, j0, Wt, Wt, scratch.down_b);
  } else if constexpr (is_low_rank_v<KB>) {
    Wt.noalias() += B.down.middleRows(i0, h) * B.up.middleCols(j0, w);
  } else if constexpr (std::is_same_v<KB, Vector>) {
    Wt.colwise() += B.value.segment(i0, h);
  } else if constexpr (std::is_same_v<KB, Scalar>) {
    Wt.array() += B.value;
  }
}

/// Writes the merged weight W = W0 ⊙ (1 + A) + B (out x in) and adds the
/// prompt term W0 c to b (out; may be empty when slot C is None). Templated
/// on the three slots it reads rather than on the whole adapter, so that
/// layers which differ only in D or E share one instance. W may be W0's own
/// storage: each tile of W0 is read (for A and for W0 c) before the same tile
/// of W is written.
///
/// One pass over W0, split by rows between threads, a panel of columns at a
/// time (each column of the panel is a contiguous run of W0). A's and B's
/// products and the prompt c are formed a tile at a time: besides W and b, the
/// memory used is a tile's worth of scratch per thread (heap) and a slice of c
/// (stack).
template <typename T, typename W0Type, typename KA, typename KB, typename KC>
void merge_weight(const W0Type& W0, const Support<T, Slot::A, KA>& A,
                  const Support<T, Slot::B, KB>& B, const Support<T, Slot::C, KC>& C,
                  Eigen::Ref<MatrixX<T>> W, Eigen::Ref<VectorX<T>> b) {
  constexpr bool prompt = adds_prompt_v<KC>;
  const Eigen::Index m = W0.rows();
  const Eigen::Index n = W0.cols();
  const int threads = row_threads(double(m) * double(n));
  for_row_ranges(m, threads, [&](int, Eigen::Index begin, Eigen::Index end) {
    MergeScratch<T> scratch;
    const Eigen::Index band = std::min(merge_tile_rows, end - begin);
    if constexpr (column_low_rank_v<KA>) scratch.down_a.resize(band * rank_v<KA>);
    if constexpr (is_low_rank_v<KA> && !column_low_rank_v<KA>) {
      scratch.product.resize(band, std::min(merge_tile_cols, n));
    }
    if constexpr (column_low_rank_v<KB>) scratch.down_b.resize(band * rank_v<KB>);
    Eigen::Matrix<T, merge_tile_cols, 1> c;  // the slice of c that meets the column panel
    for (Eigen::Index j0 = 0; j0 < n; j0 += merge_tile_cols) {
      const Eigen::Index w = std::min(merge_tile_cols, n - j0);
      if constexpr (prompt) write_prompt_rows(C, j0, c.head(w));
      for (Eigen::Index i0 = begin; i0 < end; i0 += merge_tile_rows) {
        const Eigen::Index h = std::min(merge_tile_rows, end - i0);
        const auto W0t = W0.block(i0, j0, h, w);
        if constexpr (prompt) b.segment(i0, h).noalias() += W0t * c.head(w);
        merge_tile<T>(A, B, i0, j0, W0t, W.block(i0, j0, h, w), scratch);
      }
    }
  });
}

/// Writes the merged W (out x in) and b (out; or empty, for a layer that has
/// no bias and adds none, to merge W alone). W and b may be W0's and b0's
/// own storage: see merge_weight, and the bias update is elementwise.
template <typename T, typename W0Type, typename B0Type, typename Adapter>
void merge(const W0Type& W0, const B0Type& b0, bool has_bias, const Adapter& ad,
           Eigen::Ref<MatrixX<T>> W, Eigen::Ref<VectorX<T>> b) {
  if (b.size() != 0) write_bias_without_prompt<T>(b0, has_bias, ad.D, ad.E, b);
  merge_weight<T>(W0, ad.A, ad.B, ad.C, W, b);
}

}  // namespace glora::detail
