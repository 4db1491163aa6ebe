#pragma once
// Linear and LinearView: a frozen dense layer adapted by GLoRA.
//
//   W = W0 + W0 ⊙ A + B,   b = b0 + b0 ⊙ D + E + W0 c,   y = W x + b
//
// Linear owns W0 and b0; LinearView adapts weights that a model already owns.
// Both compute the same thing through one implementation, LinearBase.

#include <glora/adapter.hpp>
#include <glora/backward_workspace.hpp>
#include <glora/dense.hpp>
#include <glora/detail/backward.hpp>
#include <glora/detail/forward.hpp>
#include <glora/detail/merge.hpp>
#include <glora/errors.hpp>
#include <glora/kinds.hpp>
#include <glora/support.hpp>
#include <glora/workspace.hpp>

#include <Eigen/Core>

#include <stdexcept>
#include <string>
#include <utility>

namespace glora {

namespace detail {

/// A frozen base held by value.
template <typename T>
struct OwnedBase {
  MatrixX<T> W0;
  VectorX<T> b0;  // empty when the layer has no bias
  bool has_bias;

  const MatrixX<T>& weight() const { return W0; }
  const VectorX<T>& bias() const { return b0; }
  Eigen::Ref<MatrixX<T>> weight_storage() { return W0; }
  Eigen::Ref<VectorX<T>> bias_storage() { return b0; }
};

/// A frozen base that lives in someone else's (column-major) storage.
template <typename T>
struct ViewedBase {
  Eigen::Map<MatrixX<T>> W0;
  Eigen::Map<VectorX<T>> b0;  // size 0 when the layer has no bias
  bool has_bias;

  Eigen::Map<const MatrixX<T>> weight() const {
    return Eigen::Map<const MatrixX<T>>(W0.data(), W0.rows(), W0.cols());
  }
  Eigen::Map<const VectorX<T>> bias() const {
    return Eigen::Map<const VectorX<T>>(b0.data(), b0.size());
  }
  Eigen::Ref<MatrixX<T>> weight_storage() { return W0; }
  Eigen::Ref<VectorX<T>> bias_storage() { return b0; }
};

inline void check_bias(const char* where, Eigen::Index bias_size, Eigen::Index out) {
  if (bias_size != out) {
    throw shape_error(std::string(where) + ": b0 is " + shape_string(bias_size, 1) + ", expected " +
                      shape_string(out, 1) + " (one entry per row of W0)");
  }
}

/// Everything Linear and LinearView share; `Base` is how W0 and b0 are held.
template <typename T, typename Base, typename KA, typename KB, typename KC, typename KD,
          typename KE>
class LinearBase {
 public:
  using scalar_type = T;
  using adapter_type = Adapter<T, KA, KB, KC, KD, KE>;

  /// Columns of W0: the size of one input sample.
  Eigen::Index in_features() const { return base_.W0.cols(); }
  /// Rows of W0: the size of one output sample.
  Eigen::Index out_features() const { return base_.W0.rows(); }
  /// Whether the frozen layer has a bias b0. Without one, D has no effect.
  bool has_bias() const { return base_.has_bias; }
  /// The frozen weight W0 (out x in).
  decltype(auto) weight() const { return base_.weight(); }
  /// The frozen bias b0 (out entries; empty without a bias).
  decltype(auto) bias() const { return base_.bias(); }

  /// The support tensors A..E, to set, train or inspect.
  adapter_type& adapter() { return adapter_; }
  const adapter_type& adapter() const { return adapter_; }

  /// Y = W X + b for X in x N; returns out x N.
  MatrixX<T> forward(const Eigen::Ref<const MatrixX<T>>& X) const {
    MatrixX<T> Y(out_features(), X.cols());
    forward(X, Y);
    return Y;
  }

  /// Writes W X + b into Y, which must already be out x N. Uses the layer's
  /// own workspace: after the first call at a batch size it allocates
  /// nothing. Safe to call from several threads at once: a call that finds
  /// the workspace in use runs on a temporary one (and allocates); threads
  /// that share a layer should pass their own Workspace to the overload below.
  void forward(const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y) const {
    workspace_.use([&](Workspace<T>& ws) { forward(X, Y, ws); });
  }

