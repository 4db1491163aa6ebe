#pragma once
// Dense<T>: a plain y = W x + b layer, what a GLoRA layer becomes once merged.

#include <glora/detail/gemm.hpp>
#include <glora/detail/product.hpp>
#include <glora/detail/refs.hpp>
#include <glora/errors.hpp>
#include <glora/parameters.hpp>
#include <glora/support.hpp>
#include <glora/workspace.hpp>

#include <Eigen/Core>

#include <utility>
#include <vector>

namespace glora {
namespace detail {

/// Dense's backward past its checks: grad_weight += dY Xᵀ, grad_bias += the
/// row sums of dY, dX = Wᵀ dY. A template on the scalar type alone, so that
/// the compiled mode builds its products once.
template <typename T>
void dense_backward(const ConstMatrixRef<T>& W, const ConstMatrixRef<T>& X,
                    const ConstMatrixRef<T>& dY, MatrixRef<T> grad_weight, VectorRef<T> grad_bias,
                    MatrixRef<T> dX) {
  grad_weight.noalias() += dY * X.transpose();
  grad_bias += dY.rowwise().sum();
  dX.noalias() = W.transpose() * dY;
}

#ifdef GLORA_COMPILED_LIB
// Dense's products: declared here with `extern template`, so that a program
// compiles none of them; defined with `template` in src/glora.cpp.
#define GLORA_DENSE_INSTANCES(declare, T)                                                     \
  declare void weight_product_add<T, Eigen::ColMajor>(const OrderedMap<T, Eigen::ColMajor>&,  \
                                                      const ConstMatrixRef<T>&, MatrixRef<T>, \
                                                      std::vector<ThreadScratch<T>>&);        \
  declare void dense_backward<T>(const ConstMatrixRef<T>&, const ConstMatrixRef<T>&,          \
                                 const ConstMatrixRef<T>&, MatrixRef<T>, VectorRef<T>,        \
                                 MatrixRef<T>);
GLORA_DENSE_INSTANCES(extern template, float)
GLORA_DENSE_INSTANCES(extern template, double)
#endif

}  // namespace detail

/// A dense layer y = weight · x + bias. weight is out x in, bias has out
/// entries; samples are the columns of X (in x N) and Y (out x N).
template <typename T>
struct Dense {
  MatrixX<T> weight;
  VectorX<T> bias;

  Dense() = default;
  /// Throws shape_error unless bias has weight.rows() entries.
  Dense(MatrixX<T> w, VectorX<T> b) : weight(std::move(w)), bias(std::move(b)) {
    detail::check_shape("glora::Dense", "bias", bias, weight.rows(), 1);
  }

  Eigen::Index in_features() const { return weight.cols(); }
  Eigen::Index out_features() const { return weight.rows(); }

  /// Y = weight · X + bias, X in x N; returns out x N.
  MatrixX<T> forward(const Eigen::Ref<const MatrixX<T>>& X) const {
    MatrixX<T> Y(out_features(), X.cols());
    forward(X, Y);
    return Y;
  }

  /// Writes weight · X + bias into Y, which must already be out x N. Uses the
  /// layer's own workspace: after the first call at a batch size it allocates
  /// nothing. Safe to call from several threads at once: a call that finds
  /// the workspace in use runs on a temporary one (and allocates); threads
  /// that share a layer should pass their own Workspace to the overload below.
  void forward(const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y) const {
    auto lease = workspace_.lease();
    forward(X, Y, lease.get());
  }

  /// As forward(X, Y), with caller-owned scratch. The product is the
  /// library's weight product (see weight_product): for a few columns, the
  /// streaming kernel that reads the weight once; for more, GEMM on the
  /// workspace's packing buffers (or the BLAS, built with GLORA_BLAS).
  void forward(const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y,
               Workspace<T>& workspace) const {
    detail::check_shape("glora::Dense::forward", "bias", bias, out_features(), 1);
    detail::check_rows("glora::Dense::forward", "X", X, in_features(), "in_features");
    detail::check_shape("glora::Dense::forward", "Y", Y, out_features(), X.cols());
    if (X.cols() == 0) return;
    Y.colwise() = bias;  // the product adds to it: one pass over Y fewer than adding it after
    const detail::OrderedMap<T, Eigen::ColMajor> W(weight.data(), weight.rows(), weight.cols(),
                                                   Eigen::OuterStride<>(weight.outerStride()));
    detail::weight_product_add<T>(W, X, Y, workspace.threads);
  }

  /// Backpropagates dY (out x N, the gradient of the loss w.r.t. Y) through
  /// Y = weight · X + bias: adds dY Xᵀ to grads.weight and the row sums of dY
  /// to grads.bias, and returns dX = weightᵀ dY (in x N).
  MatrixX<T> backward(const Eigen::Ref<const MatrixX<T>>& X, const Eigen::Ref<const MatrixX<T>>& dY,
                      Dense& grads) const {
    MatrixX<T> dX(in_features(), X.cols());
    backward(X, dY, grads, dX);
    return dX;
  }

  /// As backward(X, dY, grads), writing dX into caller storage (in x N),
  /// which must not overlap X or dY.
  void backward(const Eigen::Ref<const MatrixX<T>>& X, const Eigen::Ref<const MatrixX<T>>& dY,
                Dense& grads, Eigen::Ref<MatrixX<T>> dX) const {
    constexpr const char* where = "glora::Dense::backward";
    detail::check_shape(where, "bias", bias, out_features(), 1);
    detail::check_rows(where, "X", X, in_features(), "in_features");
    detail::check_shape(where, "dY", dY, out_features(), X.cols());
    detail::check_shape(where, "dX", dX, in_features(), X.cols());
    detail::check_shape(where, "grads.weight", grads.weight, out_features(), in_features());
    detail::check_shape(where, "grads.bias", grads.bias, out_features(), 1);
    if (X.cols() == 0) return;  // nothing to add; row views of empty storage offset null
    detail::dense_backward<T>(weight, X, dY, grads.weight, grads.bias, dX);
  }

  /// Calls f(name, role, tensor) for "weight" and "bias" (both Role::value),
  /// so that optimisers and parameter_count treat a Dense layer like an adapter.
  template <typename F>
  void for_each_tensor(F&& f) {
    visit(f, *this);
  }
  template <typename F>
  void for_each_tensor(F&& f) const {
    visit(f, *this);
  }

  /// Calls f(name, role, t...) per tensor with the matching tensor of each of `d`.
  template <typename F, typename... Same>
  static void visit(F&& f, Same&... d) {
    f("weight", Role::value, detail::as_matrix(d.weight)...);
    f("bias", Role::value, detail::as_matrix(d.bias)...);
  }

 private:
  mutable detail::SharedWorkspace<Workspace<T>> workspace_;
};

}  // namespace glora
