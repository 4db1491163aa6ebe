// Forward and merge timings of GLoRA layers against plain Eigen, single precision.
//
// The rows of one cell alternate call by call inside one benchmark and come out
// as its counters: each row's median microseconds per call, and the ratios the
// targets are stated in (`dense/plain`, `unmerged/<config>/dense`,
// `merge/copy`), each taken between the two rows' calls of one turn and then
// summarised over the turns (see side_by_side.hpp). forward/<shape>/b<batch> has
// plain, dense and unmerged/<config>; merge/<shape> has copy and merge. The
// naive rows are benchmarks of their own, naive/<shape>/<config>/b<batch>.
// rows/<shape>/b<batch> repeats the forward cell over row-major weights
// (PyTorch's layout), merge_rows/<shape> the merge cell; run_time/<shape>/b<batch>
// times each config's compile-time layer against the run-time configured one.
// bench/report.py turns one run's JSON into the tables.
//   plain     Y = W X + b written directly in Eigen (the baseline)
//   dense     Dense::forward of the merged layer
//   unmerged  Linear::forward with the adapter active
//   naive     the adapter's W and b evaluated in full on every call, then W X + b
//   copy      a plain copy of W0 (what merging cannot beat)
//   merge     Linear::merge_into with LowRank-8 A and B
//   dynamic   DynamicLinear::forward set to the config of the row it is paired with

#include "side_by_side.hpp"

#include <glora/glora.hpp>

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

using bench::add;
using bench::Row;
using bench::row_call;
using bench::side_by_side;
using T = float;
using Index = Eigen::Index;
using Matrix = glora::MatrixX<T>;
using Vector = glora::VectorX<T>;

struct Shape {
  Index out, in;
};
const Shape kShapes[] = {{768, 768}, {3072, 768}, {4096, 4096}, {4096, 11008}};
const Index kBatches[] = {1, 16, 197};

using Lora = glora::Linear<T, glora::None, glora::LowRank<4>>;
using Full = glora::Linear<T, glora::LowRank<4>, glora::LowRank<4>, glora::LowRank<4>,
                           glora::Vector, glora::Vector>;
using Cheap =
    glora::Linear<T, glora::Vector, glora::LowRank<4>, glora::Vector, glora::Scalar, glora::Vector>;
using Merging = glora::Linear<T, glora::LowRank<8>, glora::LowRank<8>>;
using RowMajorMatrix = glora::RowMajorMatrixX<T>;

std::string shape_name(const Shape& s) {
  return std::to_string(s.out) + "x" + std::to_string(s.in);
}

/// Random values in [-1, 1) for every tensor, so that no term vanishes. With
/// Weight = RowMajorMatrix the layer keeps W0 row-major.
template <typename Layer, typename Weight = Matrix>
Layer random_layer(const Shape& s) {
  Layer layer(Weight(Matrix::Random(s.out, s.in)), Vector::Random(s.out));
  glora::for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); }, layer.adapter());
  return layer;
}

/// The run-time configured layer of `fixed`'s configuration over copies of its
/// base and tensors.
template <typename Layer>
glora::DynamicLinear<T> run_time_copy(const Layer& fixed) {
  const glora::DynamicAdapter<T> tensors = glora::to_dynamic(fixed.adapter());
  glora::DynamicLinear<T> layer(Matrix(fixed.weight()), Vector(fixed.bias()), tensors.config);
  layer.adapter() = tensors;
  return layer;
}

/// The tensor a slot contributes to W (m x n), expanded in full as the reference does.
template <typename Support>
Matrix expand_weight_term(const Support& s, Index m, Index n) {
  using K = typename Support::kind;
  if constexpr (glora::is_low_rank_v<K>) {
    return s.down * s.up;
  } else if constexpr (std::is_same_v<K, glora::Vector>) {
    return s.value.replicate(1, n);
  } else if constexpr (std::is_same_v<K, glora::Scalar>) {
    return Matrix::Constant(m, n, s.value);
  } else {
    return Matrix::Zero(m, n);
  }
}

/// The reference's forward: W and b built from scratch on every call.
template <typename Layer>
void naive_forward(const Layer& layer, const Matrix& X, Matrix& Y) {
  const auto& ad = layer.adapter();
  const Matrix& W0 = layer.weight();
  const Index m = W0.rows(), n = W0.cols();
  const Matrix W =
      W0 + W0.cwiseProduct(expand_weight_term(ad.A, m, n)) + expand_weight_term(ad.B, m, n);
  Vector c = Vector::Zero(n);
  using KC = typename Layer::adapter_type::kind_c;
  if constexpr (glora::is_low_rank_v<KC>) {
    c = ad.C.down * ad.C.up;
  } else if constexpr (std::is_same_v<KC, glora::Vector>) {
    c = ad.C.value;
  }
  const Vector b = layer.bias() + layer.bias().cwiseProduct(expand_weight_term(ad.D, m, 1)) +
                   expand_weight_term(ad.E, m, 1) + W0 * c;
  Y.noalias() = W * X;
  Y.colwise() += b;
}

