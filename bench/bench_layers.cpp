// Forward and merge timings of GLoRA layers against plain Eigen, single precision.
//
// Benchmark names are <row>/<shape>[/<config>]/b<batch> for the forward rows and
// <row>/<shape>/r8 for merging; bench/report.py turns one run's JSON into ratios.
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
#include <map>
#include <memory>
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
/// about a gigabyte).
struct ShapeState {
  Lora lora;
  Full full;
  Cheap cheap;
  glora::Dense<T> merged;  // any merged layer: the dense rows only need a W and a b
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

/// Sets the byte and item counters: W0 is read once per call.
void count(benchmark::State& st, const Shape& s, Index batch) {
  st.SetItemsProcessed(st.iterations() * batch);
  st.SetBytesProcessed(st.iterations() * s.out * s.in * static_cast<Index>(sizeof(T)));
}

template <typename F>
void forward_loop(benchmark::State& st, const Shape& s, Index batch, F&& f) {
  const Matrix X = Matrix::Random(s.in, batch);
  Matrix Y(s.out, batch);
  f(X, Y);  // the first call sizes the workspaces
  for (auto _ : st) {
    f(X, Y);
    benchmark::DoNotOptimize(Y.data());
    benchmark::ClobberMemory();
  }
  count(st, s, batch);
}

void plain(benchmark::State& st, Shape s, Index batch) {
  const glora::Dense<T>& d = state_for(s).merged;
  const Matrix& W = d.weight;
  const Vector& b = d.bias;
  forward_loop(st, s, batch, [&](const Matrix& X, Matrix& Y) {
    Y.noalias() = W * X;
    Y.colwise() += b;
  });
}

void dense(benchmark::State& st, Shape s, Index batch) {
  const glora::Dense<T>& d = state_for(s).merged;
  forward_loop(st, s, batch, [&](const Matrix& X, Matrix& Y) { d.forward(X, Y); });
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

template <typename Layer>
void unmerged(benchmark::State& st, Shape s, Index batch) {
  const Layer& layer = layer_of<Layer>(state_for(s));
  forward_loop(st, s, batch, [&](const Matrix& X, Matrix& Y) { layer.forward(X, Y); });
}

template <typename Layer>
void naive(benchmark::State& st, Shape s, Index batch) {
  const Layer& layer = layer_of<Layer>(state_for(s));
  forward_loop(st, s, batch, [&](const Matrix& X, Matrix& Y) { naive_forward(layer, X, Y); });
}

/// Merging allocates its own layer so that the forward shapes stay cached.
void copy(benchmark::State& st, Shape s) {
  const Matrix W0 = Matrix::Random(s.out, s.in);
  Matrix W(s.out, s.in);
  for (auto _ : st) {
    W = W0;
    benchmark::DoNotOptimize(W.data());
    benchmark::ClobberMemory();
  }
  count(st, s, 1);
}

void merge(benchmark::State& st, Shape s) {
  const auto layer = random_layer<Merging>(s);
  Matrix W(s.out, s.in);
  Vector b(s.out);
  for (auto _ : st) {
    layer.merge_into(W, b);
    benchmark::DoNotOptimize(W.data());
    benchmark::ClobberMemory();
  }
  count(st, s, 1);
}

template <typename Fn, typename... Args>
void add(const std::string& name, Fn fn, Args... args) {
  benchmark::RegisterBenchmark(name.c_str(), fn, args...)
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.1)
      ->ComputeStatistics("min", [](const std::vector<double>& v) {
        return *std::min_element(v.begin(), v.end());
      });
}

void register_all() {
  const std::vector<std::pair<std::string, void (*)(benchmark::State&, Shape, Index)>> configs[] = {
      {{"lora", unmerged<Lora>}, {"full", unmerged<Full>}, {"cheap", unmerged<Cheap>}},
      {{"lora", naive<Lora>}, {"full", naive<Full>}, {"cheap", naive<Cheap>}}};
  const char* config_rows[] = {"unmerged", "naive"};
  for (const Shape& s : kShapes) {
    for (Index batch : kBatches) {
      const std::string cell = shape_name(s) + "/b" + std::to_string(batch);
      add("plain/" + cell, plain, s, batch);
      add("dense/" + cell, dense, s, batch);
      for (int row = 0; row < 2; ++row) {
        for (const auto& [config, fn] : configs[row]) {
          add(std::string(config_rows[row]) + "/" + shape_name(s) + "/" + config + "/b" +
                  std::to_string(batch),
              fn, s, batch);
        }
      }
    }
  }
  const Shape big{4096, 4096};
  add("copy/" + shape_name(big), copy, big);
  add("merge/" + shape_name(big) + "/r8", merge, big);
}

const bool registered = (register_all(), true);

}  // namespace
