#pragma once
// Linear and LinearView: a frozen dense layer adapted by GLoRA.
//
//   W = W0 + W0 ⊙ A + B,   b = b0 + b0 ⊙ D + E + W0 c,   y = W x + b
//
// Linear owns W0 and b0; LinearView adapts weights that a model already owns.
// W0 may be column-major (Eigen's default) or row-major (PyTorch's layout,
// what safetensors files hold); both compute through one implementation.

#include <glora/adapter.hpp>
#include <glora/detail/frozen.hpp>
#include <glora/detail/layer.hpp>
#include <glora/kinds.hpp>

#include <Eigen/Core>

#include <type_traits>
#include <utility>

namespace glora {

/// A GLoRA layer that owns its frozen base W0 (out x in) and b0 (out).
///
/// KA..KE choose the kind of each support tensor (None, Scalar, Vector,
/// LowRank<R>); the adapter starts zero-filled, so the layer starts equal to
/// the frozen one. Samples are columns: X is in x N, Y is out x N.
template <typename T, typename KA = None, typename KB = None, typename KC = None,
          typename KD = None, typename KE = None>
class Linear : public detail::LayerBase<Linear<T, KA, KB, KC, KD, KE>, T, detail::OwnedFrozen<T>,
                                        Adapter<T, KA, KB, KC, KD, KE>> {
  using Base = detail::LayerBase<Linear, T, detail::OwnedFrozen<T>, Adapter<T, KA, KB, KC, KD, KE>>;

 public:
  static constexpr const char* type_name = "glora::Linear";

  /// Takes W0 (out x in) and b0 (out) by value: move them in to avoid a copy.
  /// A row-major W0 (glora::RowMajorMatrixX, PyTorch's layout) is kept
  /// row-major. Throws shape_error unless b0 has W0.rows() entries.
  template <typename WD, typename BD, detail::if_eigen<WD> = 0, detail::if_eigen<BD> = 0>
  Linear(WD&& W0, BD&& b0)
      : Base(detail::owned_frozen<T>(type_name, std::forward<WD>(W0), std::forward<BD>(b0)),
             make_adapter) {}
  /// A layer without a frozen bias: b = E + W0 c.
  template <typename WD, detail::if_eigen<WD> = 0>
  explicit Linear(WD&& W0) : Base(detail::owned_frozen<T>(std::forward<WD>(W0)), make_adapter) {}

 private:
  static Adapter<T, KA, KB, KC, KD, KE> make_adapter(Eigen::Index out, Eigen::Index in) {
    return {out, in};
  }
};

/// A GLoRA layer over a frozen base that a model already owns: no copy of W0
/// is made, and merge_in_place() writes the merged layer into that storage.
///
/// W0 may be column-major or row-major (PyTorch's [out, in] layout, as read
/// from a safetensors file), with any stride between its columns or rows.
/// Viewed through const (a const matrix, a Map of const, a const pointer),
/// the storage is never written and merge_in_place() is refused.
/// Lifetime: the viewed storage must outlive the view and must not be resized
/// or reallocated while the view is in use; the view holds pointers to it.
template <typename T, typename KA = None, typename KB = None, typename KC = None,
          typename KD = None, typename KE = None>
class LinearView
    : public detail::LayerBase<LinearView<T, KA, KB, KC, KD, KE>, T, detail::ViewedFrozen<T>,
                               Adapter<T, KA, KB, KC, KD, KE>> {
  using Base =
      detail::LayerBase<LinearView, T, detail::ViewedFrozen<T>, Adapter<T, KA, KB, KC, KD, KE>>;

 public:
  static constexpr const char* type_name = "glora::LinearView";

  /// Views W0 (out x in: a matrix, Map, Ref or block, either storage order)
  /// and b0 (out). Throws shape_error unless the sizes fit.
  template <typename WD, typename BD, detail::if_eigen<WD> = 0, detail::if_eigen<BD> = 0>
  LinearView(WD&& W0, BD&& b0)
      : Base(detail::viewed_frozen<T>(type_name, std::forward<WD>(W0), std::forward<BD>(b0)),
             make_adapter) {}
  /// Views a layer without a bias.
  template <typename WD, detail::if_eigen<WD> = 0>
  explicit LinearView(WD&& W0)
      : Base(detail::viewed_frozen<T>(std::forward<WD>(W0)), make_adapter) {}
  /// Views raw column-major storage: W0 holds out x in values, column after
  /// column; b0 (if not null) holds out values.
  LinearView(ColumnMajorStorage, T* W0, Eigen::Index out, Eigen::Index in, T* b0 = nullptr)
      : Base(detail::viewed_frozen<Eigen::ColMajor>(W0, out, in, b0), make_adapter) {}
  /// Views raw row-major storage (PyTorch's layout): W0 holds out x in values,
  /// row after row; b0 (if not null) holds out values.
  LinearView(RowMajorStorage, T* W0, Eigen::Index out, Eigen::Index in, T* b0 = nullptr)
      : Base(detail::viewed_frozen<Eigen::RowMajor>(W0, out, in, b0), make_adapter) {}
  /// Views read-only raw storage (e.g. a file mapped into memory): everything
  /// but merge_in_place.
  LinearView(ColumnMajorStorage, const T* W0, Eigen::Index out, Eigen::Index in,
             const T* b0 = nullptr)
      : Base(detail::viewed_frozen<Eigen::ColMajor>(W0, out, in, b0), make_adapter) {}
  LinearView(RowMajorStorage, const T* W0, Eigen::Index out, Eigen::Index in, const T* b0 = nullptr)
      : Base(detail::viewed_frozen<Eigen::RowMajor>(W0, out, in, b0), make_adapter) {}
  /// A raw pointer says nothing of its storage order: state it.
  template <typename P>
  LinearView(P*, Eigen::Index, Eigen::Index, P* = nullptr) : Base({}, make_adapter) {
    static_assert(detail::dependent_false_v<P>,
                  "glora::LinearView: state the storage order of a raw pointer: "
                  "LinearView(glora::row_major, W0, out, in, b0) for PyTorch's [out, in] layout, "
                  "or LinearView(glora::column_major, W0, out, in, b0)");
  }

 private:
  static Adapter<T, KA, KB, KC, KD, KE> make_adapter(Eigen::Index out, Eigen::Index in) {
    return {out, in};
  }
};

}  // namespace glora
