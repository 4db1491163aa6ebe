#pragma once
// The unmerged forward, y = (W0 + W0 ⊙ A + B) x + b without ever forming W,
// for a batch whose columns may each run through another adapter over the one
// frozen W0 (a server's mixed batch). The forward of one adapter is its
// one-group case: there is one arithmetic.
//
// W0 is the only large operand, so what a call costs is the passes over W0
// and the multiply-adds spent per entry of it. Every column of the batch,
// whatever its adapter, shares one pass. A group is the columns of one
// adapter; per column j of group g:
//
// Direct (no low-rank A). Z = W0 X, X read where it is; a vector or scalar A
// scales z_j's rows by 1 + a; W0 c_g is added to g's bias from the same tiles
// of W0, once per call.
//
// Stacked (low-rank A, columns of few per adapter). Every term that needs W0
// is one product Z = W0 · S, S holding per column j of group g
//   x_j + c_g, u_1 ⊙ x_j, ..., u_r ⊙ x_j    (u_k: row k of g's A up)
// and y_j = z_j + Σ_k d_k ⊙ z_{j,k} (d_k: column k of g's A down). W0 x and
// W0 c are both unscaled, so c rides in x. Cost: 1 + r multiply-adds per
// column per entry of W0. A narrow batch stacks its prompts too (c_g as a
// column of its own for a vector or scalar A), so that the streaming kernel
// reads W0 once for everything.
//
// Tiled (low-rank A, groups of many columns). W0 ⊙ (1 + Ad Au) is formed a
// tile at a time, per group, and multiplied into the group's columns while the
// tile is in cache: per entry of W0, one multiply-add per column and r + 2 per
// group and block of columns; never a full copy of W. A group of up to a few
// dozen columns goes through the streaming kernel a slice at a time (over a
// row-major W0, its whole packets of columns through tile_row_major_add, on X
// and Z transposed), a wider one through Eigen's GEMM (tile_product_add).
//
// Blocks. Columns go in blocks of a few hundred, each block's output in tiles
// of a few hundred rows: a tile of the product, its slice of X and the weight
// tile stay in L2. Everything else that touches Y (A's factors or row scaling,
// B's term, the bias) is applied to a tile of the product right after it is
// formed, in the one pass that writes Y: at wide batches, where X and Y no
// longer fit in any cache, a separate pass per term would each stream Y
// through memory again.
//
// B never touches W0: down (up x) for a low-rank B, v · sum(x) for a vector,
// s · sum(x) for a scalar.

#include <glora/detail/bias.hpp>
#include <glora/detail/gemm.hpp>
#include <glora/detail/merge.hpp>
#include <glora/detail/parallel.hpp>
#include <glora/detail/product.hpp>
#include <glora/detail/scratch.hpp>
#include <glora/detail/views.hpp>
#include <glora/workspace.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace glora::detail {

/// Rows of a tile of the output: with its product and the weight tile (256 KB
/// each in single precision) it stays in L2.
inline constexpr Eigen::Index forward_tile_rows = 256;
/// Columns of W0 per formed weight tile (tiled path). Shorter tiles measured
/// up to 15% slower at batch 197: each one is a separate GEMM.
inline constexpr Eigen::Index forward_tile_cols = 256;
/// Columns of the batch per block (fewer when a low-rank A stacks r more per column).
inline constexpr Eigen::Index forward_block_cols = 256;
/// The tiled path's tiles over a row-major W0 when every group of the block
/// goes to the streaming kernel (tile_product_add) and every A is merged line
/// by line (wide_tiles_pay): as many entries, in rows twice as long. The GEMV
/// that takes W0 c from a tile, and the row-major streaming kernel for the
/// columns short of a whole packet, sum each row of a tile across its lanes;
/// longer rows halve that work, and tile_row_major_add runs longer between
/// the ends of its rows (4096 x 11008, batch 16: 16.7 ms against 18.2; 4096 x
/// 4096: 5.6-5.8 ms against 5.9-6.2). Eigen's GEMM, for wider groups, runs
/// slower on them (batch 197: 45 ms against 40).
inline constexpr Eigen::Index forward_wide_tile_rows = 128;
inline constexpr Eigen::Index forward_wide_tile_cols = 512;
static_assert(forward_wide_tile_rows * forward_wide_tile_cols ==
                  forward_tile_rows * forward_tile_cols,
              "both tile shapes fit the same scratch");

