#pragma once
// merge: W = W0 + W0 ⊙ A + B and b = b0 + b0 ⊙ D + E + W0 c in one tiled pass.
//
// The pass runs along W0's storage: a "line" is a contiguous run of W0 (a
// column when W0 is column-major, a row when it is row-major) and a tile is a
// panel of lines times a block of positions along them. A low-rank term
// Σ_k d(i, k) u(k, j) is then a per-position factor (down's rows for
// column-major lines, up's columns for row-major ones) times a per-line one
// (up's column, or down's row).

#include <glora/detail/bias.hpp>
#include <glora/detail/gemm.hpp>
#include <glora/detail/parallel.hpp>
#include <glora/detail/scratch.hpp>
#include <glora/detail/unroll.hpp>
#include <glora/detail/views.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>

namespace glora::detail {

/// A tile of the merge: a few lines, each a long contiguous run of W0, and
/// small enough for L2 with its scratch.
inline constexpr Eigen::Index merge_tile_lines = 64;
inline constexpr Eigen::Index merge_tile_positions = 512;
static_assert(merge_tile_positions % Eigen::internal::packet_traits<double>::size == 0 &&
                  merge_tile_positions % Eigen::internal::packet_traits<float>::size == 0,
              "merge tiles start on whole packets of the packed position factors");

/// Ranks up to this are merged line by line; larger ranks form the tile's
/// product with Eigen's GEMM.
inline constexpr int max_line_rank = 16;

/// A factor of a low-rank term indexed by position along the lines and by k:
/// element (p, k) is at data[p * position_stride + k * rank_stride].
template <typename T>
struct PositionFactor {
  const T* data;
  Eigen::Index position_stride;
  Eigen::Index rank_stride;

  const T& operator()(Eigen::Index p, Eigen::Index k) const {
    return data[p * position_stride + k * rank_stride];
  }
};

/// The position factor of slot s's low-rank term for a tile at (i0, j0):
/// down's rows from i0 for column-major lines, up's columns from j0 for
/// row-major ones.
template <int Layout, typename T>
PositionFactor<T> position_factor(const SlotView<const T>& s, Eigen::Index i0, Eigen::Index j0) {
  if constexpr (Layout == Eigen::RowMajor) {
    return {s.up.data() + j0 * s.up.outerStride(), s.up.outerStride(), 1};
  } else {
    return {s.down.data() + i0, 1, s.down.outerStride()};
  }
}

/// The first h positions of the rank-r factor f, repacked so that the r
/// values of each group of P positions are adjacent packets: read in place,
/// the factor's columns are r streams whose stride is often a multiple of
/// 4 KB (all in one L1 set), or not contiguous at all for row-major lines.
template <typename T>
void pack_positions(const PositionFactor<T>& f, Eigen::Index r, Eigen::Index h, T* packed) {
  constexpr int P = Eigen::internal::packet_traits<T>::size;
  for (Eigen::Index p = 0; (p + 1) * P <= h; ++p) {
    for (Eigen::Index k = 0; k < r; ++k) {
      T* to = packed + (p * r + k) * P;
      for (int lane = 0; lane < P; ++lane) to[lane] = f(p * P + lane, k);
    }
  }
}

/// out = in + in ⊙ (f u) when `Scaled` (slot A), out = in + f u otherwise
/// (slot B), for one line of h positions and a rank-r term. f comes packed by
/// pack_positions for whole packets and as the factor itself for the last
/// h mod P positions; u holds the line's r values. `out` may be `in`.
///
/// The rank is a run-time value: each step keeps G packets of sums in
/// registers and broadcasts u's values as it goes, which costs one load per
/// G multiply-adds; the merge moves two bytes of W per multiply-add at rank
/// 8 and stays bound by memory.
template <bool Scaled, typename T>
void low_rank_line(const T* packed, const PositionFactor<T>& f, const T* u, Eigen::Index r,
                   const T* in, T* out, Eigen::Index h) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<T>::type;
  constexpr int P = packet_traits<T>::size;
  const auto finish = [](auto x, auto sum) { return Scaled ? pmadd(x, sum, x) : padd(x, sum); };
  Eigen::Index i = 0;
  // G packets of positions per step: G independent chains of r multiply-adds.
  const auto steps = [&](auto groups) {
    constexpr int G = decltype(groups)::value;
    for (; i + G * P <= h; i += G * P, packed += G * r * P) {
      Packet sum[std::size_t(G)];
      unroll<G>([&](auto g) { sum[g] = pzero(sum[g]); });
      for (Eigen::Index k = 0; k < r; ++k) {
        const Packet uk = pset1<Packet>(u[k]);
        unroll<G>(
            [&](auto g) { sum[g] = pmadd(ploadu<Packet>(packed + (g * r + k) * P), uk, sum[g]); });
      }
      unroll<G>([&](auto g) {
        pstoreu(out + i + g * P, finish(ploadu<Packet>(in + i + g * P), sum[g]));
      });
    }
  };
  steps(std::integral_constant<int, 4>());
  steps(std::integral_constant<int, 1>());
  for (; i < h; ++i) {
    T sum = 0;
    for (Eigen::Index k = 0; k < r; ++k) sum += f(i, k) * u[k];
    out[i] = Scaled ? in[i] + in[i] * sum : in[i] + sum;
  }
}