  /// As forward(X, Y), with caller-owned scratch: safe from several threads
  /// at once as long as each uses its own workspace; allocation-free once the
  /// workspace has seen the batch size.
  void forward(const Eigen::Ref<const MatrixX<T>>& X, Eigen::Ref<MatrixX<T>> Y,
               Workspace<T>& workspace) const {
    adapter_.check(out_features(), in_features());
    check_rows("glora::Linear::forward", "X", X, in_features());
    check_shape("glora::Linear::forward", "Y", Y, out_features(), X.cols());
    unmerged_forward<T>(base_.W0, base_.b0, base_.has_bias, adapter_, X, Y, workspace);
  }

  /// Backpropagates dY = ∂L/∂Y (out x N) for the input X (in x N) that
  /// produced Y: adds ∂L/∂(every support tensor) to `grads` (an adapter of
  /// the layer's shapes, e.g. from zeros_like(adapter())) and returns
  /// dX = ∂L/∂X (in x N). W0 and b0 are frozen: no gradient is formed for them.
  MatrixX<T> backward(const Eigen::Ref<const MatrixX<T>>& X, const Eigen::Ref<const MatrixX<T>>& dY,
                      adapter_type& grads) const {
    MatrixX<T> dX(in_features(), X.cols());
    backward(X, dY, grads, dX);
    return dX;
  }

  /// As backward(X, dY, grads), writing dX into caller storage (in x N) that
  /// must not overlap X or dY. Uses the layer's own backward workspace, with
  /// the same contract as forward(X, Y): allocation-free once a batch size has
  /// been seen, and safe from several threads (each with its own grads).
  void backward(const Eigen::Ref<const MatrixX<T>>& X, const Eigen::Ref<const MatrixX<T>>& dY,
                adapter_type& grads, Eigen::Ref<MatrixX<T>> dX) const {
    backward_workspace_.use([&](BackwardWorkspace<T>& ws) { backward(X, dY, grads, dX, ws); });
  }

  /// As backward(X, dY, grads, dX), with caller-owned scratch.
  void backward(const Eigen::Ref<const MatrixX<T>>& X, const Eigen::Ref<const MatrixX<T>>& dY,
                adapter_type& grads, Eigen::Ref<MatrixX<T>> dX,
                BackwardWorkspace<T>& workspace) const {
    constexpr const char* where = "glora::Linear::backward";
    adapter_.check(out_features(), in_features());
    grads.check(out_features(), in_features());
    check_rows(where, "X", X, in_features());
    check_shape(where, "dY", dY, out_features(), X.cols());
    check_shape(where, "dX", dX, in_features(), X.cols());
    unmerged_backward<T>(base_.W0, base_.b0, base_.has_bias, adapter_, X, dY, grads, dX, workspace);
  }

  /// The merged plain layer: weight W0 + W0 ⊙ A + B, bias b0 + b0 ⊙ D + E + W0 c.
  Dense<T> merge() const {
    Dense<T> merged;
    merged.weight.resize(out_features(), in_features());
    merged.bias.resize(out_features());
    merge_into(merged.weight, merged.bias);
    return merged;
  }

  /// Writes the merged weight (out x in) and bias (out) into caller storage.
  /// W and b may be the very storage of W0 and b0.
  void merge_into(Eigen::Ref<MatrixX<T>> W, Eigen::Ref<VectorX<T>> b) const {
    adapter_.check(out_features(), in_features());
    check_shape("glora::Linear::merge_into", "W", W, out_features(), in_features());
    check_shape("glora::Linear::merge_into", "b", b, out_features(), 1);
    detail::merge<T>(base_.W0, base_.b0, base_.has_bias, adapter_, W, b);
  }

  /// Folds the adapter into W0 and b0 themselves (for a LinearView: into the
  /// model's own weights), then resets the adapter to identity, so forward
  /// keeps giving the same outputs. A layer without a bias has nowhere to put
  /// E or W0 c: with either active this throws std::logic_error and changes nothing.
  void merge_in_place() {
    if (adds_bias<adapter_type>(false) && !base_.has_bias) {
      throw std::logic_error(
          "glora::Linear::merge_in_place: the layer has no bias storage but slot C or E adds a "
          "bias; use merge() or merge_into()");
    }
    adapter_.check(out_features(), in_features());
    // Without a frozen bias the bias storage is empty and, as checked above,
    // nothing adds one: only the weight is merged.
    detail::merge<T>(base_.W0, base_.b0, base_.has_bias, adapter_, base_.weight_storage(),
                     base_.bias_storage());
    adapter_.reset_to_identity();
  }

