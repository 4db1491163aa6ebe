// Z += W · S with S narrow (K columns), single precision: the streaming kernel
// for a row-major W against the one for a column-major W and Eigen's products.
// The rows of a cell, stream/<out>x<in>/k<K> (stream/<out>x<in>+<pad>/k<K>:
// rows and columns stored <pad> elements apart further than they need), alternate
// call by call (see side_by_side.hpp) and come out as its counters:
//   row_major        detail::stream_row_major_add_k on W stored row-major
//   col_major        detail::stream_product_add_k on W stored column-major
//   eigen_row_major  Z.noalias() += W * S, W a row-major Map
//   eigen_col_major  Z.noalias() += W * S, W column-major
//   read             the sum of every element of W (row-major), read as eight
//                    bands of rows side by side: what reading W once costs
// and the ratios row_major/col_major, row_major/eigen_row_major,
// col_major/eigen_col_major and row_major/read.

#include "side_by_side.hpp"

#include <glora/detail/stream.hpp>
#include <glora/detail/stream_row_major.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using T = float;
using Index = Eigen::Index;
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// out x in, each row (row-major) or column (column-major) `pad` elements
/// longer than the matrix needs.
struct Shape {
  Index out, in, pad;
  Index row_stride() const { return in + pad; }
  Index col_stride() const { return out + pad; }
};
const Shape kShapes[] = {{768, 768, 0}, {3072, 768, 0}, {4096, 4096, 0}, {4096, 11008, 0}};
constexpr int kMaxCols = 8;
// 4096 floats make a stride of 16 KB, which puts the same column of every row
// into one set of the L1 cache; padded by 16 floats, they spread over all sets.
const Shape kPadded{4096, 4096, 16};
using PaddedCols = std::integer_sequence<int, 1, 2, 4, 8>;

/// The weights of one shape, built on first use and kept (the repetitions of
/// all cells run interleaved). Every row reads a matrix of its own, so that
/// each gets the same number of passes per turn (bench/README.md); the two
/// rows of one layout swap their pair of copies from one turn to the next, so
/// that where a copy landed in memory does not favour either.
using RowMajorView = Eigen::Map<RowMajorMatrix, 0, Eigen::OuterStride<>>;
using ColMajorView = Eigen::Map<Matrix, 0, Eigen::OuterStride<>>;

/// The out x in matrix in storage of out x row_stride() (row-major) or
/// col_stride() x in (column-major).
RowMajorView view(RowMajorMatrix& storage, const Shape& s) {
  return {storage.data(), s.out, s.in, Eigen::OuterStride<>(s.row_stride())};
}
ColMajorView view(Matrix& storage, const Shape& s) {
  return {storage.data(), s.out, s.in, Eigen::OuterStride<>(s.col_stride())};
}

struct ShapeState {
  std::array<RowMajorMatrix, 2> row_major;
  std::array<Matrix, 2> col_major;
  RowMajorMatrix read;
  explicit ShapeState(const Shape& s)
      : row_major{RowMajorMatrix::Random(s.out, s.row_stride()),
                  RowMajorMatrix::Random(s.out, s.row_stride())},
        col_major{Matrix::Random(s.col_stride(), s.in), Matrix::Random(s.col_stride(), s.in)},
        read(RowMajorMatrix::Random(s.out, s.row_stride())) {
    view(row_major[1], s) = view(row_major[0], s);
    view(col_major[0], s) = view(row_major[0], s);
    view(col_major[1], s) = view(row_major[0], s);
  }
};

ShapeState& state_for(const Shape& s) {
  static std::map<std::array<Index, 3>, std::unique_ptr<ShapeState>> states;
  auto& state = states[{s.out, s.in, s.pad}];
  if (!state) state = std::make_unique<ShapeState>(s);
  return *state;
}