/// Packs the position factor of slot s's low-rank term for the h positions of
/// a tile at (i0, j0) into `packed` (pack_positions): down's rows i0.. for
/// column-major lines, up's columns j0.. for row-major ones. Returns the packed data.
template <int Layout, typename T>
const T* pack_tile_positions(const SlotView<const T>& s, Eigen::Index i0, Eigen::Index j0,
                             Eigen::Index h, VectorX<T>& packed) {
  grow(packed, h * s.rank());
  pack_positions(position_factor<Layout>(s, i0, j0), s.rank(), h, packed.data());
  return packed.data();
}

/// Adds slot s's low-rank term to a tile, line by line (`in` may be `out`,
/// both h x w tiles in storage order Layout, (i0, j0) the tile's corner in W),
/// the tile's position factor already packed (pack_tile_positions).
/// Column-major lines are W's columns: positions index down's rows and line j
/// takes up's column j, which is contiguous. Row-major lines are W's rows:
/// positions index up's columns and line i takes down's row i, which is
/// gathered for all the tile's lines first, a column of down at a time: read
/// a line at a time, down's r columns are r streams a column stride apart,
/// which for a stride that is a multiple of 4 KB all fall in one set of L1
/// (merge_into, 4096 x 4096: 6% of the time in the gathering, against 2% for
/// column-major lines).
template <bool Scaled, int Layout, typename T, typename InTile, typename OutTile>
void low_rank_lines(const SlotView<const T>& s, Eigen::Index i0, Eigen::Index j0, const T* packed,
                    const InTile& in, OutTile& out, VectorX<T>& line_factors) {
  constexpr bool row_major = Layout == Eigen::RowMajor;
  const Eigen::Index r = s.rank();
  const PositionFactor<T> f = position_factor<Layout>(s, i0, j0);
  const Eigen::Index lines = row_major ? in.rows() : in.cols();
  const Eigen::Index h = row_major ? in.cols() : in.rows();
  if constexpr (row_major) {
    grow(line_factors, lines * r);
    for (Eigen::Index k = 0; k < r; ++k) {
      for (Eigen::Index l = 0; l < lines; ++l) line_factors(l * r + k) = s.down(i0 + l, k);
    }
  }
  for (Eigen::Index l = 0; l < lines; ++l) {
    const T* u = row_major ? line_factors.data() + l * r : s.up.col(j0 + l).data();
    low_rank_line<Scaled>(packed, f, u, r, in.data() + l * in.outerStride(),
                          out.data() + l * out.outerStride(), h);
  }
}

/// The packed position factors of A's and B's low-rank terms, for a tile or
/// for a run of positions that many tiles share, when the caller packed them
/// once for all those tiles (null: merge_tile packs them itself, a tile's
/// worth of copying against lines times as many multiply-adds).
template <typename T>
struct PackedPositions {
  const T* A = nullptr;
  const T* B = nullptr;
};

/// Whether slot s is a low-rank term merged line by line.
template <typename T>
bool merged_by_lines(const SlotView<const T>& s) {
  return s.is(Kind::low_rank) && s.rank() <= max_line_rank;
}

/// Whether merge_tile computes slot s the same whatever the tile's number of
/// lines: elementwise or line by line, not through a product whose sums
/// depend on the tile's shape. A caller that merges a few lines at a time, on
/// tiles that start at the same positions as merge_weight's (multiples of
/// merge_tile_positions), then gets merge_weight's values bit for bit.
template <typename T>
bool merged_line_by_line(const SlotView<const T>& s) {
  return !s.is(Kind::low_rank) || merged_by_lines(s);
}

/// Packs A's and B's position factors for the n positions from (i0, j0) (see
/// pack_tile_positions), for the slots merged line by line, into `scratch`.
template <int Layout, typename T>
PackedPositions<T> pack_line_positions(const SlotView<const T>& A, const SlotView<const T>& B,
                                       Eigen::Index i0, Eigen::Index j0, Eigen::Index n,
                                       MergeScratch<T>& scratch) {
  const auto pack = [&](const SlotView<const T>& s, VectorX<T>& into) -> const T* {
    return merged_by_lines(s) ? pack_tile_positions<Layout>(s, i0, j0, n, into) : nullptr;
  };
  return {pack(A, scratch.packed_a), pack(B, scratch.packed_b)};
}