/// A batch split into groups, each run through one adapter over the one W0.
/// Group g holds positions [start[g], start[g + 1]); position p is column
/// order[p] of X and Y (column p itself when order is null).
template <typename T>
struct GroupedBatch {
  const AdapterView<const T>* const* adapters = nullptr;  ///< one per group
  const Eigen::Index* start = nullptr;                    ///< groups + 1 entries, from 0 to N
  const Eigen::Index* order = nullptr;                    ///< N entries, or null
  Eigen::Index groups = 0;
  /// Whether batches of this size may come in another order (a bank's): the
  /// scratch for gathering X is then sized even for one in order, which a
  /// reordered batch on the same path then finds ready.
  bool may_reorder = false;

  Eigen::Index size() const { return groups == 0 ? 0 : start[groups]; }
  Eigen::Index column(Eigen::Index p) const { return order != nullptr ? order[p] : p; }
  const AdapterView<const T>& adapter(Eigen::Index g) const { return *adapters[g]; }
};

/// The three ways a call can run (see the top of this file).
enum class ForwardPath { direct, stacked, tiled };

/// How a call runs.
struct ForwardPlan {
  ForwardPath path = ForwardPath::direct;
  Eigen::Index block_cols = 0;  ///< positions per block of columns
  Eigen::Index tile_rows = 0;   ///< rows per tile of the output; 0: a thread's whole range

  bool stacked() const { return path == ForwardPath::stacked; }
  bool tiled() const { return path == ForwardPath::tiled; }
};

/// Whether a group's prompt c rides in its columns of S (x + c), on the
/// stacked path: W0 c then comes out of the product unscaled, as it must,
/// when A is low-rank (its factors multiply x alone) or absent.
template <typename S>
bool prompt_rides(const AdapterView<S>& ad, const ForwardPlan& plan) {
  return plan.stacked() && ad.C.active() && (ad.A.is(Kind::low_rank) || !ad.A.active());
}

/// Whether a group's W0 c is a column of S of its own (stacked path, vector
/// or scalar A), rather than riding in x or added from the tiles of W0.
template <typename S>
bool prompt_column(const AdapterView<S>& ad, const ForwardPlan& plan) {
  return plan.stacked() && ad.C.active() && !prompt_rides(ad, plan);
}

/// A block of positions [first, end) and the groups [first_group, end_group)
/// that have a position in it. The first block also carries the products W0 c
/// of the prompts that do not ride in x.
struct ColumnBlock {
  Eigen::Index first = 0, end = 0;
  Eigen::Index first_group = 0, end_group = 0;
  bool carries_prompts = false;

  Eigen::Index size() const { return end - first; }
};

/// The positions [begin, end) of one group that fall in a block.
struct Run {
  Eigen::Index begin, end;
  Eigen::Index size() const { return end - begin; }
};
template <typename T>
Run run_in(const GroupedBatch<T>& batch, const ColumnBlock& block, Eigen::Index g) {
  return {std::max(batch.start[g], block.first), std::min(batch.start[g + 1], block.end)};
}

/// Calls f(block) for the blocks of `block_cols` positions, in order.
template <typename T, typename F>
void for_each_block(const GroupedBatch<T>& batch, Eigen::Index block_cols, F&& f) {
  Eigen::Index g = 0;
  for (Eigen::Index p = 0; p < batch.size(); p += block_cols) {
    ColumnBlock block;
    block.first = p;
    block.end = std::min(batch.size(), p + block_cols);
    block.carries_prompts = p == 0;
    while (batch.start[g + 1] <= block.first) ++g;  // past empty groups too
    block.first_group = g;
    block.end_group = g;
    while (block.end_group < batch.groups && batch.start[block.end_group] < block.end) {
      ++block.end_group;
    }
    f(block);
  }
}

