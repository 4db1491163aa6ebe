#pragma once
// The reference's evolutionary search for one configuration per adapted layer
// (GLoRA's search, derived from AutoFormer's):
//
//   generation 0: random candidates within the parameter budget
//   each generation: score the new candidates (each candidate once, ever),
//     merge them into the best so far, then make the next generation:
//     mutations of the best `parents` (each slot of each layer redrawn with
//     probability mutation_probability), crossovers of two of them, and random
//     candidates to fill the population; a child that is over budget or was
//     already scored is drawn again, up to a bounded number of tries.
//
// The fitness (e.g. the supernet's validation accuracy with those
// configurations) is the caller's; higher is better.
//
// Where this differs from the reference, and why: random candidates are drawn
// a bounded number of times too (the reference loops forever when none fits
// the budget); no children are made after the last generation (the reference
// makes and scores a population that it never ranks); a generation is made
// whole before it is scored, which lets it be scored on several threads (the
// reference scores each child as it is drawn, but no draw depends on a score
// of its own generation, so the candidates are the same); the budget counts
// parameters, not millions of them.

#include <glora/config.hpp>
#include <glora/search/layers.hpp>
#include <glora/search/random.hpp>
#include <glora/search/space.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace glora {

/// How a crossover child takes its configurations from its two parents.
enum class Crossover {
  /// Each slot of each layer from either parent: what the reference's code does.
  per_slot,
  /// Each layer's whole configuration from either parent: as the paper describes it.
  per_layer,
};

/// The search's settings; the defaults are the reference's.
struct EvolutionSettings {
  /// Generations scored and ranked (reference: max_epochs = 20).
  int generations = 20;
  /// Candidates per generation (reference: population_num = 50).
  int population = 50;
  /// How many of the best candidates so far are parents (reference: select_num = 10).
  int parents = 10;
  /// Children by mutation per generation (reference: mutation_num = 25).
  int mutations = 25;
  /// The probability that a mutation redraws a slot of a layer (reference: m_prob = 0.2).
  double mutation_probability = 0.2;
  /// Children by crossover per generation (reference: crossover_num = 25).
  int crossovers = 25;
  /// How crossover mixes the parents (reference: per slot).
  Crossover crossover = Crossover::per_slot;
  /// Draws allowed per wanted mutation or crossover child; a draw over budget
  /// or already scored is lost (reference: max_iters = num * 10).
  int tries_per_child = 10;
  /// Draws allowed per wanted random candidate (the reference draws without
  /// limit, which never ends when no candidate fits the budget).
  int random_tries_per_candidate = 1000;
  /// How many of the best candidates the result keeps (reference: keep_top_k[50]).
  int keep = 50;
  /// The budget: a candidate is legal when its trainable parameters (the sum
  /// over the layers, see parameter_count) are within [min_parameters,
  /// max_parameters] (reference: [min_param_limits, param_limits] in millions).
  Eigen::Index min_parameters = 0;
  Eigen::Index max_parameters = std::numeric_limits<Eigen::Index>::max();
  /// Seeds every draw: one seed, one search (reference: --seed 1).
  std::uint64_t seed = 1;
  /// Threads that score a generation's candidates. More than 1 only when the
  /// fitness may be called from several threads at once; the result does not
  /// depend on it.
  int threads = 1;
  /// Where a line per generation goes (best fitness, its parameters, time
  /// taken); nullptr for silence.
  std::ostream* progress = &std::clog;
};

/// One configuration per layer, scored.
struct Candidate {
  std::vector<LayerConfig> configs;
  double fitness = 0;
  Eigen::Index parameters = 0;
};

/// What one generation did.
struct Generation {
  /// The candidates scored in this generation, in the order they were made:
  /// mutations, then crossovers, then random ones.
  std::vector<Candidate> candidates;
  int mutations = 0;
  int crossovers = 0;
  int randoms = 0;
  /// The fitness of the best `keep` candidates so far, best first (the
  /// reference's top_accuracies).
  std::vector<double> top_fitness;
  /// The best candidate so far.
  double best_fitness = 0;
  Eigen::Index best_parameters = 0;
  /// Wall-clock time to make and score the generation.
  double seconds = 0;
};

