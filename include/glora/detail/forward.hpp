#pragma once
// The unmerged forward: y = (W0 + W0 ⊙ A + B) x + b without ever forming W.

#include <glora/adapter.hpp>
#include <glora/detail/bias.hpp>
#include <glora/workspace.hpp>

#include <Eigen/Core>

namespace glora::detail {

// Every term that needs W0 shares one product: W0 · [X, u_1 ⊙ X, ..., u_r ⊙ X, c],
// where u_k is row k of A's up (a low-rank A contributes
// Σ_k diag(d_k) W0 diag(u_k) X, d_k column k of A's down) and c is the prompt.
// A vector or scalar A is a row scaling of W0 X; B enters through X alone:
// down (up X) for a low-rank B, v · colsum(X) for a vector, s · colsum(X) for a scalar.
template <typename T, typename W0Type, typename B0Type, typename Adapter>
void unmerged_forward(const W0Type& W0, const B0Type& b0, bool has_bias, const Adapter& ad,
                      const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y,
                      Workspace<T>& ws) {
  using KA = typename Adapter::kind_a;
  using KB = typename Adapter::kind_b;
  constexpr Eigen::Index rank_a = rank_v<KA>;
  constexpr bool prompt = has_prompt_v<Adapter>;
  const Eigen::Index m = W0.rows();
  const Eigen::Index n = W0.cols();
  const Eigen::Index N = X.cols();
  const Eigen::Index prompt_col = N * (1 + rank_a);

  if constexpr (rank_a == 0 && !prompt) {
    Y.noalias() = W0 * X;
  } else {
    ws.stacked.resize(n, prompt_col + (prompt ? 1 : 0));
    ws.stacked.leftCols(N) = X;
    for (Eigen::Index k = 0; k < rank_a; ++k) {
      ws.stacked.middleCols(N * (1 + k), N).array() =
          X.array().colwise() * ad.A.up.row(k).transpose().array();
    }
    if constexpr (prompt) write_prompt(ad.C, ws.stacked.col(prompt_col));
    ws.product.resize(m, ws.stacked.cols());
    ws.product.noalias() = W0 * ws.stacked;
    Y = ws.product.leftCols(N);
    for (Eigen::Index k = 0; k < rank_a; ++k) {
      Y.array() += ws.product.middleCols(N * (1 + k), N).array().colwise() *
                   ad.A.down.col(k).array();
    }
  }

  if constexpr (std::is_same_v<KA, Vector>) {
    Y.array().colwise() *= T(1) + ad.A.value.array();
  } else if constexpr (std::is_same_v<KA, Scalar>) {
    Y *= T(1) + ad.A.value;
  }

  if constexpr (is_low_rank_v<KB>) {
    ws.low_rank.resize(rank_v<KB>, N);
    ws.low_rank.noalias() = ad.B.up * X;
    Y.noalias() += ad.B.down * ws.low_rank;
  } else if constexpr (std::is_same_v<KB, Vector> || std::is_same_v<KB, Scalar>) {
    ws.low_rank.resize(1, N);
    ws.low_rank = X.colwise().sum();
    if constexpr (std::is_same_v<KB, Vector>) {
      Y.noalias() += ad.B.value * ws.low_rank;
    } else {
      Y.rowwise() += ad.B.value * ws.low_rank.row(0);
    }
  }

  if (adds_bias<Adapter>(has_bias)) {
    ws.bias.resize(m);
    write_bias_without_prompt<T>(b0, has_bias, ad, ws.bias);
    if constexpr (prompt) ws.bias += ws.product.col(prompt_col);
    Y.colwise() += ws.bias;
  }
}

}  // namespace glora::detail