/// Chooses the path by the multiply-adds each spends per entry of W0, and
/// the sizes of blocks and tiles.
template <typename T>
ForwardPlan plan_forward(const GroupedBatch<T>& batch) {
  Eigen::Index factors = 0, max_rank = 0, prompts = 0, unscaled_prompts = 0;
  for (Eigen::Index g = 0; g < batch.groups; ++g) {
    const AdapterView<const T>& ad = batch.adapter(g);
    factors += ad.A.rank() * (batch.start[g + 1] - batch.start[g]);
    max_rank = std::max(max_rank, ad.A.rank());
    if (ad.C.active()) ++prompts;
    if (ad.C.active() && (ad.A.is(Kind::vector) || ad.A.is(Kind::scalar))) ++unscaled_prompts;
  }
  const Eigen::Index N = batch.size();
  const Eigen::Index stacked = N + factors + unscaled_prompts;
  // Narrow: one block, each thread's rows in one tile, one pass over W0.
  if (stacked <= max_stream_cols) {
    const bool stack = factors > 0 || prompts > 0;
    return {stack ? ForwardPath::stacked : ForwardPath::direct, N, 0};
  }
  if (factors == 0) return {ForwardPath::direct, forward_block_cols, forward_tile_rows};
  Eigen::Index tiled = N + prompts;
  for_each_block(batch, forward_block_cols, [&](const ColumnBlock& block) {
    for (Eigen::Index g = block.first_group; g < block.end_group; ++g) {
      if (batch.adapter(g).A.is(Kind::low_rank)) tiled += batch.adapter(g).A.rank() + 2;
    }
  });
  if (tiled < stacked) return {ForwardPath::tiled, forward_block_cols, forward_tile_rows};
  return {ForwardPath::stacked, std::max<Eigen::Index>(forward_block_cols / (1 + max_rank), 1),
          forward_tile_rows};
}

/// Whether the tiled path takes the wide tiles for a block over a row-major
/// W0: every group has few enough columns for the streaming kernel on a tile
/// (tile_product_add), and every low-rank A is merged line by line (a larger
/// rank forms its tile with a product whose operands a wider tile makes larger).
template <typename T>
bool wide_tiles_pay(const GroupedBatch<T>& batch, const ColumnBlock& block) {
  for (Eigen::Index g = block.first_group; g < block.end_group; ++g) {
    if (run_in(batch, block, g).size() > tile_stream_cols) return false;
    if (!merged_line_by_line(batch.adapter(g).A)) return false;
  }
  return true;
}

/// What a call keeps per group, in its workspace.
template <typename T>
struct GroupTerms {
  Eigen::Map<MatrixX<T>> prompt;                  ///< in x (groups with a prompt): each prompt c
  Eigen::Map<MatrixX<T>> bias;                    ///< out x groups: b0 + b0 ⊙ D + E, then + W0 c
  const std::vector<Eigen::Index>& prompt_index;  ///< each group's column of `prompt`, or -1
  const std::vector<Eigen::Index>& own_columns;   ///< each group's first own column of S, or -1
  bool has_bias;                                  ///< whether the frozen layer has b0

  auto prompt_of(Eigen::Index g) const { return prompt.col(prompt_index[std::size_t(g)]); }
  Eigen::Index own_column(Eigen::Index g) const { return own_columns[std::size_t(g)]; }
};

/// Each group's prompt c and bias b0 + b0 ⊙ D + E (W0 c is added by the first
/// block).
template <typename T>
GroupTerms<T> prepare_groups(const FrozenView<T>& base, const GroupedBatch<T>& batch,
                             Workspace<T>& ws) {
  const auto groups = static_cast<std::size_t>(batch.groups);
  ws.prompt_index.assign(groups, -1);
  ws.stacked_index.assign(groups, -1);
  Eigen::Index prompts = 0;
  for (Eigen::Index g = 0; g < batch.groups; ++g) {
    if (batch.adapter(g).C.active()) ws.prompt_index[std::size_t(g)] = prompts++;
  }
  GroupTerms<T> terms{scratch_matrix(ws.prompt, base.cols, prompts),
                      scratch_matrix(ws.bias, base.rows, batch.groups), ws.prompt_index,
                      ws.stacked_index, base.has_bias()};
  for (Eigen::Index g = 0; g < batch.groups; ++g) {
    const AdapterView<const T>& ad = batch.adapter(g);
    if (ad.C.active()) write_prompt<T>(ad.C, 0, terms.prompt.col(ws.prompt_index[std::size_t(g)]));
    if (adds_bias(base.has_bias(), ad)) {
      write_bias_without_prompt<T>(bias_map(base), ad.D, ad.E, terms.bias.col(g));
    }
  }
  return terms;
}

