#pragma once
// Side-by-side timing for Google Benchmark: the rows of one cell (ways to do the
// same work) take turns call by call inside one benchmark, and come out as its
// counters (each row's median time, paired ratios between rows). See
// side_by_side for why, and bench/README.md for the evidence.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace bench {

/// One row of a side-by-side cell: a name and a call that does the row's work
/// once, given the number of the turn (see side_by_side).
struct Row {
  std::string name;
  std::function<void(std::size_t turn)> call;
};

/// A ratio between two rows of a cell, by their names.
struct Ratio {
  std::string numerator, denominator;
};

/// The median (the mean of the two middle elements of an even count), NaN for
/// none; reorders v.
inline double median(std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const auto upper = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), upper, v.end());
  if (v.size() % 2 == 1) return *upper;
  return (*upper + *std::max_element(v.begin(), upper)) / 2;
}

/// Times the rows of one cell side by side. Every iteration (a turn) runs the
/// rows in a new random order (one sequence of orders across all repetitions
/// and cells, so that no repetition replays another's), warming each up with a
/// few calls and then timing one more call. The counters are `turns`, each
/// row's median time per call in microseconds and, for each of `ratios`, the
/// ratio of the two rows taken within each turn, then the geometric mean of
/// turns 0 and 1, 2 and 3, and so on (a row may alternate between two things
/// from one turn to the next, as bench_layers' plain and dense swap their
/// copies of W), then
/// the median of those. Rows that alternate this way share whatever the rest of
/// a shared machine is doing, so their ratios hold where separate benchmarks of
/// one expression drifted apart by up to 19%; taking the ratio within a turn
/// also cancels the drift from turn to turn, which a ratio of two separate
/// medians keeps. The order changes so that no row always runs after the same
/// one: in a fixed order, a row that followed another on the same matrix ran
/// 6-8% faster at 768x768.
///
/// The warm-up matters: on Zen 3, a weight matrix that fits in L3 needs a few
/// passes, after other matrices have run, before a pass over it reaches its
/// steady speed (after one pass the same GEMV measured up to 1.6x slower). It
/// starts no further call after 3 calls or 2 ms, whichever comes first: a call
/// that long is either compute-bound or streams more than the cache holds. A
/// row whose timed calls have all taken 50 ms or more (here a matrix of 64 MB
/// and up, far larger than the cache) gets no warm-up, so that its time goes to
/// more turns; and a warm-up call that takes 50 ms or more, the first one
/// included, is the turn's timed call.
inline void side_by_side(benchmark::State& st, const std::vector<Row>& rows,
                         const std::vector<Ratio>& ratios) {
  using Clock = std::chrono::steady_clock;
  constexpr int max_warm_calls = 3;
  constexpr std::chrono::milliseconds max_warm_time(2);
  constexpr double long_call_microseconds = 50'000;
  const auto index_of = [&](const std::string& name) {
    return std::size_t(
        std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.name == name; }) -
        rows.begin());
  };
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  for (const Ratio& q : ratios) {
    const std::size_t num = index_of(q.numerator), den = index_of(q.denominator);
    if (num == rows.size() || den == rows.size()) {
      st.SkipWithError(("no rows for the ratio " + q.numerator + "/" + q.denominator).c_str());
      return;
    }
    pairs.emplace_back(num, den);
  }
  static std::mt19937 shuffler(1);
  std::vector<std::vector<double>> times(rows.size());
  // Each row's fastest timed call so far: a row is warmed up until all its timed
  // calls took 50 ms or more, so that one call slowed down by the host does not
  // stop the warm-up of a fast row.
  std::vector<double> fastest(rows.size(), std::numeric_limits<double>::infinity());
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::size_t turn = 0;
  for (auto _ : st) {
    std::shuffle(order.begin(), order.end(), shuffler);
    for (const std::size_t r : order) {
      const auto timed_call = [&] {
        const auto start = Clock::now();
        rows[r].call(turn);
        return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      };
      double elapsed = -1;
      if (times[r].empty() || fastest[r] < long_call_microseconds) {
        const auto warm_start = Clock::now();
        for (int i = 0; i < max_warm_calls && Clock::now() - warm_start < max_warm_time; ++i) {
          const double warm_time = timed_call();
          if (warm_time >= long_call_microseconds) {
            elapsed = warm_time;
            break;
          }
        }
      }
      times[r].push_back(elapsed >= 0 ? elapsed : timed_call());
      fastest[r] = std::min(fastest[r], times[r].back());
    }
    ++turn;
  }
  st.counters["turns"] = double(turn);
  for (std::size_t q = 0; q < ratios.size(); ++q) {
    const auto& num = times[pairs[q].first];
    const auto& den = times[pairs[q].second];
    const auto ratio = [&](std::size_t t) { return num[t] / den[t]; };
    std::vector<double> pairs_of_turns;
    for (std::size_t t = 0; t + 1 < num.size(); t += 2) {
      pairs_of_turns.push_back(std::sqrt(ratio(t) * ratio(t + 1)));
    }
    // A single turn cannot cancel the two copies' difference; no cell runs so few.
    if (pairs_of_turns.empty() && !num.empty()) pairs_of_turns.push_back(ratio(0));
    st.counters[ratios[q].numerator + "/" + ratios[q].denominator] = median(pairs_of_turns);
  }
  for (std::size_t r = 0; r < rows.size(); ++r) st.counters[rows[r].name] = median(times[r]);
}

/// A row's call: f(turn), or f() for a row that does the same in every turn,
/// then what keeps the compiler from dropping its result.
template <typename F>
std::function<void(std::size_t)> row_call(F f, const void* result) {
  return [f, result](std::size_t turn) {
    if constexpr (std::is_invocable_v<F, std::size_t>) {
      f(turn);
    } else {
      f();
    }
    benchmark::DoNotOptimize(result);
    benchmark::ClobberMemory();
  };
}

/// Registers a benchmark timed in microseconds whose repetitions also report
/// their fastest ("min").
template <typename Fn, typename... Args>
benchmark::internal::Benchmark* add(const std::string& name, Fn fn, Args... args) {
  return benchmark::RegisterBenchmark(name.c_str(), fn, args...)
      ->Unit(benchmark::kMicrosecond)
      ->ComputeStatistics("min", [](const std::vector<double>& v) {
        return *std::min_element(v.begin(), v.end());
      });
}

}  // namespace bench
