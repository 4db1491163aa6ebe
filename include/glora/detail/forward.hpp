#pragma once
// The unmerged forward: y = (W0 + W0 ⊙ A + B) x + b without ever forming W.
//
// W0 is the only large operand, so the cost of a call is the number of passes
// over W0 and the multiply-adds done per element of it. Two paths:
//
// Factored. Every term that needs W0 is one product Z = W0 · S:
//   low-rank A:         S = [X + c1ᵀ, u_1 ⊙ X, ..., u_r ⊙ X]   (u_k: row k of A's up)
//                       y = Z_0 + Σ_k diag(d_k) Z_k              (d_k: column k of A's down)
//   vector/scalar A:    S = [X, c],  y = (1 + a) ⊙ (W0 X) + W0 c
//   no A:               S = X + c1ᵀ
// W0 x and W0 c are both unscaled when A is low-rank or absent, so c rides in
// X's columns. A narrow S (small batches) goes to a streaming kernel that reads
// W0 once; a wide one to Eigen's GEMM. Cost: N (1 + r) multiply-adds per W0 entry.
//
// Tiled (low-rank A, wide S). W0 ⊙ (1 + Ad Au) is formed one tile at a time and
// multiplied into Y while the tile is in cache: N + r multiply-adds per entry
// and a tile of scratch, never a full copy of W.
//
// B never touches W0: down (up X) for a low-rank B, v · colsum(X) for a vector,
// s · colsum(X) for a scalar; with the bias it is added after either path.

#include <glora/detail/bias.hpp>
#include <glora/detail/gemm.hpp>
#include <glora/detail/parallel.hpp>
#include <glora/detail/product.hpp>
#include <glora/detail/views.hpp>
#include <glora/workspace.hpp>

#include <Eigen/Core>

#include <algorithm>

