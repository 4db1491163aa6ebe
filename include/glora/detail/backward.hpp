#pragma once
// The backward pass of the unmerged layer: gradients of the support tensors
// and of the input, without forming W or the out x in gradient G = dY Xᵀ.
//
// With y = W x + b, W = W0 + W0 ⊙ A + B and b = b0 + b0 ⊙ D + E + W0 c, the
// loss gradient w.r.t. W is G = dY Xᵀ and w.r.t. b it is g = rowsum(dY).
// Every support gradient is a contraction of G or g that factors through
// products the forward pass already knows how to form:
//   ∂A = G ⊙ W0:  a low-rank A (down d_k, up u_k) gets
//                 ∂d_k = rowsum((W0 (u_k ⊙ X)) ⊙ dY),  ∂u_k = rowsum(X ⊙ W0ᵀ (d_k ⊙ dY))ᵀ;
//                 a vector A gets rowsum((W0 X) ⊙ dY), a scalar A its sum.
//   ∂B = G:       a low-rank B gets ∂down = dY (up X)ᵀ, ∂up = (downᵀ dY) Xᵀ;
//                 a vector B gets dY colsum(X)ᵀ, a scalar B its sum.
//   ∂c = W0ᵀ g,   ∂D = g ⊙ b0 (nothing without a frozen bias),  ∂E = g.
//   dX = Wᵀ dY = W0ᵀ (s ⊙ dY) + Σ_k u_k ⊙ W0ᵀ (d_k ⊙ dY) + Bᵀ dY, with
//                s = 1 + A for a vector or scalar A and 1 otherwise.

#include <glora/adapter.hpp>
#include <glora/backward_workspace.hpp>
#include <glora/detail/bias.hpp>

#include <Eigen/Core>

#include <type_traits>