/// The block's X (in x block): X's own columns when the batch keeps X's
/// order, else gathered into ws.gathered.
template <typename T>
MatrixMap<const T> block_input(const GroupedBatch<T>& batch, const ColumnBlock& block,
                               const Eigen::Ref<const MatrixX<T>>& X, Workspace<T>& ws) {
  if (batch.order == nullptr) {
    if (batch.may_reorder) grow(ws.gathered, X.rows() * block.size());
    return matrix_map<const T>(X.data() + block.first * X.outerStride(), X.rows(), block.size(),
                               X.outerStride());
  }
  auto gathered = scratch_matrix(ws.gathered, X.rows(), block.size());
  for (Eigen::Index p = block.first; p < block.end; ++p) {
    gathered.col(p - block.first) = X.col(batch.order[p]);
  }
  return matrix_map<const T>(gathered.data(), X.rows(), block.size(), X.rows());
}

/// B's values per column of a block: up · x for a low-rank B (rank x block),
/// sum(x) for a vector or scalar B.
template <typename T>
struct BlockTerms {
  Eigen::Map<MatrixX<T>> low_rank;
  Eigen::Map<VectorX<T>> sums;
};

template <typename T>
BlockTerms<T> prepare_b_terms(const GroupedBatch<T>& batch, const ColumnBlock& block,
                              const MatrixMap<const T>& x, Workspace<T>& ws) {
  Eigen::Index rank = 0;
  for (Eigen::Index g = block.first_group; g < block.end_group; ++g) {
    rank = std::max(rank, batch.adapter(g).B.rank());
  }
  grow(ws.column_sums, block.size());
  BlockTerms<T> terms{scratch_matrix(ws.low_rank, rank, block.size()),
                      Eigen::Map<VectorX<T>>(ws.column_sums.data(), block.size())};
  for (Eigen::Index g = block.first_group; g < block.end_group; ++g) {
    const SlotView<const T>& B = batch.adapter(g).B;
    const Run run = run_in(batch, block, g);
    const Eigen::Index at = run.begin - block.first;
    if (B.is(Kind::low_rank)) {
      // up · x_j as r dot products on a transposed copy of up: a GEMM here
      // would pack the block of X a second time, for r rows of output.
      auto up_rows = scratch_matrix(ws.transposed, x.rows(), B.rank());
      up_rows = B.up.transpose();
      for (Eigen::Index j = at; j < at + run.size(); ++j) {
        terms.low_rank.col(j).head(B.rank()).noalias() = up_rows.transpose() * x.col(j);
      }
    } else if (B.is(Kind::vector) || B.is(Kind::scalar)) {
      for (Eigen::Index j = at; j < at + run.size(); ++j) terms.sums(j) = x.col(j).sum();
    }
  }
  return terms;
}

/// Builds the block's S (factored path): the block's x (+ c where it rides),
/// then each low-rank A group's factor columns u_k ⊙ x, k major, then, in the
/// first block, one column c per prompt that does not ride; records where
/// each group's own columns start.
template <typename T>
MatrixMap<const T> build_stacked(const GroupedBatch<T>& batch, const ForwardPlan& plan,
                                 const ColumnBlock& block, const MatrixMap<const T>& x,
                                 const GroupTerms<T>& groups, Workspace<T>& ws) {
  const auto owns_prompt_column = [&](Eigen::Index g) {
    return block.carries_prompts && prompt_column(batch.adapter(g), plan);
  };
  Eigen::Index cols = block.size();
  std::fill(ws.stacked_index.begin(), ws.stacked_index.end(), -1);
  for (Eigen::Index g = block.first_group; g < block.end_group; ++g) {
    const Eigen::Index r = batch.adapter(g).A.rank();
    if (r > 0) ws.stacked_index[std::size_t(g)] = cols;
    cols += r * run_in(batch, block, g).size();
  }
  for (Eigen::Index g = 0; g < batch.groups; ++g) {
    if (owns_prompt_column(g)) ws.stacked_index[std::size_t(g)] = cols++;
  }
  auto S = scratch_matrix(ws.stacked, x.rows(), cols);
  S.leftCols(block.size()) = x;
  for (Eigen::Index g = block.first_group; g < block.end_group; ++g) {
    const AdapterView<const T>& ad = batch.adapter(g);
    const Run run = run_in(batch, block, g);
    const Eigen::Index at = run.begin - block.first;
    if (prompt_rides(ad, plan)) {
      for (Eigen::Index j = at; j < at + run.size(); ++j) S.col(j) += groups.prompt_of(g);
    }
    for (Eigen::Index k = 0; k < ad.A.rank(); ++k) {
      S.middleCols(groups.own_column(g) + k * run.size(), run.size()).array() =
          x.middleCols(at, run.size()).array().colwise() * ad.A.up.row(k).transpose().array();
    }
  }
  for (Eigen::Index g = 0; g < batch.groups; ++g) {
    if (owns_prompt_column(g)) S.col(groups.own_column(g)) = groups.prompt_of(g);
  }
  return matrix_map<const T>(S.data(), S.rows(), S.cols(), S.rows());
}