/// C += down(rows [i0, i0 + h)) · up(columns [j0, j0 + w)) for a high-rank
/// slot s and an h x w tile C in storage order Layout, through kept packing
/// buffers (a product expression would take them from the heap per tile).
template <int Layout, typename T, typename Tile>
void add_factor_product(const SlotView<const T>& s, Eigen::Index i0, Eigen::Index j0, Tile&& C,
                        GemmBuffers<T>& gemm) {
  const auto down = s.down.middleRows(i0, C.rows());
  const auto up = s.up.middleCols(j0, C.cols());
  if constexpr (Layout == Eigen::RowMajor) {
    product_add<T>(up.transpose(), down.transpose(), C.transpose(), gemm);
  } else {
    product_add<T>(down, up, C, gemm);
  }
}

/// Writes one tile of the merged weight, W0t ⊙ (1 + A) + B. W0t is read in
/// full before Wt is written (and each element of W0t only for the same
/// element of Wt), so the two may be the same memory. `gemm` serves the
/// products of high-rank factors.
template <typename T, int Layout, typename W0Tile, typename WTile>
void merge_tile(const SlotView<const T>& A, const SlotView<const T>& B, Eigen::Index i0,
                Eigen::Index j0, const W0Tile& W0t, WTile&& Wt, MergeScratch<T>& scratch,
                GemmBuffers<T>& gemm, PackedPositions<T> packed = {}) {
  const Eigen::Index h = W0t.rows(), w = W0t.cols();
  const Eigen::Index positions = Layout == Eigen::RowMajor ? w : h;
  switch (A.kind) {
    case Kind::low_rank:
      if (merged_by_lines(A)) {
        if (!packed.A)
          packed.A = pack_tile_positions<Layout>(A, i0, j0, positions, scratch.packed_a);
        low_rank_lines<true, Layout>(A, i0, j0, packed.A, W0t, Wt, scratch.line_factors);
      } else {
        grow(scratch.product, h * w);
        Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Layout>> At(
            scratch.product.data(), h, w);
        At.setZero();
        add_factor_product<Layout>(A, i0, j0, At, gemm);
        Wt.array() = W0t.array() * (T(1) + At.array());
      }
      break;
    case Kind::vector: {
      // A line at a time: a broadcast (1 + a) would be a heap temporary per tile.
      const auto a = A.vector().segment(i0, h).array();
      if constexpr (Layout == Eigen::RowMajor) {
        for (Eigen::Index i = 0; i < h; ++i) Wt.row(i) = W0t.row(i) * (T(1) + a(i));
      } else {
        for (Eigen::Index j = 0; j < w; ++j) Wt.col(j).array() = W0t.col(j).array() * (T(1) + a);
      }
      break;
    }
    case Kind::scalar: Wt = W0t * (T(1) + A.scalar()); break;
    case Kind::none: Wt = W0t; break;
  }
  switch (B.kind) {
    case Kind::low_rank:
      if (merged_by_lines(B)) {
        if (!packed.B)
          packed.B = pack_tile_positions<Layout>(B, i0, j0, positions, scratch.packed_b);
        low_rank_lines<false, Layout>(B, i0, j0, packed.B, Wt, Wt, scratch.line_factors);
      } else {
        add_factor_product<Layout>(B, i0, j0, Wt, gemm);
      }
      break;
    case Kind::vector: Wt.colwise() += B.vector().segment(i0, h); break;
    case Kind::scalar: Wt.array() += B.scalar(); break;
    case Kind::none: break;
  }
}

/// Where the merged weight goes: out x in values in either storage order,
/// `stride` apart between columns (column-major) or rows (row-major).
template <typename T>
struct MergeTarget {
  T* data;
  Eigen::Index stride;
  bool row_major;
};

/// A writable tile in storage order Layout.
template <typename T, int Layout>
using TileMap =
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Layout>, 0, Eigen::OuterStride<>>;

/// The h x w block at (i0, j0) of the out x in target, seen in storage order Layout.
template <int Layout, typename T>
TileMap<T, Layout> target_block(const MergeTarget<T>& W, Eigen::Index i0, Eigen::Index j0,
                                Eigen::Index h, Eigen::Index w) {
  const Eigen::Index offset = Layout == Eigen::RowMajor ? i0 * W.stride + j0 : i0 + j0 * W.stride;
  return TileMap<T, Layout>(W.data + offset, h, w, Eigen::OuterStride<>(W.stride));
}