/// The outcome of a search.
struct EvolutionResult {
  /// The best `keep` candidates scored, best first; ties keep the order of scoring.
  std::vector<Candidate> best;
  /// One entry per generation.
  std::vector<Generation> history;
  /// How many times the fitness was called: once per candidate.
  std::size_t evaluations = 0;
};

/// The fitness of a candidate: configs[i] is layer i's configuration; higher is better.
using Fitness = std::function<double(const std::vector<LayerConfig>&)>;

namespace detail {

inline void check_setting(bool ok, const char* name, const std::string& value,
                          const std::string& expected) {
  if (!ok) {
    throw search_error(std::string("glora::evolve: ") + name + " is " + value + ", expected " +
                       expected);
  }
}

inline void check_settings(const EvolutionSettings& s) {
  const auto at_least = [](const char* name, int value, int least) {
    check_setting(value >= least, name, std::to_string(value), "at least " + std::to_string(least));
  };
  at_least("generations", s.generations, 1);
  at_least("population", s.population, 1);
  at_least("parents", s.parents, 1);
  at_least("mutations", s.mutations, 0);
  at_least("crossovers", s.crossovers, 0);
  at_least("tries_per_child", s.tries_per_child, 1);
  at_least("random_tries_per_candidate", s.random_tries_per_candidate, 1);
  at_least("keep", s.keep, 1);
  at_least("threads", s.threads, 1);
  check_setting(s.mutations <= s.population - s.crossovers, "mutations + crossovers",
                std::to_string(s.mutations) + " + " + std::to_string(s.crossovers),
                "at most the population (" + std::to_string(s.population) + ")");
  std::ostringstream probability;
  probability << s.mutation_probability;
  check_setting(s.mutation_probability >= 0 && s.mutation_probability <= 1, "mutation_probability",
                probability.str(), "within [0, 1]");
  check_setting(s.min_parameters >= 0, "min_parameters", std::to_string(s.min_parameters),
                "at least 0");
  check_setting(
      s.min_parameters <= s.max_parameters, "the budget",
      "[" + std::to_string(s.min_parameters) + ", " + std::to_string(s.max_parameters) + "]",
      "min_parameters <= max_parameters");
}

/// Calls fitness on each candidate; with threads > 1, on that many threads at
/// once, each result going to its own candidate, so the order of the calls
/// does not matter. The first failure by candidate order is rethrown.
inline void score(std::vector<Candidate>& batch, const Fitness& fitness, int threads) {
  const std::size_t n = batch.size();
  const std::size_t workers = std::min(static_cast<std::size_t>(threads), n);
  if (workers <= 1) {
    for (Candidate& c : batch) c.fitness = fitness(c.configs);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::exception_ptr> errors(n);
  const auto work = [&] {
    while (!failed.load()) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        batch[i].fitness = fitness(batch[i].configs);
      } catch (...) {
        errors[i] = std::current_exception();
        failed.store(true);
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  try {
    for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  } catch (...) {
    // A thread that could not start: stop the others before leaving.
    failed.store(true);
    for (std::thread& t : pool) t.join();
    throw;
  }
  work();
  for (std::thread& t : pool) t.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

/// One run of the search: the state the reference keeps in its searcher.
class Evolution {
 public:
  Evolution(const std::vector<SearchLayer>& layers, const Fitness& fitness,
            const EvolutionSettings& settings)
      : layers_(layers), fitness_(fitness), settings_(settings), rng_(settings.seed) {}

  EvolutionResult run() {
    check_budget_reachable();
    EvolutionResult result;
    for (int g = 0; g < settings_.generations; ++g) {
      const auto start = std::chrono::steady_clock::now();
      Generation generation;
      if (g > 0) {
        generation.mutations = add_children(generation.candidates, settings_.mutations,
                                            settings_.tries_per_child, &Evolution::mutant);
        generation.crossovers = add_children(generation.candidates, settings_.crossovers,
                                             settings_.tries_per_child, &Evolution::crossover);
      }
      const std::size_t wanted =
          static_cast<std::size_t>(settings_.population) - generation.candidates.size();
      generation.randoms = add_children(generation.candidates, static_cast<int>(wanted),
                                        settings_.random_tries_per_candidate, &Evolution::random);
      if (g == 0 && generation.candidates.empty()) throw_no_candidate_found(wanted);

      score(generation.candidates, fitness_, settings_.threads);
      check_fitness(generation.candidates, g);
      result.evaluations += generation.candidates.size();
      rank(generation.candidates);

      const std::size_t kept = std::min(ranked_.size(), static_cast<std::size_t>(settings_.keep));
      for (std::size_t i = 0; i < kept; ++i) generation.top_fitness.push_back(ranked_[i].fitness);
      generation.best_fitness = ranked_.front().fitness;
      generation.best_parameters = ranked_.front().parameters;
      generation.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      report(generation, g);
      result.history.push_back(std::move(generation));
    }
    const std::size_t kept = std::min(ranked_.size(), static_cast<std::size_t>(settings_.keep));
    result.best.assign(ranked_.begin(), ranked_.begin() + static_cast<std::ptrdiff_t>(kept));
    return result;
  }

 private:
  using Configs = std::vector<LayerConfig>;

  /// Fails early when the budget misses the whole range of candidates' sizes.
  void check_budget_reachable() const {
    const auto [fewest, most] = parameter_range();
    if (settings_.max_parameters < fewest || settings_.min_parameters > most) {
      throw search_error("glora::evolve: no candidate has between " + budget_text() +
                         " trainable parameters: the layers' configurations have from " +
                         std::to_string(fewest) + " to " + std::to_string(most));
    }
  }

  [[noreturn]] void throw_no_candidate_found(std::size_t wanted) const {
    const auto [fewest, most] = parameter_range();
    throw search_error(
        "glora::evolve: none of " +
        std::to_string(wanted * static_cast<std::size_t>(settings_.random_tries_per_candidate)) +
        " random candidates has between " + budget_text() +
        " trainable parameters (the layers' configurations have from " + std::to_string(fewest) +
        " to " + std::to_string(most) + "); widen the budget or raise random_tries_per_candidate");
  }

  std::pair<Eigen::Index, Eigen::Index> parameter_range() const {
    Eigen::Index fewest = 0, most = 0;
    for (const SearchLayer& layer : layers_) {
      fewest += layer.space.min_parameters(layer.out, layer.in);
      most += layer.space.max_parameters(layer.out, layer.in);
    }
    return {fewest, most};
  }

  std::string budget_text() const {
    return std::to_string(settings_.min_parameters) + " and " +
           std::to_string(settings_.max_parameters);
  }

  /// Draws candidates with `make` (into draft_) until `wanted` legal ones are
  /// added to `batch` or wanted * tries_per draws are spent; returns how many
  /// were added. Legal: within the budget and never drawn legal before (so
  /// never scored twice). A lost draw allocates nothing.
  int add_children(std::vector<Candidate>& batch, int wanted, int tries_per,
                   void (Evolution::*make)()) {
    int added = 0;
    auto tries = static_cast<std::int64_t>(wanted) * tries_per;
    while (added < wanted && tries > 0) {
      --tries;
      (this->*make)();
      const Eigen::Index parameters = parameter_count(layers_, draft_);
      if (parameters < settings_.min_parameters || parameters > settings_.max_parameters) continue;
      if (!visited_.insert(draft_).second) continue;
      batch.push_back(Candidate{draft_, 0, parameters});
      ++added;
    }
    return added;
  }

  const Candidate& parent() {
    const std::size_t n = std::min(ranked_.size(), static_cast<std::size_t>(settings_.parents));
    return ranked_[static_cast<std::size_t>(detail::uniform_index(rng_, n))];
  }

  void mutant() {
    Configs& configs = draft_;
    configs = parent().configs;
    for (std::size_t i = 0; i < configs.size(); ++i) {
      for (const Slot s : all_slots) {
        // One draw per slot whether or not it mutates, as the reference does.
        if (detail::uniform_unit(rng_) < settings_.mutation_probability) {
          configs[i][s] = layers_[i].space.sample(s, rng_);
        }
      }
    }
  }

  void crossover() {
    const Candidate& first = parent();
    const Candidate& second = parent();  // may be the same parent, as in the reference
    Configs& configs = draft_;
    configs = first.configs;
    for (std::size_t i = 0; i < configs.size(); ++i) {
      if (settings_.crossover == Crossover::per_layer) {
        if (detail::uniform_index(rng_, 2) == 1) configs[i] = second.configs[i];
        continue;
      }
      for (const Slot s : all_slots) {
        if (detail::uniform_index(rng_, 2) == 1) configs[i][s] = second.configs[i][s];
      }
    }
  }

  void random() { sample_configs(layers_, rng_, draft_); }

  static void check_fitness(const std::vector<Candidate>& batch, int generation) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (std::isnan(batch[i].fitness)) {
        throw search_error("glora::evolve: the fitness of candidate " + std::to_string(i) +
                           " of generation " + std::to_string(generation) +
                           " is NaN (it must be a number, higher is better)");
      }
    }
  }

  /// Merges the new candidates into the best so far: one list for both the
  /// reference's keep_top_k[select_num] (the parents) and keep_top_k[50] (the
  /// result), which are prefixes of one stable ranking.
  void rank(const std::vector<Candidate>& batch) {
    ranked_.insert(ranked_.end(), batch.begin(), batch.end());
    // Stable, as Python's sort with reverse=True: equal fitness keeps the order of scoring.
    std::stable_sort(ranked_.begin(), ranked_.end(),
                     [](const Candidate& x, const Candidate& y) { return x.fitness > y.fitness; });
    const auto limit = static_cast<std::size_t>(std::max(settings_.parents, settings_.keep));
    if (ranked_.size() > limit) ranked_.resize(limit);
  }

  void report(const Generation& g, int index) const {
    if (settings_.progress == nullptr) return;
    std::ostringstream line;
    line << "glora::evolve: generation " << index + 1 << "/" << settings_.generations
         << ": best fitness " << g.best_fitness << " with " << g.best_parameters
         << " parameters; scored " << g.candidates.size() << " (" << g.mutations << " mutations, "
         << g.crossovers << " crossovers, " << g.randoms << " random) in " << g.seconds << " s\n";
    *settings_.progress << line.str() << std::flush;
  }

  const std::vector<SearchLayer>& layers_;
  const Fitness& fitness_;
  const EvolutionSettings& settings_;
  std::mt19937_64 rng_;
  Configs draft_;                  // the candidate being drawn
  std::set<Configs> visited_;      // the reference's vis_dict: every candidate made legal
  std::vector<Candidate> ranked_;  // the best so far, best first
};

}  // namespace detail

/// Searches one configuration per layer (configs[i] from layers[i].space) that
/// maximises `fitness` among the candidates whose trainable parameters are
/// within the budget, by the reference's evolutionary search (see the
/// settings). Every candidate is scored once. One seed gives one result
/// (threads included) on every platform, given a deterministic fitness.
///
/// Throws search_error for a setting out of range, an empty list of layers,
/// an empty space or a non-positive shape (before any fitness call); for a
/// budget that no candidate meets (before any fitness call when it misses the
/// range of candidates' sizes altogether, else when no random candidate of
/// the first generation fits); and for a fitness that returns NaN. An
/// exception from the fitness propagates.
inline EvolutionResult evolve(const std::vector<SearchLayer>& layers, const Fitness& fitness,
                              const EvolutionSettings& settings = {}) {
  detail::check_layers("glora::evolve", layers);
  detail::check_settings(settings);
  if (!fitness) throw search_error("glora::evolve: the fitness is empty (no function given)");
  return detail::Evolution(layers, fitness, settings).run();
}

}  // namespace glora