/// Writes rows [i0, i0 + h) of the block's columns of Y from Z, the tile of
/// the product (W0 · S, W0 · X, or each column's adapted weight times it),
/// adding A's factors or scaling, B's term and the bias: one pass over each
/// column of the tile while it is in cache.
template <typename T>
void finish_tile(const GroupedBatch<T>& batch, const ForwardPlan& plan, const ColumnBlock& block,
                 const GroupTerms<T>& groups, const BlockTerms<T>& terms, Eigen::Index i0,
                 Eigen::Index h, const Eigen::Map<MatrixX<T>>& Z, Eigen::Ref<MatrixX<T>> Y) {
  for (Eigen::Index g = block.first_group; g < block.end_group; ++g) {
    const AdapterView<const T>& ad = batch.adapter(g);
    const SlotView<const T>& A = ad.A;
    const SlotView<const T>& B = ad.B;
    const Run run = run_in(batch, block, g);
    const bool bias = adds_bias(groups.has_bias, ad);
    for (Eigen::Index p = run.begin; p < run.end; ++p) {
      const Eigen::Index z = p - block.first;
      auto y = Y.col(batch.column(p)).segment(i0, h);
      switch (A.kind) {
        case Kind::low_rank:
          y = Z.col(z);
          if (plan.stacked()) {
            const Eigen::Index factor = groups.own_column(g) + (p - run.begin);
            for (Eigen::Index k = 0; k < A.rank(); ++k) {
              y += A.down.col(k).segment(i0, h).cwiseProduct(Z.col(factor + k * run.size()));
            }
          }
          break;
        case Kind::vector:
          y.array() = Z.col(z).array() * (T(1) + A.vector().segment(i0, h).array());
          break;
        case Kind::scalar: y = Z.col(z) * (T(1) + A.scalar()); break;
        case Kind::none: y = Z.col(z); break;
      }
      switch (B.kind) {
        case Kind::low_rank:
          // One pass over y for all r columns of down: a pass per column reads
          // and writes y r times, which wide batches of small layers feel.
          y += B.down.middleRows(i0, h).lazyProduct(terms.low_rank.col(z).head(B.rank()));
          break;
        case Kind::vector: y += terms.sums(z) * B.vector().segment(i0, h); break;
        case Kind::scalar: y.array() += terms.sums(z) * B.scalar(); break;
        case Kind::none: break;
      }
      if (bias) y += groups.bias.col(g).segment(i0, h);
    }
  }
}

/// Adds W0t · c (W0t: rows [i0, i0 + h) and columns [j0, j0 + w) of W0) to
/// the bias of every group with a prompt that is not a product of its own:
/// W0 c from tiles of W0 that are in cache anyway.
template <typename T, typename W0Tile>
void add_prompt_products(const GroupedBatch<T>& batch, const ForwardPlan& plan,
                         GroupTerms<T>& groups, const W0Tile& W0t, Eigen::Index i0,
                         Eigen::Index j0) {
  for (Eigen::Index g = 0; g < batch.groups; ++g) {
    const AdapterView<const T>& ad = batch.adapter(g);
    if (!ad.C.active() || prompt_rides(ad, plan) || prompt_column(ad, plan)) continue;
    groups.bias.col(g).segment(i0, W0t.rows()).noalias() +=
        W0t * groups.prompt_of(g).segment(j0, W0t.cols());
  }
}

/// Direct or stacked path, one tile: Z = W0(rows) · S (S is the block of X
/// itself on the direct path); in the first block, W0 c into the bias of each
/// group with a prompt, from S's own column or from the tile of W0.
template <typename T, int Layout>
void product_tile(const OrderedMap<T, Layout>& W0, const GroupedBatch<T>& batch,
                  const ForwardPlan& plan, const ColumnBlock& block, GroupTerms<T>& groups,
                  const MatrixMap<const T>& S, Eigen::Index i0, Eigen::Index h,
                  Eigen::Map<MatrixX<T>>& Z, ThreadScratch<T>& scratch) {
  const auto W0r = weight_rows(W0, i0, h);
  Z.setZero();
  serial_weight_product_add<T>(W0r, S, Z, scratch.gemm);
  if (!block.carries_prompts) return;
  add_prompt_products(batch, plan, groups, W0r, i0, 0);
  for (Eigen::Index g = 0; g < batch.groups; ++g) {
    if (prompt_column(batch.adapter(g), plan)) {
      groups.bias.col(g).segment(i0, h) += Z.col(groups.own_column(g));
    }
  }
}

