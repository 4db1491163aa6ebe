#pragma once
// product_add: C += A · B through Eigen's own GEMM kernel, with packing buffers
// that are kept between calls.
//
// `C.noalias() += A * B` asks the heap for its packing buffers on every call
// once they exceed EIGEN_STACK_ALLOCATION_LIMIT (128 KB by default: any layer
// of real size). Eigen's kernel accepts caller-provided buffers; GemmBuffers
// holds them, so a forward or backward that has run once at a batch size
// allocates nothing.
//
// Operands are brought to one map type per storage order first, so that a
// product instantiates Eigen's kernel once per scalar type and pair of
// storage orders, whatever expressions (blocks, transposes) the caller has.
//
// Built with GLORA_BLAS (the CMake option of that name), the products go to
// the BLAS's sgemm or dgemm instead: a tuned BLAS beats Eigen's kernel at
// some shapes (see bench/README.md), and the buffers are then the BLAS's.

#include <glora/support.hpp>

#include <Eigen/Core>

#include <limits>
#include <type_traits>

#ifdef GLORA_BLAS
#include <cblas.h>
#endif

namespace glora::detail {

/// Packing buffers and block sizes for Eigen's GEMM kernel. Not copyable in
/// spirit (a copy would point at the original's buffers), so copies start empty.
template <typename T>
class GemmBuffers : public Eigen::internal::level3_blocking<T, T> {
 public:
  GemmBuffers() = default;
  GemmBuffers(const GemmBuffers&) {}
  GemmBuffers& operator=(const GemmBuffers&) { return *this; }

  /// Chooses Eigen's block sizes for a rows x depth times depth x cols product
  /// and makes the buffers big enough for them; allocates only when they grow.
  void prepare(Eigen::Index rows, Eigen::Index cols, Eigen::Index depth) {
    Eigen::Index kc = depth, mc = rows, nc = cols;
    Eigen::internal::computeProductBlockingSizes<T, T, 1, Eigen::Index>(kc, mc, nc, 1);
    if (packed_lhs_.size() < kc * mc) packed_lhs_.resize(kc * mc);
    if (packed_rhs_.size() < kc * nc) packed_rhs_.resize(kc * nc);
    this->m_kc = kc;
    this->m_mc = mc;
    this->m_nc = nc;
    this->m_blockA = packed_lhs_.data();
    this->m_blockB = packed_rhs_.data();
  }

 private:
  VectorX<T> packed_lhs_;
  VectorX<T> packed_rhs_;
};

/// A read-only matrix in storage order Order (Eigen::ColMajor or Eigen::RowMajor).
template <typename T, int Order>
using OrderedMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>, 0,
                              Eigen::OuterStride<>>;

/// The storage order in which an expression with direct access lays out its
/// coefficients (a single column counts as column-major).
template <typename Expr>
inline constexpr int storage_order_v = (Expr::Flags & Eigen::RowMajorBit) && Expr::ColsAtCompileTime
                                                                                 != 1
                                           ? Eigen::RowMajor
                                           : Eigen::ColMajor;

/// `x` (a matrix, map, block or transpose with unit inner stride) as an OrderedMap.
template <typename Expr>
auto ordered_map(const Eigen::MatrixBase<Expr>& x) {
  static_assert(Expr::Flags & Eigen::DirectAccessBit, "glora: internal: operand needs storage");
  using T = typename Expr::Scalar;
  constexpr int order = storage_order_v<Expr>;
  const Eigen::Index stride =
      x.cols() == 1 && order == Eigen::ColMajor ? x.rows() : x.derived().outerStride();
  return OrderedMap<T, order>(x.derived().data(), x.rows(), x.cols(), Eigen::OuterStride<>(stride));
}

#ifdef GLORA_BLAS
/// C += A · B through the BLAS's gemm; false (nothing done) when it cannot
/// take the operands: another scalar type than float or double, or
/// dimensions beyond its int.
template <typename T, int LhsOrder, int RhsOrder>
bool blas_product_add(const OrderedMap<T, LhsOrder>& A, const OrderedMap<T, RhsOrder>& B,
                      Eigen::Ref<MatrixX<T>> C) {
  constexpr Eigen::Index max = std::numeric_limits<int>::max();
  for (const Eigen::Index d :
       {C.rows(), C.cols(), A.cols(), A.outerStride(), B.outerStride(), C.outerStride()}) {
    if (d > max) return false;
  }
  // Column-major BLAS: a row-major operand is the transpose of its storage.
  const auto op = [](int order) { return order == Eigen::RowMajor ? CblasTrans : CblasNoTrans; };
  const auto m = int(C.rows()), n = int(C.cols()), k = int(A.cols());
  const auto lda = int(A.outerStride()), ldb = int(B.outerStride()), ldc = int(C.outerStride());
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasColMajor, op(LhsOrder), op(RhsOrder), m, n, k, 1.0F, A.data(), lda, B.data(),
                ldb, 1.0F, C.data(), ldc);
    return true;
  } else if constexpr (std::is_same_v<T, double>) {
    cblas_dgemm(CblasColMajor, op(LhsOrder), op(RhsOrder), m, n, k, 1.0, A.data(), lda, B.data(),
                ldb, 1.0, C.data(), ldc);
    return true;
  } else {
    return false;
  }
}
#endif

/// C += A · B for operands in storage orders LhsOrder and RhsOrder.
template <typename T, int LhsOrder, int RhsOrder>
void ordered_product_add(const OrderedMap<T, LhsOrder>& A, const OrderedMap<T, RhsOrder>& B,
                         Eigen::Ref<MatrixX<T>> C, GemmBuffers<T>& buffers) {
  if (C.rows() == 0 || C.cols() == 0 || A.cols() == 0) return;
  if (B.cols() == 1) {  // Eigen's GEMV needs no buffers
    C.col(0).noalias() += A * B.col(0);
    return;
  }
#ifdef GLORA_BLAS
  if (blas_product_add<T>(A, B, C)) return;
#endif
  buffers.prepare(C.rows(), C.cols(), A.cols());
  using Kernel =
      Eigen::internal::general_matrix_matrix_product<Eigen::Index, T, LhsOrder, false, T, RhsOrder,
                                                     false, Eigen::ColMajor, 1>;
  Kernel::run(C.rows(), C.cols(), A.cols(), A.data(), A.outerStride(), B.data(), B.outerStride(),
              C.data(), 1, C.outerStride(), T(1), buffers);
}

/// C += A · B for any A and B with storage (matrices, maps, blocks, transposes
/// of those), C column-major; allocation-free once `buffers` has seen the sizes.
template <typename T, typename Lhs, typename Rhs>
void product_add(const Eigen::MatrixBase<Lhs>& A, const Eigen::MatrixBase<Rhs>& B,
                 Eigen::Ref<MatrixX<T>> C, GemmBuffers<T>& buffers) {
  ordered_product_add<T>(ordered_map(A), ordered_map(B), C, buffers);
}

}  // namespace glora::detail
