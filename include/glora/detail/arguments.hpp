#pragma once
// What the layers accept as inputs (X, dY) and outputs (Y, dX), checked at
// compile time so that a call with the wrong storage fails on one readable
// static_assert instead of a list of overload candidates, and bound to
// Eigen::Ref: storage is viewed, never copied behind the caller's back (a Ref
// to a row-major matrix would silently copy it, so that is refused).

#include <glora/support.hpp>

#include <Eigen/Core>

#include <type_traits>

namespace glora::detail {

template <typename A>
using plain_t = std::remove_cv_t<std::remove_reference_t<A>>;

template <typename A>
inline constexpr bool is_eigen_matrix_v =
    std::is_base_of_v<Eigen::MatrixBase<plain_t<A>>, plain_t<A>>;

/// Properties of an Eigen expression type (false for anything else).
template <typename A, bool = is_eigen_matrix_v<A>>
struct storage_traits {
  static constexpr bool matrix = false;
  static constexpr bool direct = false;
  static constexpr bool column_major = false;
  static constexpr bool unit_inner_stride = false;
  static constexpr bool lvalue = false;
  using scalar = void;
};
template <typename A>
struct storage_traits<A, true> {
  using E = plain_t<A>;
  static constexpr bool matrix = true;
  static constexpr bool direct = (E::Flags & Eigen::DirectAccessBit) != 0;
  static constexpr bool column_major =
      !(E::Flags & Eigen::RowMajorBit) || E::ColsAtCompileTime == 1;
  static constexpr bool unit_inner_stride = E::InnerStrideAtCompileTime == 1;
  static constexpr bool lvalue =
      (E::Flags & Eigen::LvalueBit) != 0 && !std::is_const_v<std::remove_reference_t<A>>;
  using scalar = typename E::Scalar;
};

/// Named only after a failed static_assert, so that the compiler reports that
/// assertion alone, not Eigen's overload candidates; never defined.
template <typename M>
Eigen::Ref<M> unbound_ref();

/// Binds an input (X, dY: k x N, samples as columns). Storage is viewed,
/// never copied, so it must be column-major; an expression (a product, a
/// cast, Ones(...)) is evaluated into a temporary first, as Eigen does.
template <typename T, typename A>
Eigen::Ref<const MatrixX<T>> input_ref(const A& a) {
  using S = storage_traits<A>;
  static_assert(S::matrix, "glora: an input (X, dY) must be an Eigen matrix or expression");
  static_assert(
      std::is_same_v<typename S::scalar, T>,
      "glora: an input (X, dY) holds another scalar type than the layer: pass a matrix of "
      "the layer's scalar type (convert once, e.g. X.cast<float>(), and keep the result)");
  static_assert(!S::direct || S::column_major,
                "glora: an input (X, dY) must be column-major, one sample per column: for a "
                "row-major N x features batch (PyTorch's layout) pass batch.transpose(); copy "
                "anything else into a column-major matrix first");
  static_assert(!S::direct || S::unit_inner_stride,
                "glora: an input (X, dY) must have contiguous columns (inner stride 1)");
  constexpr bool bindable = S::matrix && std::is_same_v<typename S::scalar, T> &&
                            (!S::direct || (S::column_major && S::unit_inner_stride));
  if constexpr (bindable) {
    return Eigen::Ref<const MatrixX<T>>(a);
  } else {
    return unbound_ref<const MatrixX<T>>();
  }
}

/// Binds an output (Y, dX: k x N, samples as columns) without copying it.
template <typename T, typename A>
Eigen::Ref<MatrixX<T>> output_ref(A&& a) {
  using S = storage_traits<A>;
  static_assert(S::matrix, "glora: an output (Y, dX) must be an Eigen matrix, map, block or Ref");
  static_assert(std::is_same_v<typename S::scalar, T>,
                "glora: an output (Y, dX) must hold the layer's scalar type");
  static_assert(S::direct && S::lvalue,
                "glora: an output (Y, dX) must be writable storage (a matrix, Map, Ref or block "
                "of one), not a const matrix or an expression");
  static_assert(S::column_major,
                "glora: an output (Y, dX) must be column-major, one sample per column: for a "
                "row-major N x features result pass result.transpose()");
  static_assert(S::unit_inner_stride,
                "glora: an output (Y, dX) must have contiguous columns (inner stride 1)");
  constexpr bool bindable = S::matrix && std::is_same_v<typename S::scalar, T> && S::direct &&
                            S::lvalue && S::column_major && S::unit_inner_stride;
  if constexpr (bindable) {
    return Eigen::Ref<MatrixX<T>>(std::forward<A>(a));
  } else {
    return unbound_ref<MatrixX<T>>();
  }
}

/// Binds a merged weight's destination (out x in, either storage order).
template <typename T, typename A>
void require_weight_target() {
  using S = storage_traits<A>;
  static_assert(S::matrix, "glora: merge_into's W must be an Eigen matrix, map, block or Ref");
  static_assert(std::is_same_v<typename S::scalar, T>,
                "glora: merge_into's W must hold the layer's scalar type");
  static_assert(S::direct && S::lvalue,
                "glora: merge_into's W must be writable storage (a matrix, Map, Ref or block of "
                "one), not a const matrix or an expression");
  static_assert(S::unit_inner_stride,
                "glora: merge_into's W must have contiguous columns or rows (inner stride 1)");
}

}  // namespace glora::detail
