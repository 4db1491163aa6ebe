// Serving many adapters over one frozen base, single precision: a batch whose
// columns each belong to another adapter, through the adapter bank, against
// what a server without the bank does. Rows of one cell alternate call by call
// (side_by_side.hpp); the counters are each row's median microseconds per call
// and the paired ratios.
//
// serve/<shape>/<config>/b<batch>, the batch spread over 16 adapters:
//   bank     AdapterBank::forward of the mixed batch: one pass over W0
//   single   Linear::forward of the same batch through one adapter (what the
//            bank would cost if every column had the same adapter)
//   merged   one batch-1 Dense::forward per column, each through its
//            adapter's own merged copy of W (16 copies: 16 times the memory)
//   dense    one Dense::forward of the whole batch through one merged copy
//            (a server with a single model)
// peft/<shape>/<config>/b<batch>, a benchmark of its own (calls of up to a
// second): W0 + W0 ⊙ A + B formed for every adapter of the batch and
// multiplied into its columns, as Hugging Face PEFT's GLoRA runs a mixed batch.
// configs: lora = LowRank-8 B; full = LowRank-4 A, B and C, Vector D and E.

#include "side_by_side.hpp"

#include <glora/serving.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <map>
#include <memory>
#include <string>
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
using Lora = glora::Adapter<T, glora::None, glora::LowRank<8>>;
using Full = glora::Adapter<T, glora::LowRank<4>, glora::LowRank<4>, glora::LowRank<4>,
                            glora::Vector, glora::Vector>;

constexpr int kAdapters = 16;

struct Shape {
  Index out, in;
};
std::string shape_name(const Shape& s) {
  return std::to_string(s.out) + "x" + std::to_string(s.in);
}

/// A bank of 16 random adapters of one config over one base, the same
/// adapters in Linear layers (each owning a copy of W0, which only `single`
/// reads) and merged (16 full copies of W).
template <typename Adapter>
struct Served {
  std::vector<std::string> keys;
  std::unique_ptr<glora::AdapterBank<Adapter>> bank;
  std::vector<glora::Dense<T>> merged;
  std::vector<Adapter> adapters;

  explicit Served(const Shape& s) {
    const Matrix W0 = Matrix::Random(s.out, s.in);
    const Vector b0 = Vector::Random(s.out);
    bank = std::make_unique<glora::AdapterBank<Adapter>>(W0, b0);
    for (int a = 0; a < kAdapters; ++a) {
      Adapter adapter(s.out, s.in);
      adapter.for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); });
      keys.push_back("tenant-" + std::to_string(a));
      bank->add(keys.back(), adapter);
      merged.push_back(bank->merge(keys.back()));
      adapters.push_back(std::move(adapter));
    }
  }
};

template <typename Adapter>
Served<Adapter>& served(const Shape& s) {
  static std::map<std::pair<Index, Index>, std::unique_ptr<Served<Adapter>>> all;
  auto& one = all[{s.out, s.in}];
  if (!one) one = std::make_unique<Served<Adapter>>(s);
  return *one;
}

/// The Linear layer of an adapter type.
template <typename Adapter>
struct LayerOf;
template <typename TT, typename KA, typename KB, typename KC, typename KD, typename KE>
struct LayerOf<glora::Adapter<TT, KA, KB, KC, KD, KE>> {
  using type = glora::Linear<TT, KA, KB, KC, KD, KE>;
};

template <typename Adapter>
void serve_cell(benchmark::State& st, Shape s, Index batch) {
  Served<Adapter>& sv = served<Adapter>(s);
  // Column j belongs to adapter j mod 16.
  std::vector<std::string> keys;
  for (Index j = 0; j < batch; ++j) keys.push_back(sv.keys[std::size_t(j % kAdapters)]);
  typename LayerOf<Adapter>::type single(Matrix(sv.bank->weight()), Vector(sv.bank->bias()));
  single.adapter() = sv.adapters[0];
  const Matrix X = Matrix::Random(s.in, batch);
  Matrix Y(s.out, batch);
  glora::BankWorkspace<T> workspace;
  const std::vector<Row> rows = {
      {"bank", row_call([&] { sv.bank->forward(X, keys, Y, workspace); }, Y.data())},
      {"single", row_call([&] { single.forward(X, Y); }, Y.data())},
      {"merged", row_call(
                     [&] {
                       for (Index j = 0; j < batch; ++j) {
                         sv.merged[std::size_t(j % kAdapters)].forward(X.col(j), Y.col(j));
                       }
                     },
                     Y.data())},
      {"dense", row_call([&] { sv.merged[0].forward(X, Y); }, Y.data())},
  };
  side_by_side(st, rows, {{"bank", "single"}, {"bank", "merged"}, {"bank", "dense"}});
}

/// PEFT's way: per adapter of the batch, W = W0 + W0 ⊙ A + B and b formed in
/// full, then its columns multiplied.
template <typename Adapter>
void peft(benchmark::State& st, Shape s, Index batch) {
  Served<Adapter>& sv = served<Adapter>(s);
  const Matrix X = Matrix::Random(s.in, batch);
  Matrix Y(s.out, batch);
  glora::Dense<T> W;
  for (auto _ : st) {
    for (int a = 0; a < kAdapters && a < batch; ++a) {
      W = sv.bank->merge(sv.keys[std::size_t(a)]);  // forms W and b in full
      for (Index j = a; j < batch; j += kAdapters) {
        Y.col(j).noalias() = W.weight * X.col(j) + W.bias;
      }
    }
    benchmark::DoNotOptimize(Y.data());
    benchmark::ClobberMemory();
  }
}

void register_all() {
  const Shape shapes[] = {{768, 768}, {4096, 4096}};
  for (const Shape& s : shapes) {
    for (const Index batch : {Index(16), Index(64)}) {
      const std::string cell = shape_name(s) + "/";
      const std::string b = "/b" + std::to_string(batch);
      const double seconds = s.out < 4096 ? 1.0 : 6.0;
      add("serve/" + cell + "lora" + b, serve_cell<Lora>, s, batch)
          ->MinTime(seconds)
          ->UseRealTime();
      add("serve/" + cell + "full" + b, serve_cell<Full>, s, batch)
          ->MinTime(seconds)
          ->UseRealTime();
      if (batch == 16) {
        add("peft/" + cell + "full" + b, peft<Full>, s, batch)->MinTime(0.5)->UseRealTime();
      }
    }
  }
}

const bool registered = (register_all(), true);

}  // namespace