/// Sizes a thread's scratch for the tiled path over `rows` rows of W0 and a
/// product of `z_cols` columns, for either tile shape: which one a block takes
/// depends on its groups, which differ between a bank's batches of one size.
template <typename T, int Layout>
void reserve_tiled_scratch(ThreadScratch<T>& scratch, Eigen::Index rows, Eigen::Index z_cols) {
  grow(scratch.product, std::min(forward_tile_rows, rows) * z_cols);
  if (Layout == Eigen::RowMajor) {
    grow(scratch.product_transposed, std::min(forward_tile_rows, rows) * z_cols);
  }
  grow(scratch.tile, forward_tile_rows * forward_tile_cols);
  grow(scratch.merge.packed_a, forward_wide_tile_cols * max_line_rank);
  grow(scratch.merge.line_factors, forward_tile_rows * max_line_rank);
}

/// Whether a block of the tiled path has a group for tile_row_major_add: a
/// whole packet of columns or more, few enough for the streaming kernel.
template <typename T>
bool has_packet_groups(const GroupedBatch<T>& batch, const ColumnBlock& block) {
  for (Eigen::Index g = block.first_group; g < block.end_group; ++g) {
    if (tile_row_major_cols<T>(run_in(batch, block, g).size()) > 0) return true;
  }
  return false;
}

/// One block of X, transposed, for the row-major tiles' kernel
/// (tile_row_major_add), on the tiled path over a row-major W0 when the block
/// has a group for it; empty otherwise. Sized for a bank's batch either way,
/// as block_input sizes its gathered X: the same size in another grouping may
/// have such a group.
template <typename T, int Layout>
MatrixMap<const T> transposed_input(const GroupedBatch<T>& batch, const ForwardPlan& plan,
                                    const ColumnBlock& block, const MatrixMap<const T>& x,
                                    Workspace<T>& ws) {
  if (Layout != Eigen::RowMajor || !plan.tiled()) return matrix_map<const T>(nullptr, 0, 0, 1);
  if (batch.may_reorder) grow(ws.input_transposed, x.size());
  if (!has_packet_groups(batch, block)) return matrix_map<const T>(nullptr, 0, 0, 1);
  auto xt = scratch_matrix(ws.input_transposed, x.cols(), x.rows());
  xt = x.transpose();
  return matrix_map<const T>(xt.data(), x.cols(), x.rows(), x.cols());
}

/// Tiled path, one tile: Z(:, a group's columns) = (W0 ⊙ (1 + Ad Au))(rows)
/// · x for a group with a low-rank A, W0(rows) · x for the others, one weight
/// tile of `tile_cols` columns at a time; the first block also adds W0 c of
/// every prompt to its group's bias from the same tiles.
template <typename T, int Layout>
void tiled_tile(const OrderedMap<T, Layout>& W0, const GroupedBatch<T>& batch,
                const ForwardPlan& plan, const ColumnBlock& block, GroupTerms<T>& groups,
                const MatrixMap<const T>& x, const MatrixMap<const T>& xt, Eigen::Index i0,
                Eigen::Index h, Eigen::Index tile_cols, Eigen::Map<MatrixX<T>>& Z,
                ThreadScratch<T>& scratch) {
  const Eigen::Index n = W0.cols();
  Z.setZero();
  const bool transposed = xt.size() > 0;
  auto Zt = scratch_matrix(scratch.product_transposed, transposed ? Z.cols() : 0, h);
  Zt.setZero();
  for (Eigen::Index j0 = 0; j0 < n; j0 += tile_cols) {
    const Eigen::Index w = std::min(tile_cols, n - j0);
    const auto W0t = W0.block(i0, j0, h, w);
    if (block.carries_prompts) add_prompt_products(batch, plan, groups, W0t, i0, j0);
    for (Eigen::Index g = block.first_group; g < block.end_group; ++g) {
      const SlotView<const T>& A = batch.adapter(g).A;
      const Run run = run_in(batch, block, g);
      const auto xs = x.block(j0, run.begin - block.first, w, run.size());
      auto zs = Z.middleCols(run.begin - block.first, run.size());
      const auto product = [&](const auto& Wtile) {
        if constexpr (Layout == Eigen::RowMajor) {
          if (transposed) {
            const Eigen::Index p = run.begin - block.first;
            return tile_product_add<T>(ordered_map(Wtile), xs, xt.block(p, j0, run.size(), w), zs,
                                       Zt.middleRows(p, run.size()), scratch.gemm);
          }
        }
        tile_product_add<T>(ordered_map(Wtile), xs, zs, scratch.gemm);
      };
      if (A.is(Kind::low_rank)) {
        TileMap<T, Layout> Wt(scratch.tile.data(), h, w,
                              Eigen::OuterStride<>(Layout == Eigen::RowMajor ? w : h));
        merge_tile<T, Layout>(A, SlotView<const T>{}, i0, j0, W0t, Wt, scratch.merge, scratch.gemm);
        product(Wt);
      } else {
        product(W0t);
      }
    }
  }
  if (transposed) Z += Zt.transpose();
}

