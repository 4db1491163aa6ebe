#pragma once
// DynamicLinear and DynamicLinearView: a GLoRA layer whose configuration is a
// run-time value (a LayerConfig), over one set of support tensors shared by
// every configuration that fits in them: the reference's weight-sharing
// supernet layer, and what a configuration read from a file runs on.
//
// They compute through the same kernels as Linear and LinearView: a layer set
// to a configuration runs exactly the arithmetic of the compile-time layer of
// the same kinds, at the same speed.

#include <glora/config.hpp>
#include <glora/detail/frozen.hpp>
#include <glora/detail/layer.hpp>
#include <glora/dynamic_adapter.hpp>

#include <Eigen/Core>

#include <utility>

namespace glora {

namespace detail {

/// What DynamicLinear and DynamicLinearView add to the shared layer: the
/// configuration in use, set in O(1) without allocating.
template <typename Derived, typename T, typename Frozen>
class DynamicLayer : public LayerBase<Derived, T, Frozen, DynamicAdapter<T>> {
  using Base = LayerBase<Derived, T, Frozen, DynamicAdapter<T>>;

 public:
  /// The configuration in use (also adapter().config).
  const LayerConfig& config() const { return this->adapter_.config; }

  /// Uses `config` from now on: the part of the shared tensors that each of
  /// its choices takes (the first k columns of a down tensor and rows of an
  /// up tensor for LoRA_k, column 0 for vector, element 0 for constant).
  /// Allocates nothing. Throws config_error for an invalid configuration and
  /// shape_error, naming the tensor, when the tensors cannot hold it; the
  /// configuration is then unchanged.
  void set_config(const LayerConfig& config) {
    this->adapter_.check(Call(Derived::type_name, "set_config"), "adapter().", config,
                         this->out_features(), this->in_features());
    this->adapter_.config = config;
  }

 protected:
  DynamicLayer(Frozen frozen, const LayerConfig& capacity)
      : Base(std::move(frozen), [&](Eigen::Index out, Eigen::Index in) {
          return DynamicAdapter<T>(capacity, out, in);
        }) {}
};

}  // namespace detail

/// A run-time configured GLoRA layer that owns its frozen W0 (out x in,
/// column- or row-major) and b0 (out).
///
/// `capacity` is the largest choice per slot (a search space's capacity());
/// the tensors are sized for it, zero-filled, and the layer starts with
/// `capacity` as its configuration. Everything else is as for Linear:
/// forward, backward (into gradients laid out like adapter(), e.g.
/// zeros_like(adapter()); only the parts the configuration uses receive
/// gradient), merge, merge_into, merge_in_place.
template <typename T>
class DynamicLinear : public detail::DynamicLayer<DynamicLinear<T>, T, detail::OwnedFrozen<T>> {
  using Base = detail::DynamicLayer<DynamicLinear<T>, T, detail::OwnedFrozen<T>>;

 public:
  static constexpr const char* type_name = "glora::DynamicLinear";

  /// Takes W0 (out x in) and b0 (out) by value: move them in to avoid a copy.
  template <typename WD, typename BD, detail::if_eigen<WD> = 0, detail::if_eigen<BD> = 0>
  DynamicLinear(WD&& W0, BD&& b0, const LayerConfig& capacity)
      : Base(detail::owned_frozen<T>(type_name, std::forward<WD>(W0), std::forward<BD>(b0)),
             capacity) {}
  /// A layer without a frozen bias: b = E + W0 c.
  template <typename WD, detail::if_eigen<WD> = 0>
  DynamicLinear(WD&& W0, const LayerConfig& capacity)
      : Base(detail::owned_frozen<T>(std::forward<WD>(W0)), capacity) {}
};

/// A run-time configured GLoRA layer over a frozen base that a model already
/// owns (see LinearView for what can be viewed, and the lifetime rule).
template <typename T>
class DynamicLinearView
    : public detail::DynamicLayer<DynamicLinearView<T>, T, detail::ViewedFrozen<T>> {
  using Base = detail::DynamicLayer<DynamicLinearView<T>, T, detail::ViewedFrozen<T>>;

 public:
  static constexpr const char* type_name = "glora::DynamicLinearView";

  /// Views W0 (out x in, either storage order) and b0 (out).
  template <typename WD, typename BD, detail::if_eigen<WD> = 0, detail::if_eigen<BD> = 0>
  DynamicLinearView(WD&& W0, BD&& b0, const LayerConfig& capacity)
      : Base(detail::viewed_frozen<T>(type_name, std::forward<WD>(W0), std::forward<BD>(b0)),
             capacity) {}
  /// Views a layer without a bias.
  template <typename WD, detail::if_eigen<WD> = 0>
  DynamicLinearView(WD&& W0, const LayerConfig& capacity)
      : Base(detail::viewed_frozen<T>(std::forward<WD>(W0)), capacity) {}
  /// Views raw column-major storage (see LinearView).
  DynamicLinearView(ColumnMajorStorage, T* W0, Eigen::Index out, Eigen::Index in, T* b0,
                    const LayerConfig& capacity)
      : Base(detail::viewed_frozen<Eigen::ColMajor>(W0, out, in, b0), capacity) {}
  /// Views raw row-major storage (PyTorch's layout; see LinearView).
  DynamicLinearView(RowMajorStorage, T* W0, Eigen::Index out, Eigen::Index in, T* b0,
                    const LayerConfig& capacity)
      : Base(detail::viewed_frozen<Eigen::RowMajor>(W0, out, in, b0), capacity) {}
  /// Views read-only raw storage (e.g. a file mapped into memory): everything
  /// but merge_in_place.
  DynamicLinearView(ColumnMajorStorage, const T* W0, Eigen::Index out, Eigen::Index in, const T* b0,
                    const LayerConfig& capacity)
      : Base(detail::viewed_frozen<Eigen::ColMajor>(W0, out, in, b0), capacity) {}
  DynamicLinearView(RowMajorStorage, const T* W0, Eigen::Index out, Eigen::Index in, const T* b0,
                    const LayerConfig& capacity)
      : Base(detail::viewed_frozen<Eigen::RowMajor>(W0, out, in, b0), capacity) {}
};

}  // namespace glora