namespace glora::detail {

/// Adds the gradient of A's row factors: the downs of a low-rank A (column k
/// of down scales the rows of W0 ⊙ u_k), or a vector or scalar A itself.
template <typename T, typename W0Type, typename K>
void accumulate_a_row_factors(const W0Type& W0, const Support<T, Slot::A, K>& A,
                              const Eigen::Ref<const MatrixX<T>>& X,
                              const Eigen::Ref<const MatrixX<T>>& dY, Support<T, Slot::A, K>& grad,
                              BackwardWorkspace<T>& ws) {
  const Eigen::Index N = X.cols();
  if constexpr (is_low_rank_v<K>) {
    // One pass over W0 for all k: W0 · [u_1 ⊙ X, ..., u_r ⊙ X].
    ws.scaled_x.resize(X.rows(), N * K::rank);
    for (Eigen::Index k = 0; k < K::rank; ++k) {
      ws.scaled_x.middleCols(N * k, N).array() =
          X.array().colwise() * A.up.row(k).transpose().array();
    }
    ws.w0_x.noalias() = W0 * ws.scaled_x;
    for (Eigen::Index k = 0; k < K::rank; ++k) {
      grad.down.col(k) +=
          (ws.w0_x.middleCols(N * k, N).array() * dY.array()).rowwise().sum().matrix();
    }
  } else if constexpr (!is_none_v<K>) {
    ws.w0_x.noalias() = W0 * X;
    const auto row_gradient = (ws.w0_x.array() * dY.array()).rowwise().sum();
    if constexpr (std::is_same_v<K, Vector>) {
      grad.value += row_gradient.matrix();
    } else {
      grad.value += row_gradient.sum();
    }
  }
}

/// Adds ∂L/∂(the tensors of slot C), given dc = ∂L/∂c.
template <typename T, typename K, typename Dc>
void accumulate_c(const Support<T, Slot::C, K>& C, const Dc& dc, Support<T, Slot::C, K>& grad) {
  if constexpr (is_low_rank_v<K>) {
    grad.down.noalias() += dc * C.up.transpose();
    grad.up.noalias() += C.down.transpose() * dc;
  } else if constexpr (std::is_same_v<K, Vector>) {
    grad.value += dc;
  } else if constexpr (std::is_same_v<K, Scalar>) {
    grad.value += dc.sum();
  }
}

/// Writes W0's and A's share of dX, and adds the gradients that go through
/// W0ᵀ: the ups of a low-rank A and slot C. They share one product
/// W0ᵀ · [s ⊙ dY, d_1 ⊙ dY, ..., d_r ⊙ dY, g], the last column only with a prompt.
/// Templated on the two slots it reads, so that layers which differ only in
/// B, D or E share one instance.
template <typename T, typename W0Type, typename KA, typename KC>
void backward_through_w0t(const W0Type& W0, const Support<T, Slot::A, KA>& A,
                          const Support<T, Slot::C, KC>& C, const Eigen::Ref<const MatrixX<T>>& X,
                          const Eigen::Ref<const MatrixX<T>>& dY, Support<T, Slot::A, KA>& grad_a,
                          Support<T, Slot::C, KC>& grad_c, Eigen::Ref<MatrixX<T>> dX,
                          BackwardWorkspace<T>& ws) {
  constexpr Eigen::Index rank_a = rank_v<KA>;
  constexpr bool prompt = adds_prompt_v<KC>;
  const Eigen::Index N = X.cols();

  if constexpr (rank_a == 0 && !prompt && !std::is_same_v<KA, Vector>) {
    dX.noalias() = W0.transpose() * dY;
    if constexpr (std::is_same_v<KA, Scalar>) dX *= T(1) + A.value;
  } else {
    const Eigen::Index prompt_col = N * (1 + rank_a);
    ws.stacked.resize(dY.rows(), prompt_col + (prompt ? 1 : 0));
    if constexpr (std::is_same_v<KA, Vector>) {
      // dY + diag(v) dY rather than (1 + v) ⊙ dY: a broadcast expression would be
      // evaluated into a temporary, a stored vector is not.
      ws.stacked.leftCols(N) = dY + A.value.asDiagonal() * dY;
    } else if constexpr (std::is_same_v<KA, Scalar>) {
      ws.stacked.leftCols(N) = dY * (T(1) + A.value);
    } else {
      ws.stacked.leftCols(N) = dY;
    }
    if constexpr (rank_a > 0) {
      for (Eigen::Index k = 0; k < rank_a; ++k) {
        ws.stacked.middleCols(N * (1 + k), N).array() =
            dY.array().colwise() * A.down.col(k).array();
      }
    }
    if constexpr (prompt) ws.stacked.col(prompt_col) = ws.dy_sums;
    ws.w0t_stacked.noalias() = W0.transpose() * ws.stacked;

    dX = ws.w0t_stacked.leftCols(N);
    if constexpr (rank_a > 0) {
      for (Eigen::Index k = 0; k < rank_a; ++k) {
        const auto through_k = ws.w0t_stacked.middleCols(N * (1 + k), N);
        dX.array() += through_k.array().colwise() * A.up.row(k).transpose().array();
        grad_a.up.row(k) += (X.array() * through_k.array()).rowwise().sum().transpose().matrix();
      }
    }
    if constexpr (prompt) accumulate_c(C, ws.w0t_stacked.col(prompt_col), grad_c);
  }
}

/// Adds B's gradients and its share Bᵀ dY of dX.
template <typename T, typename K>
void backward_through_b(const Support<T, Slot::B, K>& B, const Eigen::Ref<const MatrixX<T>>& X,
                        const Eigen::Ref<const MatrixX<T>>& dY, Support<T, Slot::B, K>& grad,
                        Eigen::Ref<MatrixX<T>> dX, BackwardWorkspace<T>& ws) {
  if constexpr (is_low_rank_v<K>) {
    ws.low_rank.noalias() = B.up * X;
    grad.down.noalias() += dY * ws.low_rank.transpose();
    ws.low_rank.noalias() = B.down.transpose() * dY;
    grad.up.noalias() += ws.low_rank * X.transpose();
    dX.noalias() += B.up.transpose() * ws.low_rank;
  } else if constexpr (!is_none_v<K>) {
    // B is v 1ᵀ (v = s 1 for a scalar): B X = v colsum(X), Bᵀ dY = 1 (vᵀ dY).
    ws.x_sums = X.colwise().sum().transpose();
    if constexpr (std::is_same_v<K, Vector>) {
      grad.value.noalias() += dY * ws.x_sums;
      ws.low_rank.noalias() = B.value.transpose() * dY;
    } else {
      ws.low_rank = dY.colwise().sum();
      grad.value += ws.low_rank.row(0).dot(ws.x_sums.transpose());
      ws.low_rank *= B.value;
    }
    dX.rowwise() += ws.low_rank.row(0);
  }
}

/// Adds the gradients of D and E from g = ∂L/∂b.
template <typename T, typename B0Type, typename KD, typename KE>
void accumulate_bias_slots(const B0Type& b0, bool has_bias, const VectorX<T>& g,
                           Support<T, Slot::D, KD>& grad_d, Support<T, Slot::E, KE>& grad_e) {
  if (has_bias) {
    if constexpr (std::is_same_v<KD, Vector>) {
      grad_d.value.array() += g.array() * b0.array();
    } else if constexpr (std::is_same_v<KD, Scalar>) {
      grad_d.value += g.dot(b0);
    }
  }
  if constexpr (std::is_same_v<KE, Vector>) {
    grad_e.value += g;
  } else if constexpr (std::is_same_v<KE, Scalar>) {
    grad_e.value += g.sum();
  }
}

/// Adds to `grads` the gradient of sum(dY ⊙ Y) w.r.t. every support tensor
/// and writes dX (in x N). Shapes are the caller's to check; dX must not
/// overlap X or dY.
template <typename T, typename W0Type, typename B0Type, typename Adapter>
void unmerged_backward(const W0Type& W0, const B0Type& b0, bool has_bias, const Adapter& ad,
                       const Eigen::Ref<const MatrixX<T>>& X,
                       const Eigen::Ref<const MatrixX<T>>& dY, Adapter& grads,
                       Eigen::Ref<MatrixX<T>> dX, BackwardWorkspace<T>& ws) {
  // An empty batch adds nothing, and Eigen's row views of empty storage would
  // offset a null pointer.
  if (X.cols() == 0) return;
  ws.dy_sums = dY.rowwise().sum();
  accumulate_a_row_factors(W0, ad.A, X, dY, grads.A, ws);
  backward_through_w0t(W0, ad.A, ad.C, X, dY, grads.A, grads.C, dX, ws);
  backward_through_b(ad.B, X, dY, grads.B, dX, ws);
  accumulate_bias_slots<T>(b0, has_bias, ws.dy_sums, grads.D, grads.E);
}

}  // namespace glora::detail
