#pragma once
// LayerBase: everything the GLoRA layers share (Linear, LinearView and their
// run-time configured counterparts): the checks, the entry points, and the
// calls into the one set of kernels.

#include <glora/backward_workspace.hpp>
#include <glora/dense.hpp>
#include <glora/detail/arguments.hpp>
#include <glora/detail/frozen.hpp>
#include <glora/detail/kernels.hpp>
#include <glora/detail/views.hpp>
#include <glora/errors.hpp>
#include <glora/workspace.hpp>

#include <Eigen/Core>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace glora {

/// Passed to backward in place of dX: skips the input gradient, which the
/// first layer of a model does not need.
struct NoInputGradient {};
inline constexpr NoInputGradient no_input_gradient{};

namespace detail {

// How the layers see either kind of adapter: the view of the parameters, the
// view of gradients laid out like them, the shape checks.

template <typename T, typename KA, typename KB, typename KC, typename KD, typename KE>
AdapterView<T> gradient_view(Adapter<T, KA, KB, KC, KD, KE>& grads,
                             const Adapter<T, KA, KB, KC, KD, KE>&) {
  return adapter_view(grads);
}
template <typename T>
AdapterView<const T> adapter_view(const DynamicAdapter<T>& a) {
  return adapter_view(a, a.config);
}
template <typename T>
AdapterView<T> gradient_view(DynamicAdapter<T>& grads, const DynamicAdapter<T>& params) {
  return adapter_view(grads, params.config);
}

template <typename T, typename KA, typename KB, typename KC, typename KD, typename KE>
void check_gradients(const Call& where, const Adapter<T, KA, KB, KC, KD, KE>& grads,
                     const Adapter<T, KA, KB, KC, KD, KE>&, Eigen::Index out, Eigen::Index in) {
  grads.check(where, "grads.", out, in);
}
template <typename T>
void check_gradients(const Call& where, const DynamicAdapter<T>& grads,
                     const DynamicAdapter<T>& params, Eigen::Index out, Eigen::Index in) {
  grads.check(where, "grads.", params.config, out, in);
}

/// The first slot whose value adds to the bias (C through W0 c, or E), or
/// false when both are absent or all zero: what a layer without a bias
/// cannot merge in place.
template <typename T>
bool adds_nonzero_bias(const AdapterView<const T>& ad, Slot& slot) {
  const auto all_zero = [](const auto& x) { return (x.array() == T(0)).all(); };
  if (ad.C.is(Kind::low_rank)) {
    const VectorX<T> c = ad.C.down * ad.C.up.col(0);
    if (!all_zero(c)) return slot = Slot::C, true;
  } else if (ad.C.active() && !all_zero(ad.C.down)) {
    return slot = Slot::C, true;
  }
  if (ad.E.active() && !all_zero(ad.E.down)) return slot = Slot::E, true;
  return false;
}

// The entry points past the checks that need the adapter's type: templates on
// the scalar type alone, so that every layer type of a program shares them.

/// forward once the adapter is checked: the shapes of X and Y, then the kernel.
template <typename T>
void checked_forward(const Call& where, const FrozenView<T>& base, const Kernels<T>& kernels,
                     const AdapterView<const T>& ad, const Eigen::Ref<const MatrixX<T>>& x,
                     Eigen::Ref<MatrixX<T>> y, Workspace<T>& workspace) {
  check_rows(where, "X", x, base.cols, "in_features");
  check_shape(where, "Y", y, base.rows, x.cols());
  kernels.forward(base, ad, x, y, workspace);
}

/// backward once the adapter and the gradients are checked: the shapes of X,
/// dY and dX (null: no input gradient), then the kernel.
template <typename T>
void checked_backward(const Call& where, const FrozenView<T>& base, const AdapterView<const T>& ad,
                      const AdapterView<T>& grads, const Eigen::Ref<const MatrixX<T>>& x,
                      const Eigen::Ref<const MatrixX<T>>& dy, Eigen::Ref<MatrixX<T>>* dx,
                      BackwardWorkspace<T>& workspace) {
  check_rows(where, "X", x, base.cols, "in_features");
  check_shape(where, "dY", dy, base.rows, x.cols());
  if (dx == nullptr) {
    MatrixX<T> none;
    backward_kernel<T>(base, ad, x, dy, grads, false, none, workspace);
  } else {
    check_shape(where, "dX", *dx, base.cols, x.cols());
    backward_kernel<T>(base, ad, x, dy, grads, true, *dx, workspace);
  }
}

/// merge_into once the adapter is checked: the shapes of W (w_rows x w_cols,
/// at W) and b, then the kernel.
template <typename T>
void checked_merge(const Call& where, const FrozenView<T>& base, const Kernels<T>& kernels,
                   const AdapterView<const T>& ad, const MergeTarget<T>& W, Eigen::Index w_rows,
                   Eigen::Index w_cols, Eigen::Ref<MatrixX<T>> bias) {
  check_dimensions(where, "W", w_rows, w_cols, base.rows, base.cols);
  check_shape(where, "b", bias, base.rows, 1);
  kernels.merge(base, ad, W, bias.col(0));
}

/// Refuses merge_in_place on a layer that views read-only storage.
inline void check_writable(const Call& where, bool writable) {
  if (!writable) {
    throw std::logic_error(where.str() +
                           ": the layer views read-only (const) storage; use merge() or "
                           "merge_into()");
  }
}

/// merge_in_place once the adapter is checked: W0 and b0 (at `bias`, null
/// without one) replaced by the merged W and b.
template <typename T>
void checked_merge_in_place(const Call& where, const FrozenView<T>& base, const Kernels<T>& kernels,
                            const AdapterView<const T>& view, const MergeTarget<T>& storage,
                            T* bias) {
  Slot slot = Slot::A;
  if (!base.has_bias() && adds_nonzero_bias(view, slot)) {
    throw std::logic_error(where.str() + ": the layer has no bias to hold what slot " +
                           slot_letter(slot) + " adds (" + slot_letter(slot) +
                           " is not zero); use merge() or merge_into(), or give the layer a bias");
  }
  // Without a bias, C and E are zero (checked above): merging W alone is exact.
  const AdapterView<const T> merged =
      base.has_bias() ? view : AdapterView<const T>{view.A, view.B, {}, view.D, {}};
  Eigen::Map<VectorX<T>> b(bias, base.has_bias() ? base.rows : 0);
  kernels.merge(base, merged, storage, b);
}

// The layers' calls reach the entry points above through these, which bind
// the caller's arguments to Eigen::Ref. They are templates on the scalar and
// argument types, not on the layer's: a program with many layer types
// compiles each binding once.

/// forward's X and Y bound, then checked_forward.
template <typename T, typename XD, typename YD>
void bound_forward(const Call& where, const FrozenView<T>& base, const Kernels<T>& kernels,
                   const AdapterView<const T>& ad, const Eigen::MatrixBase<XD>& X, YD&& Y,
                   Workspace<T>& workspace) {
  checked_forward<T>(where, base, kernels, ad, input_ref<T>(X.derived()),
                     output_ref<T>(std::forward<YD>(Y)), workspace);
}

/// backward's X, dY and dX (or NoInputGradient) bound, then checked_backward.
template <typename T, typename XD, typename DYD, typename DXD>
void bound_backward(const Call& where, const FrozenView<T>& base, const AdapterView<const T>& ad,
                    const AdapterView<T>& grads, const Eigen::MatrixBase<XD>& X,
                    const Eigen::MatrixBase<DYD>& dY, DXD&& dX, BackwardWorkspace<T>& workspace) {
  const Eigen::Ref<const MatrixX<T>> x = input_ref<T>(X.derived());
  const Eigen::Ref<const MatrixX<T>> dy = input_ref<T>(dY.derived());
  if constexpr (std::is_same_v<plain_t<DXD>, NoInputGradient>) {
    checked_backward<T>(where, base, ad, grads, x, dy, nullptr, workspace);
  } else {
    Eigen::Ref<MatrixX<T>> dx = output_ref<T>(std::forward<DXD>(dX));
    checked_backward<T>(where, base, ad, grads, x, dy, &dx, workspace);
  }
}

/// merge_into's W (either storage order) and b bound, then checked_merge.
template <typename T, typename WD, typename BD>
void bound_merge(const Call& where, const FrozenView<T>& base, const Kernels<T>& kernels,
                 const AdapterView<const T>& ad, WD&& W, BD&& b) {
  require_weight_target<T, WD>();
  const bool row_major = storage_order_v<plain_t<WD>> == Eigen::RowMajor;
  checked_merge<T>(where, base, kernels, ad, MergeTarget<T>{W.data(), W.outerStride(), row_major},
                   W.rows(), W.cols(), output_ref<T>(std::forward<BD>(b)));
}

/// The shared implementation. Derived names the public type in messages
/// (Derived::type_name); Frozen holds W0 and b0; Params is the adapter type.
template <typename Derived, typename T, typename Frozen, typename Params>
class LayerBase {
 public:
  using scalar_type = T;
  using adapter_type = Params;

