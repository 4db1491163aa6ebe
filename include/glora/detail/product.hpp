#pragma once
// weight_product: Z = W · S for the large frozen W and a right-hand side S
// that may be narrow (a few samples times 1 + a rank) or wide.
//
// A narrow S goes to a streaming kernel that reads W once for all of S's
// columns (stream.hpp for a column-major W, stream_row_major.hpp for a
// row-major one); a wide one to Eigen's GEMM on kept packing buffers. Rows are split
// between threads when Eigen runs with OpenMP. Either storage order of W:
// the forward reads W0, the backward W0 and W0ᵀ, which is W0 in the other order.

#include <glora/detail/gemm.hpp>
#include <glora/detail/parallel.hpp>
#include <glora/detail/refs.hpp>
#include <glora/detail/stream.hpp>
#include <glora/detail/stream_row_major.hpp>
#include <glora/detail/tile_row_major.hpp>
#include <glora/workspace.hpp>

#include <Eigen/Core>

#include <algorithm>
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

/// Rows [begin, begin + rows) of W, as a map of the same storage order.
template <typename T, int Layout>
OrderedMap<T, Layout> weight_rows(const OrderedMap<T, Layout>& W, Eigen::Index begin,
                                  Eigen::Index rows) {
  const Eigen::Index offset = Layout == Eigen::RowMajor ? begin * W.outerStride() : begin;
  return OrderedMap<T, Layout>(W.data() + offset, rows, W.cols(),
                               Eigen::OuterStride<>(W.outerStride()));
}

/// Z += W · S on the calling thread, W in storage order Layout: the one place
/// that picks how W is multiplied (the streaming kernel for a narrow S, GEMM
/// otherwise).
template <typename T, int Layout>
void serial_weight_product_add(const OrderedMap<T, Layout>& W,
                               const Eigen::Ref<const MatrixX<T>>& S, Eigen::Ref<MatrixX<T>> Z,
                               GemmBuffers<T>& gemm) {
  if constexpr (Layout == Eigen::ColMajor) {
    if (S.cols() <= max_stream_cols) return stream_product_add<T>(W, S, Z);
  } else {
    if (S.cols() <= max_stream_row_major_cols) {
      return stream_row_major_add<T>(W.data(), W.outerStride(), W.rows(), W.cols(), S.data(),
                                     S.outerStride(), S.cols(), Z.data(), Z.outerStride());
    }
  }
  ordered_product_add<T>(W, ordered_map(S), Z, gemm);
}

/// Columns of S up to which a product with a tile in cache runs through the
/// streaming kernel, max_stream_cols at a time: there it beats packing the
/// tile for Eigen's GEMM (by 10-20% at 16 columns of a 256 x 256 tile; the
/// two cross between 32 and 48 columns).
inline constexpr Eigen::Index tile_stream_cols = 32;
static_assert(max_stream_cols == max_stream_row_major_cols,
              "tile_product_add slices S alike for both storage orders");

/// Z += W · S for a tile W that is in cache (the tiled forward's tiles): S in
/// slices for the streaming kernel up to tile_stream_cols columns, Eigen's GEMM
/// beyond. (From memory, each slice would read W again.)
template <typename T, int Layout>
void tile_product_add(const OrderedMap<T, Layout>& W, const Eigen::Ref<const MatrixX<T>>& S,
                      Eigen::Ref<MatrixX<T>> Z, GemmBuffers<T>& gemm) {
  if (S.cols() > tile_stream_cols) return ordered_product_add<T>(W, ordered_map(S), Z, gemm);
  for (Eigen::Index k = 0; k < S.cols(); k += max_stream_cols) {
    const Eigen::Index K = std::min(max_stream_cols, S.cols() - k);
    serial_weight_product_add<T>(W, S.middleCols(k, K), Z.middleCols(k, K), gemm);
  }
}

/// How many of a group's `cols` columns tile_product_add's row-major overload
/// takes through tile_row_major_add: its whole packets, when the group is
/// narrow enough for the streaming kernel at all.
template <typename T>
Eigen::Index tile_row_major_cols(Eigen::Index cols) {
  constexpr Eigen::Index P = Eigen::internal::packet_traits<T>::size;
  return cols <= tile_stream_cols ? cols / P * P : 0;
}

/// Z += W · S for a row-major tile W in cache, S also given as St = Sᵀ and
/// the product of its whole packets of columns accumulated in Zt = Zᵀ instead
/// (tile_row_major_add: no sums across lanes); the other columns, or all of a
/// wider S, as tile_product_add.
template <typename T>
void tile_product_add(const OrderedMap<T, Eigen::RowMajor>& W, const ConstMatrixRef<T>& S,
                      const ConstMatrixRef<T>& St, MatrixRef<T> Z, MatrixRef<T> Zt,
                      GemmBuffers<T>& gemm) {
  constexpr Eigen::Index P = Eigen::internal::packet_traits<T>::size;
  const Eigen::Index whole = tile_row_major_cols<T>(S.cols());
  if (whole > 0) {
    tile_row_major_add<T>(W.data(), W.outerStride(), W.rows(), W.cols(), St.data(),
                          St.outerStride(), whole / P, Zt.data(), Zt.outerStride());
  }
  const Eigen::Index rest = S.cols() - whole;
  if (rest > 0) tile_product_add<T>(W, S.rightCols(rest), Z.rightCols(rest), gemm);
}

/// Z += W · S (Z is W.rows() x S.cols()), W in storage order Layout, W's rows
/// split between threads.
template <typename T, int Layout>
void weight_product_add(const OrderedMap<T, Layout>& W, const ConstMatrixRef<T>& S, MatrixRef<T> Z,
                        std::vector<ThreadScratch<T>>& scratch) {
  const int threads = row_threads(double(W.size()) * double(S.cols()));
  reserve_threads(scratch, threads);
  for_row_ranges(W.rows(), threads, [&](int t, Eigen::Index begin, Eigen::Index end) {
    serial_weight_product_add<T>(weight_rows(W, begin, end - begin), S,
                                 Z.middleRows(begin, end - begin), thread_scratch(scratch, t).gemm);
  });
}

/// Z = W · S (Z is W.rows() x S.cols(), already sized), as weight_product_add.
template <typename T, int Layout>
void weight_product(const OrderedMap<T, Layout>& W, const Eigen::Ref<const MatrixX<T>>& S,
                    Eigen::Ref<MatrixX<T>> Z, std::vector<ThreadScratch<T>>& scratch) {
  Z.setZero();
  weight_product_add<T>(W, S, Z, scratch);
}

}  // namespace glora::detail
