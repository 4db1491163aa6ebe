// Z += W · S with S narrow (K columns), single precision: the streaming kernel
// for a row-major W against the one for a column-major W and Eigen's products.
// The rows of a cell, stream/<out>x<in>/k<K>, alternate call by call (see
// side_by_side.hpp) and come out as its counters:
//   row_major        detail::stream_row_major_add_k on W stored row-major
//   col_major        detail::stream_product_add_k on W stored column-major
//   eigen_row_major  Z.noalias() += W * S, W a row-major Map
//   eigen_col_major  Z.noalias() += W * S, W column-major
//   read             the sum of every element of W (row-major), the cost of
//                    reading W once
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

struct Shape {
  Index out, in;
};
const Shape kShapes[] = {{768, 768}, {3072, 768}, {4096, 4096}, {4096, 11008}};
constexpr int kMaxCols = 8;

/// The weights of one shape, built on first use and kept (the repetitions of
/// all cells run interleaved). Every row reads a matrix of its own, so that
/// each gets the same number of passes per turn (bench/README.md); the two
/// rows of one layout swap their pair of copies from one turn to the next, so
/// that where a copy landed in memory does not favour either.
struct ShapeState {
  std::array<RowMajorMatrix, 2> row_major;
  std::array<Matrix, 2> col_major;
  RowMajorMatrix read;
  explicit ShapeState(const Shape& s)
      : row_major{RowMajorMatrix::Random(s.out, s.in), RowMajorMatrix(s.out, s.in)},
        read(RowMajorMatrix::Random(s.out, s.in)) {
    row_major[1] = row_major[0];
    col_major[0] = row_major[0];
    col_major[1] = row_major[0];
  }
};

ShapeState& state_for(const Shape& s) {
  static std::map<std::pair<Index, Index>, std::unique_ptr<ShapeState>> states;
  auto& state = states[{s.out, s.in}];
  if (!state) state = std::make_unique<ShapeState>(s);
  return *state;
}

template <int K>
void stream_cell(benchmark::State& st, Shape s) {
  ShapeState& state = state_for(s);
  const Matrix S = Matrix::Random(s.in, K);
  Matrix Z = Matrix::Zero(s.out, K);
  T sum = 0;
  using bench::row_call;
  const std::vector<bench::Row> rows = {
      {"row_major", row_call(
                        [&](std::size_t turn) {
                          const RowMajorMatrix& W = state.row_major[turn % 2];
                          glora::detail::stream_row_major_add_k<K>(
                              W.data(), W.outerStride(), W.rows(), W.cols(), S.data(),
                              S.outerStride(), Z.data(), Z.outerStride());
                        },
                        Z.data())},
      {"eigen_row_major", row_call(
                              [&](std::size_t turn) {
                                const Eigen::Map<const RowMajorMatrix> W(
                                    state.row_major[1 - turn % 2].data(), s.out, s.in);
                                Z.noalias() += W * S;
                              },
                              Z.data())},
      {"col_major", row_call(
                        [&](std::size_t turn) {
                          const Matrix& W = state.col_major[turn % 2];
                          glora::detail::stream_product_add_k<K>(
                              W.data(), W.outerStride(), W.rows(), W.cols(), S.data(),
                              S.outerStride(), Z.data(), Z.outerStride());
                        },
                        Z.data())},
      {"eigen_col_major",
       row_call([&](std::size_t turn) { Z.noalias() += state.col_major[1 - turn % 2] * S; },
                Z.data())},
      {"read", row_call([&] { sum += state.read.sum(); }, &sum)},
  };
  bench::side_by_side(st, rows,
                      {{"row_major", "col_major"},
                       {"row_major", "eigen_row_major"},
                       {"col_major", "eigen_col_major"},
                       {"row_major", "read"}});
}

template <int... K>
void register_shape(const Shape& s, std::integer_sequence<int, K...>) {
  const std::string name = "stream/" + std::to_string(s.out) + "x" + std::to_string(s.in) + "/k";
  // A second per repetition gives the smaller shapes hundreds of turns; the
  // larger ones (calls of up to tens of milliseconds) get four.
  const double seconds = s.out * s.in < 4096 * 4096 ? 1.0 : 4.0;
  (bench::add(name + std::to_string(K + 1), stream_cell<K + 1>, s)->MinTime(seconds)->UseRealTime(),
   ...);
}

void register_all() {
  for (const Shape& s : kShapes) register_shape(s, std::make_integer_sequence<int, kMaxCols>());
}

const bool registered = (register_all(), true);

}  // namespace