  /// Columns of W0: the size of one input sample.
  Eigen::Index in_features() const { return frozen_.cols(); }
  /// Rows of W0: the size of one output sample.
  Eigen::Index out_features() const { return frozen_.rows(); }
  /// Whether the frozen layer has a bias b0. Without one, D has no effect.
  bool has_bias() const { return frozen_.bias_data() != nullptr; }
  /// Whether W0 is stored row-major (PyTorch's layout) rather than column-major.
  bool weight_is_row_major() const { return frozen_.row_major; }
  /// The frozen weight W0 (out x in), read-only, in whichever storage order it is kept.
  Eigen::Map<const MatrixX<T>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>> weight() const {
    return frozen_weight(frozen_);
  }
  /// The frozen bias b0 (out entries; empty without a bias).
  Eigen::Map<const VectorX<T>> bias() const { return frozen_bias(frozen_); }

  /// The support tensors A..E, to set, train or inspect.
  adapter_type& adapter() { return adapter_; }
  const adapter_type& adapter() const { return adapter_; }

  /// Y = W X + b for X in x N (samples are columns); returns out x N.
  template <typename XD>
  MatrixX<T> forward(const Eigen::MatrixBase<XD>& X) const {
    MatrixX<T> Y(out_features(), X.cols());
    forward(X, Y);
    return Y;
  }