/// The sum of every element of W, read as eight bands of rows side by side (a
/// single sequential pass, Eigen's sum(), was 15-20% slower than either kernel
/// at one column of S on the 4096-row shapes: it is no floor). The bench's
/// shapes have rows in multiples of 8.
template <typename Derived>
T read_all(const Eigen::MatrixBase<Derived>& W) {
  const Index b = W.rows() / 8;
  const auto band = [&](Index k) { return W.middleRows(k * b, b); };
  return (band(0) + band(1) + band(2) + band(3) + band(4) + band(5) + band(6) + band(7)).sum();
}

/// Z += W S by the kernel for W's layout.
template <int K>
void kernel_add(const RowMajorView& W, const Matrix& S, Matrix& Z) {
  glora::detail::stream_row_major_add_k<K>(W.data(), W.outerStride(), W.rows(), W.cols(), S.data(),
                                           S.outerStride(), Z.data(), Z.outerStride());
}
template <int K>
void kernel_add(const ColMajorView& W, const Matrix& S, Matrix& Z) {
  glora::detail::stream_product_add_k<K>(W.data(), W.outerStride(), W.rows(), W.cols(), S.data(),
                                         S.outerStride(), Z.data(), Z.outerStride());
}

/// The two rows of one layout, `name` (the kernel) and `eigen_<name>` (Eigen's
/// product), each on one of the two copies, which they swap every turn.
template <int K, typename Storage>
std::vector<bench::Row> layout_rows(const std::string& name, std::array<Storage, 2>& copies,
                                    const Shape& s, const Matrix& S, Matrix& Z) {
  using bench::row_call;
  return {{name, row_call([&, s](std::size_t t) { kernel_add<K>(view(copies[t % 2], s), S, Z); },
                          Z.data())},
          {"eigen_" + name,
           row_call([&, s](std::size_t t) { Z.noalias() += view(copies[1 - t % 2], s) * S; },
                    Z.data())}};
}

template <int K>
void stream_cell(benchmark::State& st, Shape s) {
  ShapeState& state = state_for(s);
  const Matrix S = Matrix::Random(s.in, K);
  Matrix Z = Matrix::Zero(s.out, K);
  T sum = 0;
  {
    // Both kernels, from zero, on the same matrix: the cell times what it claims to.
    Matrix Zc = Matrix::Zero(s.out, K);
    kernel_add<K>(view(state.row_major[0], s), S, Z);
    kernel_add<K>(view(state.col_major[0], s), S, Zc);
    if (!Z.isApprox(Zc, T(1e-4))) {
      st.SkipWithError("the row-major and column-major kernels disagree");
      return;
    }
  }
  std::vector<bench::Row> rows = layout_rows<K>("row_major", state.row_major, s, S, Z);
  for (bench::Row& row : layout_rows<K>("col_major", state.col_major, s, S, Z)) {
    rows.push_back(std::move(row));
  }
  rows.push_back({"read", bench::row_call([&] { sum += read_all(view(state.read, s)); }, &sum)});
  bench::side_by_side(st, rows,
                      {{"row_major", "col_major"},
                       {"row_major", "eigen_row_major"},
                       {"col_major", "eigen_col_major"},
                       {"row_major", "read"}});
}

/// Cells stream/<out>x<in>[+<pad>]/k<K> for each K of the sequence.
template <int... K>
void register_shape(const Shape& s, std::integer_sequence<int, K...>) {
  const std::string name = "stream/" + std::to_string(s.out) + "x" + std::to_string(s.in) +
                           (s.pad ? "+" + std::to_string(s.pad) : "") + "/k";
  // A second per repetition gives the smaller shapes hundreds of turns; the
  // larger ones (calls of up to tens of milliseconds) get four.
  const double seconds = s.out * s.in < 4096 * 4096 ? 1.0 : 4.0;
  (bench::add(name + std::to_string(K), stream_cell<K>, s)->MinTime(seconds)->UseRealTime(), ...);
}

template <int... K>
void register_shapes(std::integer_sequence<int, K...>) {
  for (const Shape& s : kShapes) register_shape(s, std::integer_sequence<int, (K + 1)...>());
  register_shape(kPadded, PaddedCols());
}

void register_all() { register_shapes(std::make_integer_sequence<int, kMaxCols>()); }

const bool registered = (register_all(), true);

}  // namespace
