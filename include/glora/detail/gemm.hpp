#pragma once
// product_add: C += A · B through Eigen's own GEMM kernel, with packing buffers
// that are kept between calls.
//
// `C.noalias() += A * B` asks the heap for its packing buffers on every call
// once they exceed EIGEN_STACK_ALLOCATION_LIMIT (128 KB by default: any layer
// of real size). Eigen's kernel accepts caller-provided buffers; GemmBuffers
// holds them, so a forward that has run once at a batch size allocates nothing.

#include <glora/support.hpp>

#include <Eigen/Core>

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

/// C += A · B for column-major operands with unit inner stride. A single
/// right-hand column goes to Eigen's GEMV, which needs no buffers.
template <typename T>
void product_add(const Eigen::Ref<const MatrixX<T>>& A, const Eigen::Ref<const MatrixX<T>>& B,
                 Eigen::Ref<MatrixX<T>> C, GemmBuffers<T>& buffers) {
  if (B.cols() == 1) {
    C.col(0).noalias() += A * B.col(0);
    return;
  }
  if (C.rows() == 0 || C.cols() == 0 || A.cols() == 0) return;
  buffers.prepare(C.rows(), C.cols(), A.cols());
  using Kernel =
      Eigen::internal::general_matrix_matrix_product<Eigen::Index, T, Eigen::ColMajor, false, T,
                                                     Eigen::ColMajor, false, Eigen::ColMajor, 1>;
  Kernel::run(C.rows(), C.cols(), A.cols(), A.data(), A.outerStride(), B.data(), B.outerStride(),
              C.data(), 1, C.outerStride(), T(1), buffers);
}

}  // namespace glora::detail