  /// Writes W X + b into Y, which must already be out x N. Uses the layer's
  /// own workspace: after the first call at a batch size it allocates
  /// nothing. Safe to call from several threads at once: a call that finds
  /// the workspace in use runs on a temporary one (and allocates); threads
  /// that share a layer should pass their own Workspace to the overload below.
  /// X and Y are viewed, never copied: column-major storage (a matrix, Map,
  /// Ref, block, or the transpose of a row-major batch).
  template <typename XD, typename YD>
  void forward(const Eigen::MatrixBase<XD>& X, YD&& Y) const {
    auto lease = workspace_.lease();
    forward(X, std::forward<YD>(Y), lease.get());
  }

  /// As forward(X, Y), with caller-owned scratch: safe from several threads
  /// at once as long as each uses its own workspace; allocation-free once the
  /// workspace has seen the batch size.
  template <typename XD, typename YD>
  void forward(const Eigen::MatrixBase<XD>& X, YD&& Y, Workspace<T>& workspace) const {
    const Call where(Derived::type_name, "forward");
    check_adapter(where);
    bound_forward<T>(where, frozen_view(frozen_), *frozen_.kernels, adapter_view(adapter_), X,
                     std::forward<YD>(Y), workspace);
  }

  /// Backpropagates dY = ∂L/∂Y (out x N) for the input X (in x N) that
  /// produced Y: adds ∂L/∂(every support tensor) to `grads` (an adapter of
  /// the layer's shapes, e.g. from zeros_like(adapter())) and returns
  /// dX = ∂L/∂X (in x N). W0 and b0 are frozen: no gradient is formed for
  /// them. Gradients accumulate: the optimisers' step clears what it used.
  template <typename XD, typename DYD>
  MatrixX<T> backward(const Eigen::MatrixBase<XD>& X, const Eigen::MatrixBase<DYD>& dY,
                      adapter_type& grads) const {
    MatrixX<T> dX(in_features(), X.cols());
    backward(X, dY, grads, dX);
    return dX;
  }

