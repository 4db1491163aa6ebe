// The adapter bank's thread contract (include/glora/serving/adapter_bank.hpp):
// threads serve mixed batches while others replace, remove and add adapters,
// and every column must be the output of one published version of its key's
// adapter (never a mix of two versions), all columns of one key in a batch the
// same version, and no version older than one the same thread saw before.
//
// Each version's tensors encode its number: version v of a key is the key's
// random tensors times (1 + v), so a column computed from a mix of versions
// matches none. The expected outputs are the formula's (reference_formula.hpp).
//
// Bounded: the writers stop after a fixed number of versions, the readers a
// fixed number of batches after that. Built with ThreadSanitizer by
// `scripts/test --tsan` (the label tsan), which also reports any data race.
// ctest-labels: tsan
#include "reference_formula.hpp"

#include <glora/serving.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using glora_test::Index;
using glora_test::Real;
using glora_test::RealMatrix;
using T = double;
using Adapter = glora::Adapter<T, glora::LowRank<2>, glora::LowRank<2>, glora::Vector,
                               glora::Vector, glora::Scalar>;

constexpr Index kOut = 40, kIn = 32, kColumns = 24;
constexpr int kVersions = 30;
const std::vector<std::string> kReplaced = {"k0", "k1", "k2", "k3", "k4", "k5"};
const std::vector<std::string> kRemoved = {"r0", "r1"};  // removed, then added back

/// Version v of a key's adapter: its tensors times (1 + v).
Adapter version(const Adapter& first, int v) {
  Adapter a = first;
  glora::for_each_tensor([&](const char*, glora::Role, auto t) { t *= T(1 + v); }, a);
  return a;
}

/// Everything the threads share: the base, every version of every adapter,
/// and the formula's output of each on the columns of X.
struct World {
  glora::MatrixX<T> W0 = glora::MatrixX<T>(kOut, kIn);
  glora::VectorX<T> b0 = glora::VectorX<T>(kOut);
  glora::MatrixX<T> X = glora::MatrixX<T>(kIn, kColumns);
  std::map<std::string, std::vector<Adapter>> versions;
  std::map<std::string, std::vector<RealMatrix>> outputs;  // per key and version: kOut x kColumns
  RealMatrix base_output;

  World() {
    std::mt19937 rng(23);
    W0 = glora_test::random_matrix<T>(rng, kOut, kIn);
    b0 = glora_test::random_vector<T>(rng, kOut);
    X = glora_test::random_matrix<T>(rng, kIn, kColumns);
    const RealMatrix x = glora_test::to_real(X);
    const auto output = [&](const Adapter& a) {
      return glora_test::reference_layer(W0, &b0, a).forward(x);
    };
    base_output = output(Adapter(kOut, kIn));
    for (const auto* keys : {&kReplaced, &kRemoved}) {
      for (const std::string& key : *keys) {
        Adapter first(kOut, kIn);
        glora_test::fill_random(first, kOut, kIn, rng);
        for (int v = 0; v < kVersions; ++v) {
          versions[key].push_back(version(first, v));
          outputs[key].push_back(output(versions[key].back()));
        }
      }
    }
  }

  /// The version whose output column j is, or -1 for none.
  int version_of(const std::string& key, const glora::MatrixX<T>& Y, Index j) const {
    for (int v = 0; v < kVersions; ++v) {
      const RealMatrix& expected = outputs.at(key)[std::size_t(v)];
      const Real scale = expected.col(j).cwiseAbs().maxCoeff() + 1;
      if ((glora_test::to_real(Y.col(j)) - expected.col(j)).cwiseAbs().maxCoeff() < 1e-9L * scale) {
        return v;
      }
    }
    return -1;
  }
};

/// What a thread found wrong; checked by the main thread after the join
/// (Catch2's assertions are not for other threads).
struct Problems {
  std::mutex mutex;
  std::vector<std::string> list;
  void add(const std::string& problem) {
    std::lock_guard<std::mutex> lock(mutex);
    if (list.size() < 10) list.push_back(problem);
  }
};