/// The layers of one shape, built on first use and kept: the benchmarks run
/// their repetitions interleaved, so every shape comes back (all four take
/// about 1.2 gigabytes).
struct ShapeState {
  Lora lora;
  Full full;
  Cheap cheap;
  // The same configs over row-major weights, with their own merged copies.
  Lora lora_rows;
  Full full_rows;
  Cheap cheap_rows;
  std::array<RowMajorMatrix, 2> merged_rows;
  // The run-time configured layer of each config.
  glora::DynamicLinear<T> lora_dynamic;
  glora::DynamicLinear<T> full_dynamic;
  glora::DynamicLinear<T> cheap_dynamic;
  // Two copies of any merged layer (the dense and plain rows only need a W and
  // a b), one for each row, swapped from one turn to the next. Each row reads a
  // matrix of its own, so every matrix gets the same passes per turn (with
  // plain and dense on one matrix, it held its place in a cache shared with
  // other guests better than the unmerged rows' matrices did: at 768x768,
  // batch 1, lora/dense read 1.01-1.20 per repetition against 0.99-1.00 with
  // a matrix each); the swap gives both rows both copies, which can run a GEMV
  // up to 7% apart from where they land in memory.
  std::array<glora::Dense<T>, 2> merged;

  explicit ShapeState(const Shape& s)
      : lora(random_layer<Lora>(s)),
        full(random_layer<Full>(s)),
        cheap(random_layer<Cheap>(s)),
        lora_rows(random_layer<Lora, RowMajorMatrix>(s)),
        full_rows(random_layer<Full, RowMajorMatrix>(s)),
        cheap_rows(random_layer<Cheap, RowMajorMatrix>(s)),
        merged_rows{full_rows.merge().weight, full_rows.merge().weight},
        lora_dynamic(run_time_copy(lora)),
        full_dynamic(run_time_copy(full)),
        cheap_dynamic(run_time_copy(cheap)),
        merged{full.merge(), full.merge()} {}
};

ShapeState& state_for(const Shape& s) {
  static std::map<std::pair<Index, Index>, std::unique_ptr<ShapeState>> states;
  auto& state = states[{s.out, s.in}];
  if (!state) state = std::make_unique<ShapeState>(s);
  return *state;
}

/// The forward rows of one shape and batch: plain Eigen, Dense::forward and
/// the unmerged forward of each config, on the same X and Y.
void forward_cell(benchmark::State& st, Shape s, Index batch) {
  ShapeState& state = state_for(s);
  const Matrix X = Matrix::Random(s.in, batch);
  Matrix Y(s.out, batch);
  const std::vector<Row> rows = {
      {"plain", row_call(
                    [&](std::size_t turn) {
                      const Matrix& W = state.merged[turn % 2].weight;
                      const Vector& b = state.merged[turn % 2].bias;
                      Y.noalias() = W * X;
                      Y.colwise() += b;
                    },
                    Y.data())},
      {"dense",
       row_call([&](std::size_t turn) { state.merged[1 - turn % 2].forward(X, Y); }, Y.data())},
      {"unmerged/lora", row_call([&] { state.lora.forward(X, Y); }, Y.data())},
      {"unmerged/full", row_call([&] { state.full.forward(X, Y); }, Y.data())},
      {"unmerged/cheap", row_call([&] { state.cheap.forward(X, Y); }, Y.data())},
  };
  side_by_side(st, rows,
               {{"dense", "plain"},
                {"unmerged/lora", "dense"},
                {"unmerged/full", "dense"},
                {"unmerged/cheap", "dense"}});
}

/// forward_cell over row-major weights: plain Eigen with a row-major W (the
/// merged row-major layer's forward) and the unmerged forward of each config.
void forward_rows_cell(benchmark::State& st, Shape s, Index batch) {
  ShapeState& state = state_for(s);
  const Matrix X = Matrix::Random(s.in, batch);
  Matrix Y(s.out, batch);
  const Vector& b = state.merged[0].bias;
  const std::vector<Row> rows = {
      {"plain", row_call(
                    [&](std::size_t turn) {
                      Y.noalias() = state.merged_rows[turn % 2] * X;
                      Y.colwise() += b;
                    },
                    Y.data())},
      {"unmerged/lora", row_call([&] { state.lora_rows.forward(X, Y); }, Y.data())},
      {"unmerged/full", row_call([&] { state.full_rows.forward(X, Y); }, Y.data())},
      {"unmerged/cheap", row_call([&] { state.cheap_rows.forward(X, Y); }, Y.data())},
  };
  side_by_side(
      st, rows,
      {{"unmerged/lora", "plain"}, {"unmerged/full", "plain"}, {"unmerged/cheap", "plain"}});
}