  /// As backward(X, dY, grads), writing dX into caller storage (in x N) that
  /// must not overlap X or dY, or skipping it when passed
  /// glora::no_input_gradient. Uses the layer's own backward workspace, with
  /// the same contract as forward(X, Y): allocation-free once a batch size has
  /// been seen, and safe from several threads (each with its own grads).
  template <typename XD, typename DYD, typename DXD>
  void backward(const Eigen::MatrixBase<XD>& X, const Eigen::MatrixBase<DYD>& dY,
                adapter_type& grads, DXD&& dX) const {
    auto lease = backward_workspace_.lease();
    backward(X, dY, grads, std::forward<DXD>(dX), lease.get());
  }

  /// As backward(X, dY, grads, dX), with caller-owned scratch.
  template <typename XD, typename DYD, typename DXD>
  void backward(const Eigen::MatrixBase<XD>& X, const Eigen::MatrixBase<DYD>& dY,
                adapter_type& grads, DXD&& dX, BackwardWorkspace<T>& workspace) const {
    const Call where(Derived::type_name, "backward");
    check_adapter(where);
    check_gradients(where, grads, adapter_, out_features(), in_features());
    bound_backward<T>(where, frozen_view(frozen_), adapter_view(adapter_),
                      gradient_view(grads, adapter_), X, dY, std::forward<DXD>(dX), workspace);
  }

  /// The merged plain layer: weight W0 + W0 ⊙ A + B, bias b0 + b0 ⊙ D + E + W0 c.
  Dense<T> merge() const {
    Dense<T> merged;
    merged.weight.resize(out_features(), in_features());
    merged.bias.resize(out_features());
    merge_as("merge", merged.weight, merged.bias);
    return merged;
  }

  /// Writes the merged weight (out x in, column- or row-major) and bias (out)
  /// into caller storage. They may be the very storage of W0 and b0 when W
  /// has W0's storage order.
  template <typename WD, typename BD>
  void merge_into(WD&& W, BD&& b) const {
    merge_as("merge_into", std::forward<WD>(W), std::forward<BD>(b));
  }

  /// Folds the adapter into W0 and b0 themselves (for a view: into the
  /// model's own weights), then resets the adapter to identity, so forward
  /// keeps giving the same outputs. Throws std::logic_error, changing
  /// nothing, for a view of const storage, and for a layer without a bias
  /// while slot C or E is nonzero (there is nowhere to put what they add; the
  /// message names the slot).
  void merge_in_place() {
    const Call where(Derived::type_name, "merge_in_place");
    check_writable(where, frozen_.is_writable());
    check_adapter(where);
    checked_merge_in_place<T>(where, frozen_view(frozen_), *frozen_.kernels,
                              adapter_view(std::as_const(adapter_)), frozen_storage(frozen_),
                              frozen_.bias_data());
    adapter_.reset_to_identity();
  }

 protected:
  /// make_params(out, in) makes the adapter for the frozen base's shape.
  template <typename MakeParams>
  LayerBase(Frozen frozen, MakeParams&& make_params)
      : frozen_(std::move(frozen)), adapter_(make_params(frozen_.rows(), frozen_.cols())) {}

  void check_adapter(const Call& where) const {
    adapter_.check(where, "adapter().", out_features(), in_features());
  }

  Frozen frozen_;
  Params adapter_;

 private:
  /// merge_into, its errors naming `call`.
  template <typename WD, typename BD>
  void merge_as(const char* call, WD&& W, BD&& b) const {
    const Call where(Derived::type_name, call);
    check_adapter(where);
    bound_merge<T>(where, frozen_view(frozen_), *frozen_.kernels, adapter_view(adapter_),
                   std::forward<WD>(W), std::forward<BD>(b));
  }

  mutable SharedWorkspace<Workspace<T>> workspace_;
  mutable SharedWorkspace<BackwardWorkspace<T>> backward_workspace_;
};

}  // namespace detail
}  // namespace glora
