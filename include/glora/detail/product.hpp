#pragma once
// weight_product: Z = W · S for the large frozen W and a right-hand side S
// that may be narrow (a few samples times 1 + a rank) or wide.
//
// A narrow S goes to a streaming kernel that reads W once for all of S's
// columns (stream.hpp for a column-major W, stream_row_major.hpp for a
// row-major one); a wide one to Eigen's GEMM on kept packing buffers. Rows are split
// between threads when Eigen runs with OpenMP. Either storage order of W:
// the forward reads W0, the backward W0ᵀ, which is W0 in the other order.

#include <glora/detail/gemm.hpp>
#include <glora/detail/parallel.hpp>
#include <glora/detail/stream.hpp>
#include <glora/detail/stream_row_major.hpp>
#include <glora/workspace.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <vector>

namespace glora::detail {

/// Makes room for `threads` threads' scratch; allocates only when it grows.
template <typename T>
void reserve_threads(std::vector<ThreadScratch<T>>& scratch, int threads) {
  const auto wanted = static_cast<std::size_t>(threads);
  if (scratch.size() < wanted) scratch.resize(wanted);
}

/// Thread t's scratch (reserve_threads first).
template <typename T>
ThreadScratch<T>& thread_scratch(std::vector<ThreadScratch<T>>& scratch, int t) {
  return scratch[static_cast<std::size_t>(t)];
}

/// Z = W · S (Z is W.rows() x S.cols(), already sized), W in storage order Layout.
template <typename T, int Layout>
void weight_product(const OrderedMap<T, Layout>& W, const Eigen::Ref<const MatrixX<T>>& S,
                    Eigen::Ref<MatrixX<T>> Z, std::vector<ThreadScratch<T>>& scratch) {
  const int threads = row_threads(double(W.size()) * double(S.cols()));
  reserve_threads(scratch, threads);
  Z.setZero();
  for_row_ranges(W.rows(), threads, [&](int t, Eigen::Index begin, Eigen::Index end) {
    const OrderedMap<T, Layout> Wr(
        W.data() + (Layout == Eigen::RowMajor ? begin * W.outerStride() : begin), end - begin,
        W.cols(), Eigen::OuterStride<>(W.outerStride()));
    auto Zr = Z.middleRows(begin, end - begin);
    if constexpr (Layout == Eigen::ColMajor) {
      if (S.cols() <= max_stream_cols) return stream_product_add<T>(Wr, S, Zr);
    } else {
      if (S.cols() <= max_stream_row_major_cols) {
        return stream_row_major_add<T>(Wr.data(), Wr.outerStride(), Wr.rows(), Wr.cols(), S.data(),
                                       S.outerStride(), S.cols(), Zr.data(), Zr.outerStride());
      }
    }
    ordered_product_add<T>(Wr, ordered_map(S), Zr, thread_scratch(scratch, t).gemm);
  });
}

}  // namespace glora::detail
