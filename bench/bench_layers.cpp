// Forward and merge timings of GLoRA layers against plain Eigen, single precision.
//
// The rows of one cell alternate call by call inside one benchmark and come out
// as its counters: each row's median microseconds per call, and the median over
// turns of the ratios the targets are stated in (`dense/plain`,
// `unmerged/<config>/dense`, `merge/copy`), each taken between the two rows'
// calls of one turn. forward/<shape>/b<batch> has plain, dense and
// unmerged/<config>; merge/<shape> has copy and merge. The naive rows are
// benchmarks of their own, naive/<shape>/<config>/b<batch>. bench/report.py
// turns one run's JSON into the tables.
//   plain     Y = W X + b written directly in Eigen (the baseline)
//   dense     Dense::forward of the merged layer
//   unmerged  Linear::forward with the adapter active
//   naive     the adapter's W and b evaluated in full on every call, then W X + b
//   copy      a plain copy of W0 (what merging cannot beat)
//   merge     Linear::merge_into with LowRank-8 A and B

#include <glora/glora.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

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

std::string shape_name(const Shape& s) {
  return std::to_string(s.out) + "x" + std::to_string(s.in);
}

/// Random values in [-1, 1) for every tensor, so that no term vanishes.
template <typename Layer>
Layer random_layer(const Shape& s) {
  Layer layer(Matrix::Random(s.out, s.in), Vector::Random(s.out));
  layer.adapter().for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); });
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
  // Any merged layer: the dense rows only need a W and a b. The plain row reads
  // the same W and b, so that where the two land in memory cannot tell them
  // apart (two copies of one matrix ran a GEMV 5% apart, either way, from run
  // to run); the warm-up of each row (see side_by_side) leaves neither the
  // other's cache.
  glora::Dense<T> merged;
  explicit ShapeState(const Shape& s)
      : lora(random_layer<Lora>(s)),
        full(random_layer<Full>(s)),
        cheap(random_layer<Cheap>(s)),
        merged(full.merge()) {}
};

ShapeState& state_for(const Shape& s) {
  static std::map<std::pair<Index, Index>, std::unique_ptr<ShapeState>> states;
  auto& state = states[{s.out, s.in}];
  if (!state) state = std::make_unique<ShapeState>(s);
  return *state;
}

/// One row of a side-by-side cell: a name and a call that does the row's work once.
struct Row {
  std::string name;
  std::function<void()> call;
};

/// A ratio between two rows of a cell, by their names.
struct Ratio {
  std::string numerator, denominator;
};

/// The middle element (the lower one of an even count); reorders v.
double median(std::vector<double>& v) {
  const auto middle = v.begin() + (v.size() - 1) / 2;
  std::nth_element(v.begin(), middle, v.end());
  return *middle;
}

