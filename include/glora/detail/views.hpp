#pragma once
// The kernels' view of a layer: the frozen base, and the five slots as
// run-time values (a kind and maps of the tensors), whoever holds them.
//
// A compile-time adapter (Adapter<T, KA..KE>) and a run-time configured one
// (DynamicAdapter and a LayerConfig) both reach the arithmetic through these
// views, so the arithmetic is written once and compiled once per scalar type
// (and, for the forward and the merge, W0's storage order), not once per
// configuration: as Eigen's fixed and Dynamic sizes share one algorithm, and
// only the storage differs.

#include <glora/config.hpp>
#include <glora/detail/refs.hpp>
#include <glora/dynamic_adapter.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

#include <type_traits>

namespace glora::detail {

/// A column-major map with any column stride, read-only when S is const.
template <typename S>
using MatrixMap =
    Eigen::Map<std::conditional_t<std::is_const_v<S>, const MatrixX<std::remove_const_t<S>>,
                                  MatrixX<std::remove_const_t<S>>>,
               0, Eigen::OuterStride<>>;

template <typename S>
MatrixMap<S> matrix_map(S* data, Eigen::Index rows, Eigen::Index cols, Eigen::Index stride) {
  return MatrixMap<S>(data, rows, cols, Eigen::OuterStride<>(stride));
}

/// One slot's tensors, read (S = const T) or written (S = T, for gradients):
///   low_rank  down: rows x r, up: r x cols   (rows, cols: out, in for A and B; in, 1 for C)
///   vector    down: rows x 1 (D, E: out x 1)
///   scalar    down: 1 x 1
///   none      both empty
template <typename S>
struct SlotView {
  Kind kind = Kind::none;
  MatrixMap<S> down = matrix_map<S>(nullptr, 0, 0, 1);
  MatrixMap<S> up = matrix_map<S>(nullptr, 0, 0, 1);

  SlotView() = default;
  SlotView(Kind k, MatrixMap<S> d, MatrixMap<S> u) : kind(k), down(d), up(u) {}
  SlotView(const SlotView&) = default;
  // Assigning an Eigen::Map copies the values it points at, not the pointer:
  // a view is made once and never reassigned.
  SlotView& operator=(const SlotView&) = delete;