/// Writes the merged weight W = W0 ⊙ (1 + A) + B (out x in) and adds the
/// prompt term W0 c to b (out; may be empty when c is). W may be W0's own
/// storage: each tile of W0 is read (for A and for W0 c) before the same tile
/// of W is written. A target in the other storage order than W0 receives
/// each tile from scratch.
///
/// One pass over W0, split by rows between threads, a tile at a time:
/// besides W and b, the memory used per thread is a tile's worth of scratch
/// and A's and B's low-rank position factors, packed (a copy of the part of
/// down or up the thread's lines use), unless the caller gives them.
///
/// `prepacked` holds those factors when the caller has packed them already
/// (pack_line_positions from position 0, over all of W0's positions): a
/// caller that merges a row-major weight a block of rows at a time, whose
/// positions (the columns) are the same for every block, packs them once.
template <typename T, int Layout>
void merge_weight(const OrderedMap<T, Layout>& W0, const SlotView<const T>& A,
                  const SlotView<const T>& B, const VectorX<T>& c, const MergeTarget<T>& W,
                  Eigen::Ref<VectorX<T>> b, PackedPositions<T> prepacked = {}) {
  constexpr bool row_major = Layout == Eigen::RowMajor;
  constexpr int other = row_major ? Eigen::ColMajor : Eigen::RowMajor;
  const bool direct = W.row_major == row_major;
  const Eigen::Index m = W0.rows();
  const Eigen::Index n = W0.cols();
  const bool prompt = c.size() != 0;
  const int threads = row_threads(double(m) * double(n));
  for_row_ranges(m, threads, [&](int, Eigen::Index begin, Eigen::Index end) {
    MergeScratch<T> scratch;
    GemmBuffers<T> gemm;
    if (!direct) scratch.tile.resize(merge_tile_lines * merge_tile_positions);
    const Eigen::Index line_end = row_major ? end : n;
    const Eigen::Index position_begin = row_major ? 0 : begin;
    const Eigen::Index position_end = row_major ? n : end;
    // A's and B's position factors are the same for every line: packed once,
    // for the thread's positions, rather than once per tile. (A thread's first
    // position is a multiple of 64: whole packets of `prepacked` precede it.)
    const auto given = [&](const SlotView<const T>& s, const T* p) -> const T* {
      return p ? p + position_begin * s.rank() : nullptr;
    };
    const PackedPositions<T> thread_packed =
        prepacked.A || prepacked.B
            ? PackedPositions<T>{given(A, prepacked.A), given(B, prepacked.B)}
            : pack_line_positions<Layout>(A, B, row_major ? 0 : position_begin,
                                          row_major ? position_begin : 0,
                                          position_end - position_begin, scratch);
    const T* const packed_a = thread_packed.A;
    const T* const packed_b = thread_packed.B;
    for (Eigen::Index l0 = row_major ? begin : 0; l0 < line_end; l0 += merge_tile_lines) {
      const Eigen::Index lines = std::min(merge_tile_lines, line_end - l0);
      for (Eigen::Index p0 = position_begin; p0 < position_end; p0 += merge_tile_positions) {
        const Eigen::Index positions = std::min(merge_tile_positions, position_end - p0);
        const Eigen::Index i0 = row_major ? l0 : p0, h = row_major ? lines : positions;
        const Eigen::Index j0 = row_major ? p0 : l0, w = row_major ? positions : lines;
        // The positions before p0 are whole packets (tiles are multiples of one): r values each.
        const Eigen::Index before = p0 - position_begin;
        const PackedPositions<T> packed{packed_a ? packed_a + before * A.rank() : nullptr,
                                        packed_b ? packed_b + before * B.rank() : nullptr};
        const auto W0t = W0.block(i0, j0, h, w);
        if (prompt) b.segment(i0, h).noalias() += W0t * c.segment(j0, w);
        TileMap<T, Layout> Wt =
            direct ? target_block<Layout>(W, i0, j0, h, w)
                   : TileMap<T, Layout>(scratch.tile.data(), h, w, Eigen::OuterStride<>(positions));
        merge_tile<T, Layout>(A, B, i0, j0, W0t, Wt, scratch, gemm, packed);
        if (!direct) target_block<other>(W, i0, j0, h, w) = Wt;
      }
    }
  });
}

/// Writes the merged W into `W` and b into `b` (out; or empty, for a layer that
/// has no bias and adds none, to merge W alone), W0 in storage order Layout.
/// W and b may be W0's and b0's own storage when W has W0's storage order:
/// see merge_weight, and the bias update is elementwise.
template <typename T, int Layout>
void merge_kernel(const FrozenView<T>& base, const AdapterView<const T>& ad,
                  const MergeTarget<T>& W, VectorRef<T> b) {
  if (b.size() != 0) write_bias_without_prompt<T>(bias_map(base), ad.D, ad.E, b);
  VectorX<T> c;
  if (ad.C.active()) {
    c.resize(base.cols);
    write_prompt<T>(ad.C, 0, c);
  }
  merge_weight<T, Layout>(weight_map<Layout>(base), ad.A, ad.B, c, W, b);
}

}  // namespace glora::detail