 protected:
  explicit LinearBase(Base base)
      : base_(std::move(base)), adapter_(base_.W0.rows(), base_.W0.cols()) {}

 private:
  Base base_;
  adapter_type adapter_;
  mutable detail::SharedWorkspace<Workspace<T>> workspace_;
  mutable detail::SharedWorkspace<BackwardWorkspace<T>> backward_workspace_;
};

}  // namespace detail

/// A GLoRA layer that owns its frozen base W0 (out x in) and b0 (out).
///
/// KA..KE choose the kind of each support tensor (None, Scalar, Vector,
/// LowRank<R>); the adapter starts zero-filled, so the layer starts equal to
/// the frozen one. Samples are columns: X is in x N, Y is out x N.
template <typename T, typename KA = None, typename KB = None, typename KC = None,
          typename KD = None, typename KE = None>
class Linear : public detail::LinearBase<T, detail::OwnedBase<T>, KA, KB, KC, KD, KE> {
  using Base = detail::LinearBase<T, detail::OwnedBase<T>, KA, KB, KC, KD, KE>;

 public:
  /// Takes W0 and b0 by value: move them in to avoid a copy.
  /// Throws shape_error unless b0 has W0.rows() entries.
  Linear(MatrixX<T> W0, VectorX<T> b0) : Base(with_bias(std::move(W0), std::move(b0))) {}
  /// A layer without a frozen bias: b = E + W0 c.
  explicit Linear(MatrixX<T> W0) : Base({std::move(W0), VectorX<T>(), false}) {}

 private:
  static detail::OwnedBase<T> with_bias(MatrixX<T> W0, VectorX<T> b0) {
    detail::check_bias("glora::Linear", b0.size(), W0.rows());
    return {std::move(W0), std::move(b0), true};
  }
};

/// A GLoRA layer over a frozen base that a model already owns: no copy of W0
/// is made, and merge_in_place() writes the merged layer into that storage.
///
/// Lifetime: the viewed storage must outlive the view and must not be resized
/// or reallocated while the view is in use; the view holds pointers to it.
/// Storage is column-major (Eigen's default): a row-major out x in buffer, as
/// PyTorch keeps it, is the column-major in x out matrix W0ᵀ.
template <typename T, typename KA = None, typename KB = None, typename KC = None,
          typename KD = None, typename KE = None>
class LinearView : public detail::LinearBase<T, detail::ViewedBase<T>, KA, KB, KC, KD, KE> {
  using Base = detail::LinearBase<T, detail::ViewedBase<T>, KA, KB, KC, KD, KE>;

 public:
  /// Views W0 (out x in) and b0 (out). Throws shape_error unless the sizes fit.
  LinearView(Eigen::Map<MatrixX<T>> W0, Eigen::Map<VectorX<T>> b0) : Base(with_bias(W0, b0)) {}
  LinearView(MatrixX<T>& W0, VectorX<T>& b0)
      : LinearView(Eigen::Map<MatrixX<T>>(W0.data(), W0.rows(), W0.cols()),
                   Eigen::Map<VectorX<T>>(b0.data(), b0.size())) {}
  /// Views a layer without a bias.
  explicit LinearView(Eigen::Map<MatrixX<T>> W0)
      : Base({W0, Eigen::Map<VectorX<T>>(nullptr, 0), false}) {}
  explicit LinearView(MatrixX<T>& W0)
      : LinearView(Eigen::Map<MatrixX<T>>(W0.data(), W0.rows(), W0.cols())) {}
  /// Views raw column-major storage: W0 holds out x in values, b0 (if not
  /// null) holds out values.
  LinearView(T* W0, Eigen::Index out, Eigen::Index in, T* b0 = nullptr)
      : Base({Eigen::Map<MatrixX<T>>(W0, out, in), Eigen::Map<VectorX<T>>(b0, b0 ? out : 0),
              b0 != nullptr}) {}

 private:
  static detail::ViewedBase<T> with_bias(Eigen::Map<MatrixX<T>> W0, Eigen::Map<VectorX<T>> b0) {
    detail::check_bias("glora::LinearView", b0.size(), W0.rows());
    return {W0, b0, true};
  }
};

}  // namespace glora