  bool is(Kind k) const { return kind == k; }
  bool active() const { return kind != Kind::none; }
  /// The rank of a low-rank slot (0 otherwise).
  Eigen::Index rank() const { return kind == Kind::low_rank ? down.cols() : 0; }
  /// A vector slot's entries.
  auto vector() const { return down.col(0); }
  auto vector() { return down.col(0); }
  /// A scalar slot's value.
  const S& scalar() const { return *down.data(); }
  S& scalar() { return *down.data(); }
};

/// All five slots.
template <typename S>
struct AdapterView {
  SlotView<S> A, B, C, D, E;
};

// ------------------------------------------------------------------ from a compile-time adapter

template <typename S, typename Support>
SlotView<S> support_view(Support& s) {
  using K = typename std::remove_const_t<Support>::kind;
  if constexpr (is_low_rank_v<K>) {
    return {Kind::low_rank,
            matrix_map<S>(s.down.data(), s.down.rows(), s.down.cols(), s.down.outerStride()),
            matrix_map<S>(s.up.data(), s.up.rows(), s.up.cols(), s.up.outerStride())};
  } else if constexpr (std::is_same_v<K, Vector>) {
    return {Kind::vector, matrix_map<S>(s.value.data(), s.value.size(), 1, s.value.size()),
            matrix_map<S>(nullptr, 0, 0, 1)};
  } else if constexpr (std::is_same_v<K, Scalar>) {
    return {Kind::scalar, matrix_map<S>(&s.value, 1, 1, 1), matrix_map<S>(nullptr, 0, 0, 1)};
  } else {
    return {};
  }
}

/// The view of a compile-time adapter (read-only for a const one).
template <typename T, typename KA, typename KB, typename KC, typename KD, typename KE>
AdapterView<const T> adapter_view(const Adapter<T, KA, KB, KC, KD, KE>& a) {
  return {support_view<const T>(a.A), support_view<const T>(a.B), support_view<const T>(a.C),
          support_view<const T>(a.D), support_view<const T>(a.E)};
}
template <typename T, typename KA, typename KB, typename KC, typename KD, typename KE>
AdapterView<T> adapter_view(Adapter<T, KA, KB, KC, KD, KE>& a) {
  return {support_view<T>(a.A), support_view<T>(a.B), support_view<T>(a.C), support_view<T>(a.D),
          support_view<T>(a.E)};
}

// ------------------------------------------------------------------- from a run-time adapter

/// The part of slot s's tensors that choice c uses (the supernet's slicing
/// rule); the caller has checked that they hold it.
template <typename S, typename Dynamic>
SlotView<S> dynamic_slot_view(Dynamic& a, Slot s, Choice c) {
  if (c.kind == Kind::none) return {};
  if (s == Slot::D || s == Slot::E) {
    auto& v = std::remove_const_t<Dynamic>::value(a, s);
    return {c.kind, matrix_map<S>(v.data(), c.kind == Kind::vector ? v.size() : 1, 1, v.size()),
            matrix_map<S>(nullptr, 0, 0, 1)};
  }
  auto& d = std::remove_const_t<Dynamic>::down(a, s);
  if (c.kind == Kind::scalar) {
    return {c.kind, matrix_map<S>(d.data(), 1, 1, d.outerStride()),
            matrix_map<S>(nullptr, 0, 0, 1)};
  }
  if (c.kind == Kind::vector) {
    return {c.kind, matrix_map<S>(d.data(), d.rows(), 1, d.outerStride()),
            matrix_map<S>(nullptr, 0, 0, 1)};
  }
  auto& u = std::remove_const_t<Dynamic>::up(a, s);
  return {c.kind, matrix_map<S>(d.data(), d.rows(), c.rank, d.outerStride()),
          matrix_map<S>(u.data(), c.rank, u.cols(), u.outerStride())};
}

/// The view of a run-time adapter under `config` (its own or another that
/// fits its tensors, e.g. its gradients' tensors under the layer's config).
template <typename T>
AdapterView<const T> adapter_view(const DynamicAdapter<T>& a, const LayerConfig& config) {
  return {dynamic_slot_view<const T>(a, Slot::A, config.A),
          dynamic_slot_view<const T>(a, Slot::B, config.B),
          dynamic_slot_view<const T>(a, Slot::C, config.C),
          dynamic_slot_view<const T>(a, Slot::D, config.D),
          dynamic_slot_view<const T>(a, Slot::E, config.E)};
}
template <typename T>
AdapterView<T> adapter_view(DynamicAdapter<T>& a, const LayerConfig& config) {
  return {dynamic_slot_view<T>(a, Slot::A, config.A), dynamic_slot_view<T>(a, Slot::B, config.B),
          dynamic_slot_view<T>(a, Slot::C, config.C), dynamic_slot_view<T>(a, Slot::D, config.D),
          dynamic_slot_view<T>(a, Slot::E, config.E)};
}

// ------------------------------------------------------------------------- the frozen base

/// The frozen W0 (out x in) and b0 (out; or none) as the kernels read them:
/// W0 in either storage order, with any outer stride.
template <typename T>
struct FrozenView {
  const T* weight = nullptr;
  Eigen::Index rows = 0;
  Eigen::Index cols = 0;
  Eigen::Index stride = 0;  // between columns (column-major) or rows (row-major)
  bool row_major = false;
  const T* bias = nullptr;  // null without a frozen bias

  bool has_bias() const { return bias != nullptr; }
};

/// W0 as an Eigen map in storage order Layout (Eigen::ColMajor or Eigen::RowMajor).
template <int Layout, typename T>
auto weight_map(const FrozenView<T>& base) {
  using Matrix = const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Layout>;
  return Eigen::Map<Matrix, 0, Eigen::OuterStride<>>(base.weight, base.rows, base.cols,
                                                     Eigen::OuterStride<>(base.stride));
}

/// b0 as an Eigen map (empty without a frozen bias).
template <typename T>
Eigen::Map<const VectorX<T>> bias_map(const FrozenView<T>& base) {
  return Eigen::Map<const VectorX<T>>(base.bias, base.has_bias() ? base.rows : 0);
}

}  // namespace glora::detail
