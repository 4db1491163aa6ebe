// The unmerged forward at wide batches (a server's prefill, scoring a whole
// test set) against the merged layer, single precision. Rows of one cell
// alternate call by call (side_by_side.hpp); the counters are each row's
// median microseconds per call and the paired ratios.
//
// wide/<shape>/b<batch>:
//   plain          Y = W X + b written directly in Eigen (the baseline)
//   dense          Dense::forward of the merged layer
//   unmerged/full  Linear::forward, LowRank-4 A and B, Vector C, D and E
//   unmerged/vec   Linear::forward, Vector A, LowRank-4 B, Vector C, D and E
// The batch-197 cells of the same shapes are the level the wide ones are held to.

#include "side_by_side.hpp"

#include <glora/glora.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <string>
#include <vector>

namespace {

using bench::add;
using bench::Row;
using bench::row_call;
using bench::side_by_side;
using T = float;
using Index = Eigen::Index;
using Matrix = glora::MatrixX<T>;
using Vector = glora::VectorX<T>;
using Full = glora::Linear<T, glora::LowRank<4>, glora::LowRank<4>, glora::Vector, glora::Vector,
                           glora::Vector>;
using VectorA =
    glora::Linear<T, glora::Vector, glora::LowRank<4>, glora::Vector, glora::Vector, glora::Vector>;

template <typename Layer>
Layer random_layer(Index out, Index in) {
  Layer layer(Matrix::Random(out, in), Vector::Random(out));
  layer.adapter().for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); });
  return layer;
}

void wide_cell(benchmark::State& st, Index out, Index in, Index batch) {
  const Full full = random_layer<Full>(out, in);
  const VectorA vec = random_layer<VectorA>(out, in);
  // Two copies of the merged layer, swapped between plain and dense from one
  // turn to the next (see bench_layers.cpp: copies can run apart by where
  // they landed in memory).
  const glora::Dense<T> merged[2] = {full.merge(), full.merge()};
  const Matrix X = Matrix::Random(in, batch);
  Matrix Y(out, batch);
  const std::vector<Row> rows = {
      {"plain", row_call(
                    [&](std::size_t turn) {
                      Y.noalias() = merged[turn % 2].weight * X;
                      Y.colwise() += merged[turn % 2].bias;
                    },
                    Y.data())},
      {"dense", row_call([&](std::size_t turn) { merged[1 - turn % 2].forward(X, Y); }, Y.data())},
      {"unmerged/full", row_call([&] { full.forward(X, Y); }, Y.data())},
      {"unmerged/vec", row_call([&] { vec.forward(X, Y); }, Y.data())},
  };
  side_by_side(st, rows,
               {{"dense", "plain"}, {"unmerged/full", "dense"}, {"unmerged/vec", "dense"}});
}

void register_all() {
  struct Cell {
    Index out, in, batch;
  };
  const Cell cells[] = {{256, 784, 10000}, {256, 256, 10000}, {768, 768, 2048}, {3072, 768, 4096},
                        {256, 784, 197},   {256, 256, 197},   {768, 768, 197},  {3072, 768, 197}};
  for (const Cell& c : cells) {
    const std::string name = "wide/" + std::to_string(c.out) + "x" + std::to_string(c.in) + "/b" +
                             std::to_string(c.batch);
    const double seconds = double(c.out) * double(c.in) * double(c.batch) > 1e9 ? 4.0 : 1.0;
    add(name, wide_cell, c.out, c.in, c.batch)->MinTime(seconds)->UseRealTime();
  }
}

const bool registered = (register_all(), true);

}  // namespace
