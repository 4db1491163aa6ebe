#pragma once
// Dense<T>: a plain y = W x + b layer, what a GLoRA layer becomes once merged.

#include <glora/detail/arguments.hpp>
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
/// row sums of dY, dX = Wᵀ dY, the products on kept packing buffers and their
/// rows split between threads (when Eigen runs with OpenMP). A template on
/// the scalar type alone, so that the compiled mode builds its products once.
template <typename T>
void dense_backward(const ConstMatrixRef<T>& W, const ConstMatrixRef<T>& X,
                    const ConstMatrixRef<T>& dY, MatrixRef<T> grad_weight, VectorRef<T> grad_bias,
                    MatrixRef<T> dX, std::vector<ThreadScratch<T>>& scratch) {
  const int threads = row_threads(double(grad_weight.size()) * double(X.cols()));
  reserve_threads(scratch, threads);
  for_row_ranges(grad_weight.rows(), threads, [&](int t, Eigen::Index begin, Eigen::Index end) {
    product_add<T>(dY.middleRows(begin, end - begin), X.transpose(),
                   grad_weight.middleRows(begin, end - begin), thread_scratch(scratch, t).gemm);
  });
  grad_bias += dY.rowwise().sum();
  weight_product<T>(ordered_map(W.transpose()), dY, dX, scratch);  // W's storage, read row-major
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
                                 MatrixRef<T>, std::vector<ThreadScratch<T>>&);
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
  template <typename XD>
  MatrixX<T> forward(const Eigen::MatrixBase<XD>& X) const {
    MatrixX<T> Y(out_features(), X.cols());
    forward(X, Y);
    return Y;
  }

  /// Writes weight · X + bias into Y, which must already be out x N. Uses the
  /// layer's own workspace: after the first call at a batch size it allocates
  /// nothing. Safe to call from several threads at once: a call that finds
  /// the workspace in use runs on a temporary one (and allocates); threads
  /// that share a layer should pass their own Workspace to the overload below.
  /// X and Y are bound as by the GLoRA layers: column-major storage (a matrix,
  /// Map, Ref, block, or the transpose of a row-major batch) is viewed, never
  /// copied, an expression X evaluated once; other storage fails to compile,
  /// saying what to pass.
  template <typename XD, typename YD>
  void forward(const Eigen::MatrixBase<XD>& X, YD&& Y) const {
    auto lease = workspace_.lease();
    forward(X, std::forward<YD>(Y), lease.get());
  }

  /// As forward(X, Y), with caller-owned scratch. The product is the
  /// library's weight product (see weight_product): for a few columns, the
  /// streaming kernel that reads the weight once; for more, GEMM on the
  /// workspace's packing buffers (or the BLAS, built with GLORA_BLAS).
  template <typename XD, typename YD>
  void forward(const Eigen::MatrixBase<XD>& X, YD&& Y, Workspace<T>& workspace) const {
    const Eigen::Ref<const MatrixX<T>> x = detail::input_ref<T>(X.derived());
    Eigen::Ref<MatrixX<T>> y = detail::output_ref<T>(std::forward<YD>(Y));
    detail::check_shape("glora::Dense::forward", "bias", bias, out_features(), 1);
    detail::check_rows("glora::Dense::forward", "X", x, in_features(), "in_features");
    detail::check_shape("glora::Dense::forward", "Y", y, out_features(), x.cols());
    if (x.cols() == 0) return;
    y.colwise() = bias;  // the product adds to it: one pass over Y fewer than adding it after
    detail::weight_product_add<T>(detail::ordered_map(weight), x, y, workspace.threads);
  }

  /// Backpropagates dY (out x N, the gradient of the loss w.r.t. Y) through
  /// Y = weight · X + bias: adds dY Xᵀ to grads.weight and the row sums of dY
  /// to grads.bias, and returns dX = weightᵀ dY (in x N).
  template <typename XD, typename DYD>
  MatrixX<T> backward(const Eigen::MatrixBase<XD>& X, const Eigen::MatrixBase<DYD>& dY,
                      Dense& grads) const {
    MatrixX<T> dX(in_features(), X.cols());
    backward(X, dY, grads, dX);
    return dX;
  }

  /// As backward(X, dY, grads), writing dX into caller storage (in x N),
  /// which must not overlap X or dY. X, dY and dX are viewed as forward's X
  /// and Y are. Uses the layer's own backward workspace, with the contract of
  /// forward(X, Y): after the first call at a batch size it allocates nothing.
  template <typename XD, typename DYD, typename DXD>
  void backward(const Eigen::MatrixBase<XD>& X, const Eigen::MatrixBase<DYD>& dY, Dense& grads,
                DXD&& dX) const {
    constexpr const char* where = "glora::Dense::backward";
    const Eigen::Ref<const MatrixX<T>> x = detail::input_ref<T>(X.derived());
    const Eigen::Ref<const MatrixX<T>> dy = detail::input_ref<T>(dY.derived());
    Eigen::Ref<MatrixX<T>> dx = detail::output_ref<T>(std::forward<DXD>(dX));
    detail::check_shape(where, "bias", bias, out_features(), 1);
    detail::check_rows(where, "X", x, in_features(), "in_features");
    detail::check_shape(where, "dY", dy, out_features(), x.cols());
    detail::check_shape(where, "dX", dx, in_features(), x.cols());
    detail::check_shape(where, "grads.weight", grads.weight, out_features(), in_features());
    detail::check_shape(where, "grads.bias", grads.bias, out_features(), 1);
    if (x.cols() == 0) return;  // nothing to add; row views of empty storage offset null
    auto lease = backward_workspace_.lease();
    detail::dense_backward<T>(weight, x, dy, grads.weight, grads.bias, dx, lease.get().threads);
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
  mutable detail::SharedWorkspace<Workspace<T>> backward_workspace_;
};

}  // namespace glora