/// Serves random mixed batches until the writers are done and `after` more
/// have run, checking each column.
void serve(const World& world, const glora::AdapterBank<Adapter>& bank,
           const std::atomic<int>& writers_left, unsigned seed, int after, Problems& problems,
           std::atomic<long>& batches) {
  std::mt19937 rng(seed);
  glora::BankWorkspace<T> workspace;
  std::vector<std::string> all = kReplaced;
  all.insert(all.end(), kRemoved.begin(), kRemoved.end());
  all.push_back("");                  // the base
  std::map<std::string, int> newest;  // per key, the newest version this thread has seen
  std::uniform_int_distribution<Index> columns(1, kColumns);
  std::uniform_int_distribution<std::size_t> pick(0, all.size() - 1);
  int left = after;
  while (writers_left.load() > 0 || left-- > 0) {
    const Index N = columns(rng);
    std::vector<std::string> keys;
    for (Index j = 0; j < N; ++j) keys.push_back(all[pick(rng)]);
    glora::MatrixX<T> Y(kOut, N);
    try {
      bank.forward(world.X.leftCols(N), keys, Y, workspace);
    } catch (const glora::unknown_adapter& e) {
      // Only the keys that are removed for a while may be missing.
      const std::string what = e.what();
      if (what.find("\"r0\"") == std::string::npos && what.find("\"r1\"") == std::string::npos) {
        problems.add(std::string("unexpected: ") + e.what());
      }
      continue;
    }
    ++batches;
    std::map<std::string, int> seen;  // this batch's version per key
    for (Index j = 0; j < N; ++j) {
      const std::string& key = keys[std::size_t(j)];
      if (key.empty()) {
        const Real scale = world.base_output.col(j).cwiseAbs().maxCoeff() + 1;
        if ((glora_test::to_real(Y.col(j)) - world.base_output.col(j)).cwiseAbs().maxCoeff() >=
            1e-9L * scale) {
          problems.add("a base column is not the frozen layer's output");
        }
        continue;
      }
      const int v = world.version_of(key, Y, j);
      if (v < 0) {
        problems.add("column " + std::to_string(j) + " of key " + key +
                     " matches no version: a mix of two, or a wrong result");
      } else if (seen.count(key) != 0 && seen[key] != v) {
        problems.add("one batch used versions " + std::to_string(seen[key]) + " and " +
                     std::to_string(v) + " of key " + key);
      } else if (v < newest[key]) {
        problems.add("key " + key + " went back from version " + std::to_string(newest[key]) +
                     " to " + std::to_string(v));
      } else {
        seen[key] = v;
        newest[key] = v;
      }
    }
  }
}

}  // namespace

TEST_CASE("forwards racing with replace, remove and add see whole adapter versions",
          "[serving][threads]") {
  const World world;
  glora::AdapterBank<Adapter> bank(world.W0, world.b0);
  for (const auto& [key, versions] : world.versions) bank.add(key, versions[0]);

  std::atomic<int> writers_left{2};
  std::atomic<long> batches{0};
  Problems problems;
  std::vector<std::thread> threads;
  for (unsigned r = 0; r < 3; ++r) {
    threads.emplace_back(
        [&, r] { serve(world, bank, writers_left, 100 + r, 50, problems, batches); });
  }
  // Replaces every replaced key with its next version, round after round.
  threads.emplace_back([&] {
    for (int v = 1; v < kVersions; ++v) {
      for (const std::string& key : kReplaced) {
        bank.replace(key, world.versions.at(key)[std::size_t(v)]);
        std::this_thread::yield();
      }
    }
    --writers_left;
  });
  // Removes each removed key and adds it back at its next version, while
  // reading the bank the other ways.
  threads.emplace_back([&] {
    for (int v = 1; v < kVersions; ++v) {
      for (const std::string& key : kRemoved) {
        if (!bank.remove(key)) problems.add("remove found no " + key);
        std::this_thread::yield();
        static_cast<void>(bank.memory());
        static_cast<void>(bank.keys());
        bank.add(key, world.versions.at(key)[std::size_t(v)]);
      }
      const auto found = bank.find("k0");
      const glora::Dense<T> merged = bank.merge("k1");
      if (!found || merged.weight.rows() != kOut) problems.add("find or merge failed");
    }
    --writers_left;
  });
  for (auto& t : threads) t.join();

  INFO(batches.load() << " batches served");
  CHECK(problems.list == std::vector<std::string>{});
  CHECK(batches.load() >= 150);
  // Every key ends at its last version.
  for (const auto& [key, versions] : world.versions) {
    const std::vector<std::string> keys(std::size_t(kColumns), key);
    const glora::MatrixX<T> Y = bank.forward(world.X, keys);
    for (Index j = 0; j < kColumns; ++j) CHECK(world.version_of(key, Y, j) == kVersions - 1);
  }
}
