#pragma once
// Scratch buffers that grow and never shrink: a workspace reused for pieces of
// varying size (the last block of a batch, the last tile of a matrix, batches
// of any size up to the largest seen) allocates only for the largest. Eigen's
// resize reallocates on any change of size.

#include <glora/support.hpp>

#include <Eigen/Core>

namespace glora::detail {

/// Makes `buffer` hold at least `size` values, keeping it when it does.
template <typename T>
void grow(VectorX<T>& buffer, Eigen::Index size) {
  if (buffer.size() < size) buffer.resize(size);
}

/// A rows x cols matrix (column-major, packed) over `buffer`, grown to fit.
/// Its values are whatever the buffer held.
template <typename T>
Eigen::Map<MatrixX<T>> scratch_matrix(VectorX<T>& buffer, Eigen::Index rows, Eigen::Index cols) {
  grow(buffer, rows * cols);
  return Eigen::Map<MatrixX<T>>(buffer.data(), rows, cols);
}

/// Per-thread scratch of the merge: a tile's product of a high-rank factor
/// pair, the packed position factors of A's and B's low-rank terms, the line
/// factors of a tile's row-major lines, and a tile of the result when it
/// cannot be written in place.
template <typename T>
struct MergeScratch {
  VectorX<T> product;
  VectorX<T> packed_a;
  VectorX<T> packed_b;
  VectorX<T> line_factors;
  VectorX<T> tile;  ///< the merged tile, for a target in the other storage order
};

}  // namespace glora::detail
