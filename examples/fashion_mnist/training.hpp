#pragma once
// Minibatch training and evaluation.

#include "dataset.hpp"
#include "network.hpp"
#include "random.hpp"

#include <glora/optim.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

namespace fmnist {

struct Schedule {
  int steps;                // optimiser steps in total
  Eigen::Index batch_size;  // images per step (fewer if the set is smaller)
  float learning_rate;      // the peak, reached after the warm-up
  int warmup_steps;         // linear warm-up, then cosine decay to zero
  int report_every;         // progress every this many steps (0: at epoch ends only)
};

/// Running figures of the current epoch, handed to the progress callback.
struct Progress {
  int epoch;
  int step;  // steps done so far
  int steps;
  double loss;      // mean over the epoch's batches so far
  double accuracy;  // percent of the epoch's images so far, each judged before its update
  bool epoch_end;
};

/// Trains `net` on `data`: the data is reshuffled at every epoch and cut into
/// minibatches until s.steps steps are done. on_progress(Progress) is called
/// every s.report_every steps and at the end of every epoch.
template <typename Net, typename OnProgress>
void train_network(Net& net, const Dataset& data, const Schedule& s, Rng& rng,
                   OnProgress&& on_progress) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(data.size()));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  const auto batch = static_cast<std::size_t>(std::min(s.batch_size, data.size()));

  int step = 0;
  for (int epoch = 1; step < s.steps; ++epoch) {
    rng.shuffle(order);
    double loss_sum = 0.0;
    long correct = 0;
    long seen = 0;
    for (std::size_t begin = 0; begin < order.size() && step < s.steps; begin += batch) {
      const std::size_t end = std::min(begin + batch, order.size());
      const float lr = glora::cosine_schedule(step, s.steps, s.warmup_steps, s.learning_rate);
      const StepResult r =
          net.train_step(inputs(data, order, begin, end), labels(data, order, begin, end), lr);
      ++step;
      loss_sum += static_cast<double>(r.loss) * static_cast<double>(end - begin);
      correct += r.correct;
      seen += static_cast<long>(end - begin);

      const bool epoch_end = end == order.size() || step == s.steps;
      if (epoch_end || (s.report_every > 0 && step % s.report_every == 0)) {
        on_progress(Progress{epoch, step, s.steps, loss_sum / static_cast<double>(seen),
                             100.0 * static_cast<double>(correct) / static_cast<double>(seen),
                             epoch_end});
      }
    }
  }
}

/// Percent of `data` that `logits_of` (Matrix X -> Matrix logits) classifies
/// correctly. Batches of 1000 images keep the activations small.
template <typename LogitsOf>
double accuracy(const Dataset& data, LogitsOf&& logits_of) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(data.size()));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  long correct = 0;
  for (std::size_t begin = 0; begin < order.size(); begin += 1000) {
    const std::size_t end = std::min<std::size_t>(begin + 1000, order.size());
    correct +=
        count_correct(logits_of(inputs(data, order, begin, end)), labels(data, order, begin, end));
  }
  return 100.0 * static_cast<double>(correct) / static_cast<double>(data.size());
}

}  // namespace fmnist