namespace glora::detail {

/// Tile of W formed by the tiled path: 256 KB in single precision, so that
/// with the matching slices of X and Y it stays in a 512 KB L2 cache. Shorter
/// tiles measured up to 15% slower at batch 197: each one is a separate GEMM.
inline constexpr Eigen::Index forward_tile_rows = 256;
inline constexpr Eigen::Index forward_tile_cols = 256;

/// Whether the factored path gives W0 c a column of its own: for a vector or
/// scalar A, which scales W0 x but not W0 c.
template <typename S>
bool prompt_column(const SlotView<S>& A, bool prompt) {
  return prompt && (A.is(Kind::vector) || A.is(Kind::scalar));
}

/// Columns of S in the factored path.
template <typename S>
Eigen::Index stacked_cols(const SlotView<S>& A, bool prompt, Eigen::Index N) {
  return N * (1 + A.rank()) + (prompt_column(A, prompt) ? 1 : 0);
}

/// The tiled path pays off once S is too wide to stream and its N + r
/// multiply-adds per entry of W0 beat the factored path's N (1 + r).
template <typename S>
bool use_tiled_path(const SlotView<S>& A, bool prompt, Eigen::Index N) {
  const Eigen::Index r = A.rank();
  return r > 0 && stacked_cols(A, prompt, N) > max_stream_cols && N + r + 2 < N * (1 + r);
}

/// Builds S (see the top of this file) in ws.stacked, with c in ws.prompt.
template <typename T>
void build_stacked(const SlotView<const T>& A, bool prompt, const Eigen::Ref<const MatrixX<T>>& X,
                   Workspace<T>& ws) {
  const Eigen::Index N = X.cols();
  ws.stacked.resize(X.rows(), stacked_cols(A, prompt, N));
  ws.stacked.leftCols(N) = X;
  for (Eigen::Index k = 0; k < A.rank(); ++k) {
    ws.stacked.middleCols(N * (1 + k), N).array() =
        X.array().colwise() * A.up.row(k).transpose().array();
  }
  if (prompt_column(A, prompt)) {
    ws.stacked.rightCols(1) = ws.prompt;
  } else if (prompt) {
    ws.stacked.leftCols(N).colwise() += ws.prompt;
  }
}

/// The factored path: writes W0's terms, A included, into Y; for a vector or
/// scalar A adds W0 c to ws.bias.
template <typename T, int Layout>
void factored_w0_terms(const OrderedMap<T, Layout>& W0, const SlotView<const T>& A, bool prompt,
                       const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y,
                       Workspace<T>& ws) {
  const Eigen::Index N = X.cols();
  if (!prompt && !A.is(Kind::low_rank)) {
    weight_product<T>(W0, X, Y, ws.threads);  // S is X itself
  } else {
    build_stacked<T>(A, prompt, X, ws);
    if (!A.active()) {
      weight_product<T>(W0, ws.stacked, Y, ws.threads);
    } else {
      ws.product.resize(W0.rows(), ws.stacked.cols());
      weight_product<T>(W0, ws.stacked, ws.product, ws.threads);
      Y = ws.product.leftCols(N);
    }
  }

  switch (A.kind) {
    case Kind::low_rank:
      for (Eigen::Index k = 0; k < A.rank(); ++k) {
        Y.array() +=
            ws.product.middleCols(N * (1 + k), N).array().colwise() * A.down.col(k).array();
      }
      break;
    case Kind::vector:
      // One column at a time: Eigen's colwise() *= would evaluate 1 + a into a heap temporary.
      for (Eigen::Index j = 0; j < N; ++j) Y.col(j).array() *= T(1) + A.vector().array();
      break;
    case Kind::scalar: Y *= T(1) + A.scalar(); break;
    case Kind::none: break;
  }
  if (prompt_column(A, prompt)) ws.bias += ws.product.col(N);
}

/// The tiled path (low-rank A): Y = (W0 ⊙ (1 + Ad Au)) X, one tile of the
/// adapted weight at a time, in W0's storage order; W0 c is added to ws.bias
/// from the same tiles.
template <typename T, int Layout>
void tiled_w0_terms(const OrderedMap<T, Layout>& W0, const SlotView<const T>& A, bool prompt,
                    const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y,
                    Workspace<T>& ws) {
  using Tile = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Layout>>;
  const Eigen::Index n = W0.cols();
  const int threads = row_threads(double(W0.size()) * double(X.cols()));
  reserve_threads(ws.threads, threads);
  Y.setZero();
  for_row_ranges(W0.rows(), threads, [&](int t, Eigen::Index begin, Eigen::Index end) {
    ThreadScratch<T>& scratch = thread_scratch(ws.threads, t);
    scratch.tile.resize(forward_tile_rows * forward_tile_cols);
    // Column panels outside: a panel's rows of X are reused by every row block.
    for (Eigen::Index j0 = 0; j0 < n; j0 += forward_tile_cols) {
      const Eigen::Index w = std::min(forward_tile_cols, n - j0);
      for (Eigen::Index i0 = begin; i0 < end; i0 += forward_tile_rows) {
        const Eigen::Index h = std::min(forward_tile_rows, end - i0);
        const auto W0t = W0.block(i0, j0, h, w);
        Tile Wt(scratch.tile.data(), h, w);
        Wt.noalias() = A.down.middleRows(i0, h) * A.up.middleCols(j0, w);
        Wt.array() = W0t.array() * (T(1) + Wt.array());
        if (prompt) ws.bias.segment(i0, h).noalias() += W0t * ws.prompt.segment(j0, w);
        product_add<T>(Wt, X.middleRows(j0, w), Y.middleRows(i0, h), scratch.gemm);
      }
    }
  });
}

/// Adds B's term and, when the layer has one, the bias ws.bias to Y.
template <typename T>
void add_b_and_bias(const SlotView<const T>& B, bool bias, const Eigen::Ref<const MatrixX<T>>& X,
                    Eigen::Ref<MatrixX<T>> Y, Workspace<T>& ws) {
  const Eigen::Index N = X.cols();
  if (B.is(Kind::low_rank)) {
    reserve_threads(ws.threads, 1);
    GemmBuffers<T>& gemm = thread_scratch(ws.threads, 0).gemm;
    ws.low_rank.setZero(B.rank(), N);
    product_add<T>(B.up, X, ws.low_rank, gemm);
    product_add<T>(B.down, ws.low_rank, Y, gemm);
  } else if (B.is(Kind::vector) || B.is(Kind::scalar)) {
    // Column by column: Eigen's rowwise() += would evaluate the row into a heap temporary.
    for (Eigen::Index j = 0; j < N; ++j) {
      const T column_sum = X.col(j).sum();
      if (B.is(Kind::vector)) {
        Y.col(j) += column_sum * B.vector();
      } else {
        Y.col(j).array() += column_sum * B.scalar();
      }
    }
  }
  if (bias) Y.colwise() += ws.bias;
}

/// Y = W X + b for the adapted layer (X in x N, Y out x N), W0 in storage
/// order Layout; shapes already checked.
template <typename T, int Layout>
void forward_kernel(const FrozenView<T>& base, const AdapterView<const T>& ad,
                    const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y,
                    Workspace<T>& ws) {
  const auto W0 = weight_map<Layout>(base);
  const bool prompt = ad.C.active();
  const bool bias = adds_bias(base.has_bias(), ad);
  if (bias) {
    ws.bias.resize(W0.rows());
    write_bias_without_prompt<T>(bias_map(base), ad.D, ad.E, ws.bias);
  }
  if (prompt) {
    ws.prompt.resize(W0.cols());
    write_prompt<T>(ad.C, 0, ws.prompt);
  }
  if (use_tiled_path(ad.A, prompt, X.cols())) {
    tiled_w0_terms<T>(W0, ad.A, prompt, X, Y, ws);
  } else {
    factored_w0_terms<T>(W0, ad.A, prompt, X, Y, ws);
  }
  add_b_and_bias<T>(ad.B, bias, X, Y, ws);
}

}  // namespace glora::detail
