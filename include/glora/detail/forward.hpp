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

#include <glora/adapter.hpp>
#include <glora/detail/bias.hpp>
#include <glora/detail/gemm.hpp>
#include <glora/detail/parallel.hpp>
#include <glora/detail/stream.hpp>
#include <glora/workspace.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <type_traits>

namespace glora::detail {

/// Tile of W formed by the tiled path: 256 KB in single precision, so that
/// with the matching slices of X and Y it stays in a 512 KB L2 cache. Shorter
/// tiles measured up to 15% slower at batch 197: each one is a separate GEMM.
inline constexpr Eigen::Index forward_tile_rows = 256;
inline constexpr Eigen::Index forward_tile_cols = 256;

// The helpers below are templated on the slot they read (and on whether slot
// C adds a prompt), not on the whole adapter: layers that differ only in the
// other slots share one instance of each.

/// Columns of S in the factored path.
template <typename KA, bool Prompt>
constexpr Eigen::Index stacked_cols(Eigen::Index N) {
  const bool prompt_column = Prompt && (std::is_same_v<KA, Vector> || std::is_same_v<KA, Scalar>);
  return N * (1 + rank_v<KA>)+(prompt_column ? 1 : 0);
}

/// Whether S is X itself (no prompt, no low-rank A), so no copy is needed.
template <typename KA, bool Prompt>
constexpr bool stacks_x_only() {
  return !Prompt && !is_low_rank_v<KA>;
}

/// The tiled path pays off once S is too wide to stream and its N + r
/// multiply-adds per entry of W0 beat the factored path's N (1 + r).
template <typename KA, bool Prompt>
bool use_tiled_path(Eigen::Index N) {
  constexpr Eigen::Index r = rank_v<KA>;
  return r > 0 && stacked_cols<KA, Prompt>(N) > max_stream_cols && N + r + 2 < N * (1 + r);
}

/// Makes room for `threads` threads' scratch; allocates only when it grows.
template <typename T>
void reserve_threads(Workspace<T>& ws, int threads) {
  if (static_cast<int>(ws.threads.size()) < threads) ws.threads.resize(threads);
}

/// Builds S (see the top of this file) in ws.stacked, with c in ws.prompt.
template <bool Prompt, typename T, typename KA>
void build_stacked(const Support<T, Slot::A, KA>& A, const Eigen::Ref<const MatrixX<T>>& X,
                   Workspace<T>& ws) {
  const Eigen::Index N = X.cols();
  ws.stacked.resize(X.rows(), stacked_cols<KA, Prompt>(N));
  ws.stacked.leftCols(N) = X;
  if constexpr (is_low_rank_v<KA>) {
    for (Eigen::Index k = 0; k < rank_v<KA>; ++k) {
      ws.stacked.middleCols(N * (1 + k), N).array() =
          X.array().colwise() * A.up.row(k).transpose().array();
    }
  }
  if constexpr (Prompt) {
    if constexpr (std::is_same_v<KA, Vector> || std::is_same_v<KA, Scalar>) {
      ws.stacked.rightCols(1) = ws.prompt;
    } else {
      ws.stacked.leftCols(N).colwise() += ws.prompt;
    }
  }
}

/// Z = W0 · S, split by rows between threads; each range streams W0 once when
/// S is narrow, or runs Eigen's GEMM kernel on its own packing buffers.
template <typename T, typename W0Type>
void product(const W0Type& W0, const Eigen::Ref<const MatrixX<T>>& S, Eigen::Ref<MatrixX<T>> Z,
             Workspace<T>& ws) {
  const int threads = row_threads(double(W0.size()) * double(S.cols()));
  reserve_threads(ws, threads);
  Z.setZero();
  for_row_ranges(W0.rows(), threads, [&](int t, Eigen::Index begin, Eigen::Index end) {
    const auto W0r = W0.middleRows(begin, end - begin);
    auto Zr = Z.middleRows(begin, end - begin);
    if (S.cols() <= max_stream_cols) {
      stream_product_add<T>(W0r, S, Zr);
    } else {
      product_add<T>(W0r, S, Zr, ws.threads[t].gemm);
    }
  });
}

/// The factored path: writes W0's terms, A included, into Y; for a vector or
/// scalar A adds W0 c to ws.bias.
template <bool Prompt, typename T, typename W0Type, typename KA>
void factored_w0_terms(const W0Type& W0, const Support<T, Slot::A, KA>& A,
                       const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y,
                       Workspace<T>& ws) {
  const Eigen::Index N = X.cols();
  if constexpr (stacks_x_only<KA, Prompt>()) {
    product<T>(W0, X, Y, ws);
  } else {
    build_stacked<Prompt, T>(A, X, ws);
    if constexpr (std::is_same_v<KA, None>) {
      product<T>(W0, ws.stacked, Y, ws);
    } else {
      ws.product.resize(W0.rows(), ws.stacked.cols());
      product<T>(W0, ws.stacked, ws.product, ws);
      Y = ws.product.leftCols(N);
    }
  }

  if constexpr (is_low_rank_v<KA>) {
    for (Eigen::Index k = 0; k < rank_v<KA>; ++k) {
      Y.array() += ws.product.middleCols(N * (1 + k), N).array().colwise() * A.down.col(k).array();
    }
  } else if constexpr (std::is_same_v<KA, Vector>) {
    // One column at a time: Eigen's colwise() *= would evaluate 1 + a into a heap temporary.
    for (Eigen::Index j = 0; j < N; ++j) Y.col(j).array() *= T(1) + A.value.array();
  } else if constexpr (std::is_same_v<KA, Scalar>) {
    Y *= T(1) + A.value;
  }
  if constexpr (Prompt && !std::is_same_v<KA, None> && !is_low_rank_v<KA>) {
    ws.bias += ws.product.col(N);
  }
}

/// The tiled path (low-rank A): Y = (W0 ⊙ (1 + Ad Au)) X, one tile of the
/// adapted weight at a time; W0 c is added to ws.bias from the same tiles.
template <bool Prompt, typename T, typename W0Type, typename KA>
void tiled_w0_terms(const W0Type& W0, const Support<T, Slot::A, KA>& A,
                    const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y,
                    Workspace<T>& ws) {
  const Eigen::Index n = W0.cols();
  const int threads = row_threads(double(W0.size()) * double(X.cols()));
  reserve_threads(ws, threads);
  Y.setZero();
  for_row_ranges(W0.rows(), threads, [&](int t, Eigen::Index begin, Eigen::Index end) {
    MatrixX<T>& tile = ws.threads[t].tile;
    tile.resize(forward_tile_rows, forward_tile_cols);
    // Column panels outside: a panel's rows of X are reused by every row block.
    for (Eigen::Index j0 = 0; j0 < n; j0 += forward_tile_cols) {
      const Eigen::Index w = std::min(forward_tile_cols, n - j0);
      for (Eigen::Index i0 = begin; i0 < end; i0 += forward_tile_rows) {
        const Eigen::Index h = std::min(forward_tile_rows, end - i0);
        const auto W0t = W0.block(i0, j0, h, w);
        auto Wt = tile.topLeftCorner(h, w);
        Wt.noalias() = A.down.middleRows(i0, h) * A.up.middleCols(j0, w);
        Wt.array() = W0t.array() * (T(1) + Wt.array());
        if constexpr (Prompt) {
          ws.bias.segment(i0, h).noalias() += W0t * ws.prompt.segment(j0, w);
        }
        product_add<T>(Wt, X.middleRows(j0, w), Y.middleRows(i0, h), ws.threads[t].gemm);
      }
    }
  });
}

/// Adds B's term and the bias to Y.
template <typename T, typename KB>
void add_b_and_bias(const Support<T, Slot::B, KB>& B, bool adds_any_bias,
                    const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y,
                    Workspace<T>& ws) {
  const Eigen::Index N = X.cols();
  reserve_threads(ws, 1);
  if constexpr (is_low_rank_v<KB>) {
    ws.low_rank.setZero(rank_v<KB>, N);
    product_add<T>(B.up, X, ws.low_rank, ws.threads[0].gemm);
    product_add<T>(B.down, ws.low_rank, Y, ws.threads[0].gemm);
  } else if constexpr (std::is_same_v<KB, Vector> || std::is_same_v<KB, Scalar>) {
    // Column by column: Eigen's rowwise() += would evaluate the row into a heap temporary.
    for (Eigen::Index j = 0; j < N; ++j) {
      const T column_sum = X.col(j).sum();
      if constexpr (std::is_same_v<KB, Vector>) {
        Y.col(j) += column_sum * B.value;
      } else {
        Y.col(j).array() += column_sum * B.value;
      }
    }
  }
  if (adds_any_bias) Y.colwise() += ws.bias;
}

/// Y = W X + b for the adapted layer, shapes already checked.
template <typename T, typename W0Type, typename B0Type, typename Adapter>
void unmerged_forward(const W0Type& W0, const B0Type& b0, bool has_bias, const Adapter& ad,
                      const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y,
                      Workspace<T>& ws) {
  using KA = typename Adapter::kind_a;
  constexpr bool prompt = has_prompt_v<Adapter>;
  const bool bias = adds_bias<Adapter>(has_bias);
  if (bias) {
    ws.bias.resize(W0.rows());
    write_bias_without_prompt<T>(b0, has_bias, ad.D, ad.E, ws.bias);
  }
  if constexpr (prompt) {
    ws.prompt.resize(W0.cols());
    write_prompt(ad.C, ws.prompt);
  }
  if (use_tiled_path<KA, prompt>(X.cols())) {
    if constexpr (is_low_rank_v<KA>) tiled_w0_terms<prompt, T>(W0, ad.A, X, Y, ws);
  } else {
    factored_w0_terms<prompt, T>(W0, ad.A, X, Y, ws);
  }
  add_b_and_bias<T>(ad.B, bias, X, Y, ws);
}

}  // namespace glora::detail
