#pragma once
// How a layer holds its frozen W0 (out x in) and b0 (out, or none): owned by
// value (Linear) or viewed in a model's storage (LinearView), in either
// storage order. Both hand the kernels a FrozenView and the storage that
// merge_in_place writes.

#include <glora/detail/arguments.hpp>
#include <glora/detail/kernels.hpp>
#include <glora/detail/views.hpp>
#include <glora/errors.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

#include <string>
#include <type_traits>
#include <utility>

namespace glora {

/// A row-major matrix: PyTorch's layout for a weight [out, in].
template <typename T>
using RowMajorMatrixX = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Says at the call site that raw storage is column-major (Eigen's default).
struct ColumnMajorStorage {};
/// Says at the call site that raw storage is row-major (PyTorch's and safetensors' layout).
struct RowMajorStorage {};
inline constexpr ColumnMajorStorage column_major{};
inline constexpr RowMajorStorage row_major{};

namespace detail {

inline void check_bias(const char* where, Eigen::Index bias_size, Eigen::Index out) {
  if (bias_size != out) {
    throw shape_error(std::string(where) + ": b0 is " + shape_string(bias_size, 1) + ", expected " +
                      shape_string(out, 1) + " (one entry per row of W0)");
  }
}

/// W0 and b0 held by value, in the storage order they came in.
template <typename T>
struct OwnedFrozen {
  MatrixX<T> column_major_weight;       // empty when W0 is row-major
  RowMajorMatrixX<T> row_major_weight;  // empty when W0 is column-major
  VectorX<T> b0;                        // empty without a bias
  bool row_major = false;
  bool has_bias = false;
  const Kernels<T>* kernels = nullptr;  // for W0's storage order

  Eigen::Index rows() const {
    return row_major ? row_major_weight.rows() : column_major_weight.rows();
  }
  Eigen::Index cols() const {
    return row_major ? row_major_weight.cols() : column_major_weight.cols();
  }
  T* weight_data() { return row_major ? row_major_weight.data() : column_major_weight.data(); }
  const T* weight_data() const {
    return row_major ? row_major_weight.data() : column_major_weight.data();
  }
  Eigen::Index stride() const { return row_major ? cols() : rows(); }
  bool is_writable() const { return true; }
  T* bias_data() { return has_bias ? b0.data() : nullptr; }
  const T* bias_data() const { return has_bias ? b0.data() : nullptr; }
};

/// W0 and b0 in storage the model owns.
template <typename T>
struct ViewedFrozen {
  T* weight = nullptr;
  Eigen::Index out = 0;
  Eigen::Index in = 0;
  Eigen::Index weight_stride = 0;
  bool row_major = false;
  T* bias = nullptr;                    // null without a bias
  const Kernels<T>* kernels = nullptr;  // for W0's storage order
  bool writable = true;

  Eigen::Index rows() const { return out; }
  Eigen::Index cols() const { return in; }
  bool is_writable() const { return writable; }
  T* weight_data() const { return weight; }
  Eigen::Index stride() const { return weight_stride; }
  T* bias_data() const { return bias; }
};

template <typename Frozen>
auto frozen_view(const Frozen& f) {
  using T = std::remove_const_t<std::remove_pointer_t<decltype(f.weight_data())>>;
  return FrozenView<T>{f.weight_data(), f.rows(), f.cols(), f.stride(), f.row_major, f.bias_data()};
}

/// W0 (out x in), read-only, in whichever storage order it is kept.
template <typename Frozen>
auto frozen_weight(const Frozen& f) {
  using T = std::remove_const_t<std::remove_pointer_t<decltype(f.weight_data())>>;
  using Strides = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
  const Strides strides = f.row_major ? Strides(1, f.stride()) : Strides(f.stride(), 1);
  return Eigen::Map<const MatrixX<T>, 0, Strides>(f.weight_data(), f.rows(), f.cols(), strides);
}

/// b0 (out entries; empty without a bias).
template <typename Frozen>
auto frozen_bias(const Frozen& f) {
  using T = std::remove_const_t<std::remove_pointer_t<decltype(f.weight_data())>>;
  return Eigen::Map<const VectorX<T>>(f.bias_data(), f.bias_data() != nullptr ? f.rows() : 0);
}

template <typename Frozen>
auto frozen_storage(Frozen& f) {
  using T = std::remove_pointer_t<decltype(f.weight_data())>;
  return MergeTarget<T>{f.weight_data(), f.stride(), f.row_major};
}

/// Whether W0 can be stored or viewed as a layer's weight of scalar T (the
/// static_asserts below say why not; code past them is skipped so that the
/// compiler reports the assertion alone).
template <typename T, typename WD>
constexpr bool weight_source_ok_v =
    bool(storage_traits<WD>::matrix) && std::is_same_v<typename storage_traits<WD>::scalar, T>;

template <typename T, typename WD>
void require_weight_source() {
  using S = storage_traits<WD>;
  static_assert(S::matrix, "glora: W0 must be an Eigen matrix, map, block or Ref");
  static_assert(std::is_same_v<typename S::scalar, T>,
                "glora: W0 holds another scalar type than the layer");
}

/// W0 by value, kept in the storage order it comes in (moved when it is a
/// matrix of the layer's type), and b0 if given.
template <typename T, typename WD>
OwnedFrozen<T> owned_frozen(WD&& W0) {
  require_weight_source<T, WD>();
  OwnedFrozen<T> frozen;
  if constexpr (!weight_source_ok_v<T, WD>) {
    return frozen;
  } else if constexpr (storage_order_v<plain_t<WD>> == Eigen::RowMajor) {
    frozen.row_major = true;
    frozen.row_major_weight = std::forward<WD>(W0);
    frozen.kernels = &kernels_for<T, Eigen::RowMajor>;
  } else {
    frozen.column_major_weight = std::forward<WD>(W0);
    frozen.kernels = &kernels_for<T, Eigen::ColMajor>;
  }
  return frozen;
}

template <typename T, typename WD, typename BD>
OwnedFrozen<T> owned_frozen(const char* type_name, WD&& W0, BD&& b0) {
  static_assert(std::is_same_v<typename storage_traits<BD>::scalar, T>,
                "glora: b0 must be an Eigen vector of the layer's scalar type");
  OwnedFrozen<T> frozen = owned_frozen<T>(std::forward<WD>(W0));
  check_bias(type_name, b0.size(), frozen.rows());
  frozen.b0 = std::forward<BD>(b0);
  frozen.has_bias = true;
  return frozen;
}

/// A view of the model's W0 (and b0), which must stay where they are.
template <typename T, typename WD>
ViewedFrozen<T> viewed_frozen(WD&& W0) {
  using S = storage_traits<WD>;
  require_weight_source<T, WD>();
  static_assert(!(std::is_rvalue_reference_v<WD&&> && plain_t<WD>::IsPlainObjectBase),
                "glora: a layer view cannot view a temporary matrix (it is gone after the "
                "call); view the model's own matrix, or use glora::Linear to own the weights");
  static_assert(S::direct,
                "glora: a layer view's W0 must be the model's storage (a matrix, Map, Ref or "
                "block of one), not an expression");
  static_assert(S::unit_inner_stride,
                "glora: a layer view's W0 must have contiguous rows or columns (inner stride 1)");
  ViewedFrozen<T> frozen;
  if constexpr (!(weight_source_ok_v<T, WD> && S::direct && S::unit_inner_stride)) {
    return frozen;
  } else {
    constexpr int layout = storage_order_v<plain_t<WD>>;
    // Viewed through const, the storage is never written: merge_in_place checks `writable`.
    frozen.weight = const_cast<T*>(W0.derived().data());
    frozen.out = W0.rows();
    frozen.in = W0.cols();
    frozen.weight_stride = W0.outerStride();
    frozen.row_major = layout == Eigen::RowMajor;
    frozen.kernels = &kernels_for<T, layout>;
    frozen.writable = S::lvalue;
    return frozen;
  }
}

template <typename T, typename WD, typename BD>
ViewedFrozen<T> viewed_frozen(const char* type_name, WD&& W0, BD&& b0) {
  using S = storage_traits<BD>;
  static_assert(
      S::matrix && std::is_same_v<typename S::scalar, T> && S::direct && S::unit_inner_stride,
      "glora: a layer view's b0 must be the model's contiguous vector of the layer's "
      "scalar type");
  ViewedFrozen<T> frozen = viewed_frozen<T>(std::forward<WD>(W0));
  check_bias(type_name, b0.size(), frozen.out);
  frozen.bias = const_cast<T*>(b0.derived().data());
  frozen.writable = frozen.writable && S::lvalue;
  return frozen;
}

/// A view of raw storage, read-only when given through const pointers.
template <int Layout, typename P>
auto viewed_frozen(P* W0, Eigen::Index out, Eigen::Index in, P* b0) {
  using T = std::remove_const_t<P>;
  constexpr bool row_major = Layout == Eigen::RowMajor;
  ViewedFrozen<T> frozen;
  frozen.weight = const_cast<T*>(W0);
  frozen.out = out;
  frozen.in = in;
  frozen.weight_stride = row_major ? in : out;
  frozen.row_major = row_major;
  frozen.bias = const_cast<T*>(b0);
  frozen.kernels = &kernels_for<T, Layout>;
  frozen.writable = !std::is_const_v<P>;
  return frozen;
}

template <typename A>
using if_eigen = std::enable_if_t<is_eigen_matrix_v<A>, int>;

template <typename P>
inline constexpr bool dependent_false_v = false;

}  // namespace detail
}  // namespace glora