/// Each config's compile-time layer and the run-time configured layer set to
/// that config, over equal copies of one base and one set of tensors.
void run_time_cell(benchmark::State& st, Shape s, Index batch) {
  ShapeState& state = state_for(s);
  const Matrix X = Matrix::Random(s.in, batch);
  Matrix Y(s.out, batch);
  const std::vector<Row> rows = {
      {"lora", row_call([&] { state.lora.forward(X, Y); }, Y.data())},
      {"dynamic/lora", row_call([&] { state.lora_dynamic.forward(X, Y); }, Y.data())},
      {"full", row_call([&] { state.full.forward(X, Y); }, Y.data())},
      {"dynamic/full", row_call([&] { state.full_dynamic.forward(X, Y); }, Y.data())},
      {"cheap", row_call([&] { state.cheap.forward(X, Y); }, Y.data())},
      {"dynamic/cheap", row_call([&] { state.cheap_dynamic.forward(X, Y); }, Y.data())},
  };
  side_by_side(st, rows,
               {{"dynamic/lora", "lora"}, {"dynamic/full", "full"}, {"dynamic/cheap", "cheap"}});
}

template <typename Layer>
const Layer& layer_of(ShapeState& state) {
  if constexpr (std::is_same_v<Layer, Lora>) {
    return state.lora;
  } else if constexpr (std::is_same_v<Layer, Full>) {
    return state.full;
  } else {
    return state.cheap;
  }
}

/// The reference's way, timed on its own: one call of the larger shapes takes
/// up to a second, too long to alternate with the fast rows.
template <typename Layer>
void naive(benchmark::State& st, Shape s, Index batch) {
  const Layer& layer = layer_of<Layer>(state_for(s));
  const Matrix X = Matrix::Random(s.in, batch);
  Matrix Y(s.out, batch);
  const auto call = row_call([&] { naive_forward(layer, X, Y); }, Y.data());
  for (auto _ : st) call(0);
}

/// A plain copy of W0 and merge_into with LowRank-8 A and B, side by side.
void merge_cell(benchmark::State& st, Shape s) {
  const Matrix W0 = Matrix::Random(s.out, s.in);
  const auto layer = random_layer<Merging>(s);
  Matrix W(s.out, s.in);
  Vector b(s.out);
  const std::vector<Row> rows = {
      {"copy", row_call([&] { W = W0; }, W.data())},
      {"merge", row_call([&] { layer.merge_into(W, b); }, W.data())},
  };
  side_by_side(st, rows, {{"merge", "copy"}});
}

/// merge_cell over row-major weights: a copy of W0, and merge_into a row-major W.
void merge_rows_cell(benchmark::State& st, Shape s) {
  const RowMajorMatrix W0 = Matrix::Random(s.out, s.in);
  const auto layer = random_layer<Merging, RowMajorMatrix>(s);
  RowMajorMatrix W(s.out, s.in);
  Vector b(s.out);
  const std::vector<Row> rows = {
      {"copy", row_call([&] { W = W0; }, W.data())},
      {"merge", row_call([&] { layer.merge_into(W, b); }, W.data())},
  };
  side_by_side(st, rows, {{"merge", "copy"}});
}

void register_all() {
  const std::pair<const char*, void (*)(benchmark::State&, Shape, Index)> naive_rows[] = {
      {"lora", naive<Lora>}, {"full", naive<Full>}, {"cheap", naive<Cheap>}};
  for (const Shape& s : kShapes) {
    for (Index batch : kBatches) {
      const std::string cell = shape_name(s) + "/b" + std::to_string(batch);
      // A second per repetition gives the smaller shapes 5 (3072x768, batch 197) to
      // hundreds of turns. The 4096-row ones, whose rows take 4 to 500 ms a call, get
      // four seconds, twelve at batch 197 (0.8 and 2.2 s a turn), for at least five
      // (the counter `turns`).
      const double seconds = s.out < 4096 ? 1.0 : batch < 197 ? 4.0 : 12.0;
      add("forward/" + cell, forward_cell, s, batch)->MinTime(seconds)->UseRealTime();
      add("rows/" + cell, forward_rows_cell, s, batch)->MinTime(seconds)->UseRealTime();
      add("run_time/" + cell, run_time_cell, s, batch)->MinTime(seconds)->UseRealTime();
      for (const auto& [config, fn] : naive_rows) {
        add("naive/" + shape_name(s) + "/" + config + "/b" + std::to_string(batch), fn, s, batch)
            ->MinTime(0.1)
            ->UseRealTime();
      }
    }
  }
  const Shape big{4096, 4096};
  add("merge/" + shape_name(big), merge_cell, big)->MinTime(1.0)->UseRealTime();
  add("merge_rows/" + shape_name(big), merge_rows_cell, big)->MinTime(1.0)->UseRealTime();
}

const bool registered = (register_all(), true);

}  // namespace
