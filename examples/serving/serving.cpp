// A request stream over many adapters of one frozen layer: each request is one
// sample for a random adapter, and requests are served in batches of arrival
// order. Served two ways, on the same requests:
//   bank    one AdapterBank over the base: a batch mixes adapters and runs in
//           one pass over W0; memory W0 once plus the adapters
//   merged  a merged copy of W per adapter (as many as fit the memory budget),
//           one Dense::forward per request; memory one W per adapter
// Prints throughput, per-request latency percentiles (from the start of the
// request's batch to its output being written) and the memory of each. The
// two alternate batch by batch, so that a busy host slows both alike; the
// throughput is the batch size over the median batch time, which a stall of
// the process (it shows in the percentiles) does not move.
//
// Usage: glora_serving [--quick] [--out N] [--in N] [--adapters N] [--requests N]
//                      [--batch N] [--budget-mb N]

#include <glora/serving.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using T = float;
using Index = Eigen::Index;
using Clock = std::chrono::steady_clock;
// LoRA-style adapters with their own bias: rank-8 B, vector E.
using Tenant =
    glora::Adapter<T, glora::None, glora::LowRank<8>, glora::None, glora::None, glora::Vector>;

struct Options {
  Index out = 768, in = 768;
  int adapters = 300, requests = 4000, batch = 16;
  double budget_mb = 512;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return std::atof(argv[++i]);
    };
    if (arg == "--quick") {
      o.out = 256, o.in = 256, o.adapters = 40, o.requests = 400, o.batch = 8, o.budget_mb = 8;
    } else if (arg == "--out") {
      o.out = Index(value());
    } else if (arg == "--in") {
      o.in = Index(value());
    } else if (arg == "--adapters") {
      o.adapters = int(value());
    } else if (arg == "--requests") {
      o.requests = int(value());
    } else if (arg == "--batch") {
      o.batch = int(value());
    } else if (arg == "--budget-mb") {
      o.budget_mb = value();
    } else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      std::exit(2);
    }
  }
  return o;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

/// The q-quantile of `values` (sorts them).
double quantile(std::vector<double>& values, double q) {
  std::sort(values.begin(), values.end());
  return values[std::size_t(q * double(values.size() - 1))];
}

/// Prints the throughput and latency percentiles of one way of serving;
/// returns its requests per second.
double report(const char* name, int batch, std::vector<double> batch_s,
              std::vector<double> latency_s, double mb) {
  const double per_second = double(batch) / quantile(batch_s, 0.5);
  std::printf("%-7s %9.0f req/s   p50 %7.3f ms  p95 %7.3f ms  p99 %7.3f ms   %9.1f MB\n", name,
              per_second, 1e3 * quantile(latency_s, 0.5), 1e3 * quantile(latency_s, 0.95),
              1e3 * quantile(latency_s, 0.99), mb);
  return per_second;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const double mb = 1.0 / (1024.0 * 1024.0);
  std::mt19937 random(7);

  const glora::MatrixX<T> W0 = glora::MatrixX<T>::Random(o.out, o.in);
  const glora::VectorX<T> b0 = glora::VectorX<T>::Random(o.out);
  glora::AdapterBankView<Tenant> bank(W0, b0);  // views W0: the bank holds no copy
  std::vector<std::string> names;
  for (int a = 0; a < o.adapters; ++a) {
    Tenant adapter(o.out, o.in);
    adapter.for_each_tensor([](const char*, glora::Role, auto t) { t.setRandom(); });
    names.push_back("tenant-" + std::to_string(a));
    bank.add(names.back(), adapter);
  }

  // Merged copies, as many as the budget holds. Each request streams a whole
  // W from memory whichever copy it uses, so serving the stream over fewer
  // copies times it as all of them would.
  const double copy_mb = double(o.out * o.in + o.out) * sizeof(T) * mb;
  const int copies = std::max(1, std::min(o.adapters, int(o.budget_mb / copy_mb)));
  std::vector<glora::Dense<T>> merged;
  for (int a = 0; a < copies; ++a) merged.push_back(bank.merge(names[std::size_t(a)]));

  std::uniform_int_distribution<int> pick(0, o.adapters - 1);
  std::vector<int> adapter_of(std::size_t(o.requests));
  for (int& a : adapter_of) a = pick(random);
  const glora::MatrixX<T> requests = glora::MatrixX<T>::Random(o.in, o.requests);

  std::printf("layer %lld x %lld, %d adapters, %d requests in batches of %d, one thread\n",
              static_cast<long long>(o.out), static_cast<long long>(o.in), o.adapters, o.requests,
              o.batch);

  glora::BankWorkspace<T> workspace;
  glora::Workspace<T> dense_workspace;
  std::vector<std::string> keys;
  glora::MatrixX<T> Y_bank(o.out, o.batch), Y_merged(o.out, o.batch);
  std::vector<double> bank_latency, merged_latency, bank_batch, merged_batch;
  double worst = 0;
  // The first batch runs twice, untimed the first time: workspaces grow then.
  bool warm = true;
  for (int first = 0; first < o.requests; first += warm ? 0 : o.batch, warm = false) {
    const int n = std::min(o.batch, o.requests - first);
    const auto X = requests.middleCols(first, n);
    keys.clear();
    for (int j = 0; j < n; ++j) {
      keys.push_back(names[std::size_t(adapter_of[std::size_t(first + j)])]);
    }

    const Clock::time_point bank_start = Clock::now();
    bank.forward(X, keys, Y_bank.leftCols(n), workspace);
    const double bank_time = seconds(Clock::now() - bank_start);

    const Clock::time_point merged_start = Clock::now();
    for (int j = 0; j < n; ++j) {
      const int copy = adapter_of[std::size_t(first + j)] % copies;
      merged[std::size_t(copy)].forward(X.col(j), Y_merged.col(j), dense_workspace);
      if (!warm) merged_latency.push_back(seconds(Clock::now() - merged_start));
    }
    const double merged_time = seconds(Clock::now() - merged_start);
    if (warm) continue;
    bank_batch.push_back(bank_time);
    merged_batch.push_back(merged_time);
    bank_latency.insert(bank_latency.end(), std::size_t(n), bank_time);

    // The two agree wherever a request's adapter has its own copy.
    for (int j = 0; j < n; ++j) {
      if (adapter_of[std::size_t(first + j)] >= copies) continue;
      worst = std::max(worst, double((Y_bank.col(j) - Y_merged.col(j)).cwiseAbs().maxCoeff()));
    }
  }

  const glora::BankMemory memory = bank.memory();
  const double bank_rate =
      report("bank", o.batch, bank_batch, bank_latency, double(memory.total()) * mb);
  const double merged_rate =
      report("merged", o.batch, merged_batch, merged_latency, copy_mb * o.adapters);
  if (copies < o.adapters) {
    std::printf("(merged: %d of %d copies fit the %.0f MB budget; the memory is for all %d)\n",
                copies, o.adapters, o.budget_mb, o.adapters);
  }
  std::printf("bank: base %.1f MB + adapters %.1f MB; throughput bank / merged = %.2fx\n",
              double(memory.base) * mb, double(memory.adapters) * mb, bank_rate / merged_rate);
  std::printf("max |bank - merged| = %g\n", worst);
  return worst < 1e-3 ? 0 : 1;
}