/// Y = W_g X + b_g for every group g of the batch (X in x N, Y out x N), W0 in
/// storage order Layout; shapes already checked.
template <typename T, int Layout>
void grouped_forward_kernel(const FrozenView<T>& base, const GroupedBatch<T>& batch,
                            const ConstMatrixRef<T>& X, MatrixRef<T> Y, Workspace<T>& ws) {
  if (batch.size() == 0) return;
  const auto W0 = weight_map<Layout>(base);
  const ForwardPlan plan = plan_forward(batch);
  GroupTerms<T> groups = prepare_groups<T>(base, batch, ws);
  for_each_block(batch, plan.block_cols, [&](const ColumnBlock& block) {
    const MatrixMap<const T> x = block_input(batch, block, X, ws);
    const BlockTerms<T> terms = prepare_b_terms<T>(batch, block, x, ws);
    const MatrixMap<const T> S =
        plan.stacked() ? build_stacked<T>(batch, plan, block, x, groups, ws) : x;
    const Eigen::Index z_cols = S.cols();
    const bool wide_tiles =
        Layout == Eigen::RowMajor && plan.tiled() && wide_tiles_pay(batch, block);
    const Eigen::Index tile_rows = wide_tiles ? forward_wide_tile_rows : plan.tile_rows;
    const Eigen::Index tile_cols = wide_tiles ? forward_wide_tile_cols : forward_tile_cols;
    const MatrixMap<const T> xt = transposed_input<T, Layout>(batch, plan, block, x, ws);
    const int threads = row_threads(double(W0.size()) * double(z_cols));
    reserve_threads(ws.threads, threads);
    for_row_ranges(W0.rows(), threads, [&](int t, Eigen::Index begin, Eigen::Index end) {
      ThreadScratch<T>& scratch = thread_scratch(ws.threads, t);
      if (plan.tiled()) reserve_tiled_scratch<T, Layout>(scratch, end - begin, z_cols);
      const Eigen::Index tile = tile_rows > 0 ? tile_rows : end - begin;
      for (Eigen::Index i0 = begin; i0 < end; i0 += tile) {
        const Eigen::Index h = std::min(tile, end - i0);
        auto Z = scratch_matrix(scratch.product, h, z_cols);
        if (plan.tiled()) {
          tiled_tile<T>(W0, batch, plan, block, groups, x, xt, i0, h, tile_cols, Z, scratch);
        } else {
          product_tile<T>(W0, batch, plan, block, groups, S, i0, h, Z, scratch);
        }
        finish_tile<T>(batch, plan, block, groups, terms, i0, h, Z, Y);
      }
    });
  });
}

/// Y = W X + b for one adapter (X in x N, Y out x N): the one-group batch.
template <typename T, int Layout>
void forward_kernel(const FrozenView<T>& base, const AdapterView<const T>& ad,
                    const ConstMatrixRef<T>& X, MatrixRef<T> Y, Workspace<T>& ws) {
  const AdapterView<const T>* adapters[] = {&ad};
  const Eigen::Index start[] = {0, X.cols()};
  grouped_forward_kernel<T, Layout>(base, GroupedBatch<T>{adapters, start, nullptr, 1}, X, Y, ws);
}

}  // namespace glora::detail
