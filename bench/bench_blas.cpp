// The BLAS back end (CMake option GLORA_BLAS): glora's products against the
// BLAS's own sgemm on the same product, single precision. Without GLORA_BLAS
// this program registers nothing. Rows of one cell alternate call by call
// (side_by_side.hpp); the counters are each row's median microseconds per call
// and the paired ratios.
//
// blas/<shape>/b<batch>:
//   sgemm            Y = b, then cblas_sgemm adds W X: y = W x + b as a BLAS user writes it
//   eigen            Y = W X + b through Eigen's own product (what GLORA_BLAS replaces)
//   dense            Dense::forward
//   unmerged/frozen  Linear::forward without an adapter: the unmerged forward's GEMM path alone
//   unmerged/lora    Linear::forward, LowRank-4 B
// Run single-threaded: OPENBLAS_NUM_THREADS=1, in a build configured with
// -DGLORA_BLAS=ON -DBLA_VENDOR=OpenBLAS.

#include "side_by_side.hpp"

#include <glora/glora.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <string>
#include <vector>

#ifdef GLORA_BLAS
#include <cblas.h>

namespace {

using bench::add;
using bench::Row;
using bench::row_call;
using bench::side_by_side;
using T = float;
using Index = Eigen::Index;
using Matrix = glora::MatrixX<T>;
using Vector = glora::VectorX<T>;

void blas_cell(benchmark::State& st, Index out, Index in, Index batch) {
  const Matrix W = Matrix::Random(out, in);
  const Vector b = Vector::Random(out);
  const glora::Dense<T> dense(W, b);
  const glora::Linear<T> frozen(W, b);
  glora::Linear<T, glora::None, glora::LowRank<4>> lora(W, b);
  lora.adapter().B.down.setRandom();
  lora.adapter().B.up.setRandom();
  const Matrix X = Matrix::Random(in, batch);
  Matrix Y(out, batch);
  const auto m = int(out), n = int(batch), k = int(in);
  const std::vector<Row> rows = {
      {"sgemm", row_call(
                    [&] {
                      Y.colwise() = b;
                      cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0F,
                                  W.data(), m, X.data(), k, 1.0F, Y.data(), m);
                    },
                    Y.data())},
      {"eigen", row_call(
                    [&] {
                      Y.noalias() = W * X;
                      Y.colwise() += b;
                    },
                    Y.data())},
      {"dense", row_call([&] { dense.forward(X, Y); }, Y.data())},
      {"unmerged/frozen", row_call([&] { frozen.forward(X, Y); }, Y.data())},
      {"unmerged/lora", row_call([&] { lora.forward(X, Y); }, Y.data())},
  };
  side_by_side(st, rows,
               {{"dense", "sgemm"},
                {"unmerged/frozen", "sgemm"},
                {"unmerged/lora", "sgemm"},
                {"eigen", "sgemm"}});
}

void register_all() {
  struct Cell {
    Index out, in, batch;
  };
  for (const Cell& c :
       {Cell{768, 768, 197}, Cell{3072, 768, 197}, Cell{768, 768, 16}, Cell{4096, 4096, 16}}) {
    add("blas/" + std::to_string(c.out) + "x" + std::to_string(c.in) + "/b" +
            std::to_string(c.batch),
        blas_cell, c.out, c.in, c.batch)
        ->MinTime(2.0)
        ->UseRealTime();
  }
}

const bool registered = (register_all(), true);

}  // namespace
#endif