/// Times the rows of one cell side by side. Every iteration (a turn) runs the
/// rows in a new random order, warming each up with a few untimed calls and
/// then timing one more call; the counters are each row's median time per call
/// in microseconds and, for each of `ratios`, the median over turns of the two
/// rows' ratio within a turn. Rows that alternate this way share whatever the
/// rest of a shared machine is doing, so their ratios hold where separate
/// benchmarks of one expression drift apart by 20%; pairing the calls of one
/// turn also cancels the drift from turn to turn, which a ratio of two separate
/// medians keeps. The order changes because it matters: of two rows on one
/// matrix, the second measured 6-8% faster at 768x768, however they were swapped.
///
/// The warm-up matters: on Zen 3, a weight matrix that fits in L3 needs a few
/// passes, after other matrices have run, before a pass over it reaches its
/// steady speed (after one pass the same GEMV measured up to 1.6x slower). It
/// stops after 3 calls or 2 ms, whichever comes first: a call that long is
/// either compute-bound or streams more than the cache holds.
void side_by_side(benchmark::State& st, const std::vector<Row>& rows,
                  const std::vector<Ratio>& ratios) {
  using Clock = std::chrono::steady_clock;
  constexpr int max_warm_calls = 3;
  constexpr std::chrono::milliseconds max_warm_time(2);
  std::vector<std::vector<double>> times(rows.size());
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::mt19937 shuffler(1);
  for (auto _ : st) {
    std::shuffle(order.begin(), order.end(), shuffler);
    for (const std::size_t r : order) {
      const auto warm_start = Clock::now();
      for (int i = 0; i < max_warm_calls && Clock::now() - warm_start < max_warm_time; ++i) {
        rows[r].call();
      }
      const auto start = Clock::now();
      rows[r].call();
      const auto stop = Clock::now();
      times[r].push_back(std::chrono::duration<double, std::micro>(stop - start).count());
    }
  }
  const auto times_of = [&](const std::string& name) -> const std::vector<double>& {
    const auto row =
        std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.name == name; });
    if (row == rows.end()) throw std::invalid_argument("side_by_side: no row named " + name);
    return times[std::size_t(row - rows.begin())];
  };
  for (const Ratio& q : ratios) {
    const auto& num = times_of(q.numerator);
    const auto& den = times_of(q.denominator);
    std::vector<double> turns(num.size());
    for (std::size_t i = 0; i < num.size(); ++i) turns[i] = num[i] / den[i];
    st.counters[q.numerator + "/" + q.denominator] = median(turns);
  }
  for (std::size_t r = 0; r < rows.size(); ++r) st.counters[rows[r].name] = median(times[r]);
}

/// A row's call: f(), then what keeps the compiler from dropping its result.
template <typename F>
std::function<void()> row_call(F f, const T* result) {
  return [f, result] {
    f();
    benchmark::DoNotOptimize(result);
    benchmark::ClobberMemory();
  };
}

/// The forward rows of one shape and batch: plain Eigen, Dense::forward and
/// the unmerged forward of each config, on the same X and Y.
void forward_cell(benchmark::State& st, Shape s, Index batch) {
  ShapeState& state = state_for(s);
  const Matrix X = Matrix::Random(s.in, batch);
  Matrix Y(s.out, batch);
  const Matrix& W = state.merged.weight;
  const Vector& b = state.merged.bias;
  const std::vector<Row> rows = {
      {"plain", row_call(
                    [&] {
                      Y.noalias() = W * X;
                      Y.colwise() += b;
                    },
                    Y.data())},
      {"dense", row_call([&] { state.merged.forward(X, Y); }, Y.data())},
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
  for (auto _ : st) call();
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

template <typename Fn, typename... Args>
benchmark::internal::Benchmark* add(const std::string& name, Fn fn, Args... args) {
  return benchmark::RegisterBenchmark(name.c_str(), fn, args...)
      ->Unit(benchmark::kMicrosecond)
      ->ComputeStatistics("min", [](const std::vector<double>& v) {
        return *std::min_element(v.begin(), v.end());
      });
}

void register_all() {
  const std::pair<const char*, void (*)(benchmark::State&, Shape, Index)> naive_rows[] = {
      {"lora", naive<Lora>}, {"full", naive<Full>}, {"cheap", naive<Cheap>}};
  for (const Shape& s : kShapes) {
    for (Index batch : kBatches) {
      const std::string cell = shape_name(s) + "/b" + std::to_string(batch);
      // A second per repetition: hundreds of turns for the small shapes, one for the
      // largest, whose rows take up to 0.4 s a call.
      add("forward/" + cell, forward_cell, s, batch)->MinTime(1.0)->UseRealTime();
      for (const auto& [config, fn] : naive_rows) {
        add("naive/" + shape_name(s) + "/" + config + "/b" + std::to_string(batch), fn, s, batch)
            ->MinTime(0.1)
            ->UseRealTime();
      }
    }
  }
  const Shape big{4096, 4096};
  add("merge/" + shape_name(big), merge_cell, big)->MinTime(1.0)->UseRealTime();
}

const bool registered = (register_all(), true);

}  // namespace
