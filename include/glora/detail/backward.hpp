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
// W0 and W0ᵀ are read through the forward's weight_product: W0ᵀ is W0 in the
// other storage order, so both layouts reach both streaming kernels. Which
// order W0 has is a run-time value here (FrozenView::row_major), looked at
// only where W0 or W0ᵀ is multiplied: the backward is compiled once per scalar
// type, and only in programs that call it.

#include <glora/backward_workspace.hpp>
#include <glora/detail/gemm.hpp>
#include <glora/detail/product.hpp>
#include <glora/detail/views.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <vector>

namespace glora::detail {

/// W0ᵀ (in x out): W0's storage read in the other order, without a bias.
template <typename T>
FrozenView<T> transposed_weight(const FrozenView<T>& base) {
  return {base.weight, base.cols, base.rows, base.stride, !base.row_major, nullptr};
}

/// Z = W · S for W the weight of `base`, in whichever storage order it is kept.
template <typename T>
void weight_product(const FrozenView<T>& W, const Eigen::Ref<const MatrixX<T>>& S,
                    Eigen::Ref<MatrixX<T>> Z, std::vector<ThreadScratch<T>>& scratch) {
  if (W.row_major) return weight_product<T>(weight_map<Eigen::RowMajor>(W), S, Z, scratch);
  weight_product<T>(weight_map<Eigen::ColMajor>(W), S, Z, scratch);
}

/// The first `cols` columns of `buffer`, which grows to hold them and never
/// shrinks: calls that alternate between sizes seen before (a backward with
/// and without dX, two batch sizes) reuse it without reallocating.
template <typename T>
auto leading_columns(MatrixX<T>& buffer, Eigen::Index rows, Eigen::Index cols) {
  if (buffer.rows() != rows || buffer.cols() < cols) {
    buffer.resize(rows, std::max(cols, buffer.rows() == rows ? buffer.cols() : cols));
  }
  return buffer.leftCols(cols);
}

/// The first n entries of `buffer`, which grows to hold them and never shrinks.
template <typename T>
auto leading_entries(VectorX<T>& buffer, Eigen::Index n) {
  if (buffer.size() < n) buffer.resize(n);
  return buffer.head(n);
}

/// Adds the gradient of A's row factors: the downs of a low-rank A (column k
/// of down scales the rows of W0 ⊙ u_k), or a vector or scalar A itself.
template <typename T>
void accumulate_a_row_factors(const FrozenView<T>& W0, const SlotView<const T>& A,
                              const Eigen::Ref<const MatrixX<T>>& X,
                              const Eigen::Ref<const MatrixX<T>>& dY, SlotView<T> grad,
                              BackwardWorkspace<T>& ws) {
  const Eigen::Index N = X.cols();
  if (!A.active()) return;
  if (A.is(Kind::low_rank)) {
    // One pass over W0 for all k: W0 · [u_1 ⊙ X, ..., u_r ⊙ X].
    auto scaled_x = leading_columns(ws.scaled_x, X.rows(), N * A.rank());
    for (Eigen::Index k = 0; k < A.rank(); ++k) {
      scaled_x.middleCols(N * k, N).array() = X.array().colwise() * A.up.row(k).transpose().array();
    }
    auto w0_x = leading_columns(ws.w0_x, W0.rows, scaled_x.cols());
    weight_product<T>(W0, scaled_x, w0_x, ws.threads);
    for (Eigen::Index k = 0; k < A.rank(); ++k) {
      grad.down.col(k) += (w0_x.middleCols(N * k, N).array() * dY.array()).rowwise().sum().matrix();
    }
    return;
  }
  auto w0_x = leading_columns(ws.w0_x, W0.rows, N);
  weight_product<T>(W0, X, w0_x, ws.threads);
  const auto row_gradient = (w0_x.array() * dY.array()).rowwise().sum();
  if (A.is(Kind::vector)) {
    grad.vector() += row_gradient.matrix();
  } else {
    grad.scalar() += row_gradient.sum();
  }
}

/// Adds ∂L/∂(the tensors of slot C), given dc = ∂L/∂c.
template <typename T, typename Dc>
void accumulate_c(const SlotView<const T>& C, const Dc& dc, SlotView<T> grad) {
  switch (C.kind) {
    case Kind::low_rank:
      grad.down.noalias() += dc * C.up.col(0).transpose();
      grad.up.col(0).noalias() += C.down.transpose() * dc;
      break;
    case Kind::vector: grad.vector() += dc; break;
    case Kind::scalar: grad.scalar() += dc.sum(); break;
    case Kind::none: break;
  }
}

/// Writes W0's and A's share of dX (when `dX` is wanted), and adds the
/// gradients that go through W0ᵀ: the ups of a low-rank A and slot C. They
/// share one product W0ᵀ · [s ⊙ dY, d_1 ⊙ dY, ..., d_r ⊙ dY, g], the first
/// block only for dX and the last column only with a prompt.
template <typename T>
void backward_through_w0t(const FrozenView<T>& W0, const SlotView<const T>& A,
                          const SlotView<const T>& C, const Eigen::Ref<const MatrixX<T>>& X,
                          const Eigen::Ref<const MatrixX<T>>& dY, SlotView<T> grad_a,
                          SlotView<T> grad_c, bool want_dx, Eigen::Ref<MatrixX<T>> dX,
                          BackwardWorkspace<T>& ws) {
  const Eigen::Index N = X.cols();
  const Eigen::Index rank_a = A.rank();
  const bool prompt = C.active();
  const FrozenView<T> W0t = transposed_weight(W0);
  if (rank_a == 0 && !prompt) {
    if (!want_dx) return;
    if (A.is(Kind::vector)) {
      // dY + diag(v) dY rather than (1 + v) ⊙ dY: a broadcast expression would be
      // evaluated into a temporary, a stored vector is not.
      auto scaled = leading_columns(ws.stacked, dY.rows(), N);
      scaled = dY + A.vector().asDiagonal() * dY;
      weight_product<T>(W0t, scaled, dX, ws.threads);
    } else {
      weight_product<T>(W0t, dY, dX, ws.threads);
      if (A.is(Kind::scalar)) dX *= T(1) + A.scalar();
    }
    return;
  }

  const Eigen::Index first_factor = want_dx ? N : 0;
  const Eigen::Index prompt_col = first_factor + N * rank_a;
  auto stacked = leading_columns(ws.stacked, dY.rows(), prompt_col + (prompt ? 1 : 0));
  if (want_dx) {
    auto scaled = stacked.leftCols(N);
    switch (A.kind) {
      case Kind::vector: scaled = dY + A.vector().asDiagonal() * dY; break;
      case Kind::scalar: scaled = dY * (T(1) + A.scalar()); break;
      default: scaled = dY; break;
    }
  }
  for (Eigen::Index k = 0; k < rank_a; ++k) {
    stacked.middleCols(first_factor + N * k, N).array() =
        dY.array().colwise() * A.down.col(k).array();
  }
  if (prompt) stacked.col(prompt_col) = ws.dy_sums;
  auto w0t_stacked = leading_columns(ws.w0t_stacked, W0t.rows, stacked.cols());
  weight_product<T>(W0t, stacked, w0t_stacked, ws.threads);

  if (want_dx) dX = w0t_stacked.leftCols(N);
  for (Eigen::Index k = 0; k < rank_a; ++k) {
    const auto through_k = w0t_stacked.middleCols(first_factor + N * k, N);
    if (want_dx) dX.array() += through_k.array().colwise() * A.up.row(k).transpose().array();
    grad_a.up.row(k) += (X.array() * through_k.array()).rowwise().sum().transpose().matrix();
  }
  if (prompt) accumulate_c<T>(C, w0t_stacked.col(prompt_col), grad_c);
}

/// Adds B's gradients and, when `dX` is wanted, its share Bᵀ dY of dX.
template <typename T>
void backward_through_b(const SlotView<const T>& B, const Eigen::Ref<const MatrixX<T>>& X,
                        const Eigen::Ref<const MatrixX<T>>& dY, SlotView<T> grad, bool want_dx,
                        Eigen::Ref<MatrixX<T>> dX, BackwardWorkspace<T>& ws) {
  if (!B.active()) return;
  reserve_threads(ws.threads, 1);
  GemmBuffers<T>& gemm = thread_scratch(ws.threads, 0).gemm;
  const Eigen::Index N = X.cols();
  if (B.is(Kind::low_rank)) {
    auto low_rank = leading_columns(ws.low_rank, B.rank(), N);
    low_rank.setZero();
    product_add<T>(B.up, X, low_rank, gemm);  // up X
    product_add<T>(dY, low_rank.transpose(), grad.down, gemm);
    low_rank.setZero();
    product_add<T>(B.down.transpose(), dY, low_rank, gemm);  // downᵀ dY
    product_add<T>(low_rank, X.transpose(), grad.up, gemm);
    if (want_dx) product_add<T>(B.up.transpose(), low_rank, dX, gemm);
    return;
  }
  // B is v 1ᵀ (v = s 1 for a scalar): B X = v colsum(X), Bᵀ dY = 1 (vᵀ dY).
  auto x_sums = leading_entries(ws.x_sums, N);
  auto column_terms = leading_entries(ws.column_terms, N);
  x_sums = X.colwise().sum().transpose();
  if (B.is(Kind::vector)) {
    grad.vector().noalias() += dY * x_sums;
    column_terms.noalias() = dY.transpose() * B.vector();
  } else {
    column_terms = dY.colwise().sum().transpose();
    grad.scalar() += column_terms.dot(x_sums);
    column_terms *= B.scalar();
  }
  if (want_dx) {
    for (Eigen::Index j = 0; j < N; ++j) dX.col(j).array() += column_terms(j);
  }
}

/// Adds the gradients of D and E from g = ∂L/∂b.
template <typename T>
void accumulate_bias_slots(const FrozenView<T>& base, const VectorX<T>& g,
                           const SlotView<const T>& D, SlotView<T> grad_d, SlotView<T> grad_e) {
  if (base.has_bias()) {
    if (D.is(Kind::vector)) {
      grad_d.vector().array() += g.array() * bias_map(base).array();
    } else if (D.is(Kind::scalar)) {
      grad_d.scalar() += g.dot(bias_map(base));
    }
  }
  if (grad_e.is(Kind::vector)) {
    grad_e.vector() += g;
  } else if (grad_e.is(Kind::scalar)) {
    grad_e.scalar() += g.sum();
  }
}

/// Adds to `grads` the gradient of sum(dY ⊙ Y) w.r.t. every support tensor
/// and, when `want_dx`, writes dX (in x N), W0 in either storage order.
/// `grads` has the adapter's kinds. Shapes are the caller's to check; dX must
/// not overlap X or dY.
template <typename T>
void backward_kernel(const FrozenView<T>& base, const AdapterView<const T>& ad,
                     const ConstMatrixRef<T>& X, const ConstMatrixRef<T>& dY, AdapterView<T> grads,
                     bool want_dx, MatrixRef<T> dX, BackwardWorkspace<T>& ws) {
  // An empty batch adds nothing, and Eigen's row views of empty storage would
  // offset a null pointer.
  if (X.cols() == 0) return;
  ws.dy_sums = dY.rowwise().sum();
  accumulate_a_row_factors<T>(base, ad.A, X, dY, grads.A, ws);
  backward_through_w0t<T>(base, ad.A, ad.C, X, dY, grads.A, grads.C, want_dx, dX, ws);
  backward_through_b<T>(ad.B, X, dY, grads.B, want_dx, dX, ws);
  accumulate_bias_slots<T>(base, ws.dy_sums, ad.D, grads.D, grads.E);
}

}  // namespace glora::detail
