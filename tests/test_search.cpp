// Search spaces, supernet sampling and the evolutionary search, checked
// against what is computed here independently: the reference's nested loops
// of choices, the spec's parameter rule, chi-square statistics of the draws,
// and the best candidate under a budget found by dynamic programming.
#include <glora/dynamic_adapter.hpp>
#include <glora/search.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using glora::Choice;
using glora::LayerConfig;
using glora::SearchLayer;
using glora::SearchSpace;
using glora::Slot;
using Configs = std::vector<LayerConfig>;

std::vector<std::string> spelled(const std::vector<Choice>& choices) {
  std::vector<std::string> names;
  for (const Choice c : choices) names.push_back(glora::to_string(c));
  return names;
}

// The reference's configurations for the given LoRA choices, in the order of
// its nested loops (A outermost, E innermost), as dict texts.
std::vector<std::string> nested_loop_texts(const std::vector<std::string>& loras) {
  std::vector<std::string> a_b = loras, c = loras;
  a_b.insert(a_b.end(), {"vector", "constant", "none"});
  c.insert(c.end(), {"vector", "none"});
  const std::vector<std::string> d_e = {"constant", "none", "vector"};
  std::vector<std::string> all;
  for (const auto& A : a_b) {
    for (const auto& B : a_b) {
      for (const auto& C : c) {
        for (const auto& D : d_e) {
          for (const auto& E : d_e) {
            all.push_back("{\"A\": \"" + A + "\", \"B\": \"" + B + "\", \"C\": \"" + C +
                          "\", \"D\": \"" + D + "\", \"E\": \"" + E + "\"}");
          }
        }
      }
    }
  }
  return all;
}

// The spec's trainable parameters of one slot of an m x n layer.
long spec_count(Slot s, Choice c, long m, long n) {
  switch (c.kind) {
    case glora::Kind::none: return 0;
    case glora::Kind::scalar: return 1;
    case glora::Kind::vector: return s == Slot::C ? n : m;
    case glora::Kind::low_rank: return c.rank * (s == Slot::C ? n + 1 : m + n);
  }
  return -1;
}

long spec_count(const LayerConfig& config, long m, long n) {
  long total = 0;
  for (const Slot s : glora::all_slots) total += spec_count(s, config[s], m, n);
  return total;
}

long spec_count(const std::vector<SearchLayer>& layers, const Configs& configs) {
  long total = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    total += spec_count(configs[i], layers[i].out, layers[i].in);
  }
  return total;
}

// Pearson's chi-square statistic of counts against a uniform expectation.
double chi_square(const std::vector<long>& counts, long draws) {
  const double expected = static_cast<double>(draws) / static_cast<double>(counts.size());
  double chi2 = 0;
  for (const long c : counts) {
    const double d = static_cast<double>(c) - expected;
    chi2 += d * d;
  }
  return chi2 / expected;
}

// A chi-square statistic with `df` degrees of freedom lies within 6 standard
// deviations (sqrt(2 df)) of its mean df unless the draws are far from uniform.
void check_uniform(const std::vector<long>& counts, long draws) {
  const double df = static_cast<double>(counts.size() - 1);
  const double chi2 = chi_square(counts, draws);
  INFO("chi-square " << chi2 << " with " << df << " degrees of freedom");
  CHECK(std::abs(chi2 - df) < 6 * std::sqrt(2 * df));
}

std::size_t index_of(const std::vector<LayerConfig>& all, const LayerConfig& config) {
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i] == config) return i;
  }
  return all.size();
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Spaces

TEST_CASE("the reference's space: choices in its order, 432 configurations in its loop order",
          "[space]") {
  const SearchSpace space = SearchSpace::reference(4);
  using V = std::vector<std::string>;
  CHECK(spelled(space.choices(Slot::A)) == V{"LoRA_4", "vector", "constant", "none"});
  CHECK(spelled(space.choices(Slot::B)) == V{"LoRA_4", "vector", "constant", "none"});
  CHECK(spelled(space.choices(Slot::C)) == V{"LoRA_4", "vector", "none"});
  CHECK(spelled(space.choices(Slot::D)) == V{"constant", "none", "vector"});
  CHECK(spelled(space.choices(Slot::E)) == V{"constant", "none", "vector"});
  CHECK(space.size() == 432);
  CHECK_FALSE(space.empty());

  const std::vector<std::string> expected = nested_loop_texts({"LoRA_4"});
  const std::vector<LayerConfig> all = space.enumerate();
  REQUIRE(all.size() == expected.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(glora::to_string(all[i]) == expected[i]);
    CHECK(space.at(i) == all[i]);
    CHECK(space.contains(all[i]));
  }
  CHECK(SearchSpace::reference({4}) == space);
}

TEST_CASE("several ranks at once: each offered where the reference offers its LoRA_r", "[space]") {
  for (const std::vector<int>& ranks :
       {std::vector<int>{8, 4}, std::vector<int>{4, 2}, std::vector<int>{2}, {16, 8, 1}}) {
    const SearchSpace space = SearchSpace::reference(ranks);
    std::vector<std::string> loras;
    for (const int r : ranks) loras.push_back("LoRA_" + std::to_string(r));
    const std::size_t k = ranks.size();
    // A and B: k ranks + vector, constant, none; C: k ranks + vector, none; D, E: 3 each.
    CHECK(space.size() == (k + 3) * (k + 3) * (k + 2) * 3 * 3);

    const std::vector<std::string> expected = nested_loop_texts(loras);
    const std::vector<LayerConfig> all = space.enumerate();
    REQUIRE(all.size() == expected.size());
    std::set<LayerConfig> distinct;
    for (std::size_t i = 0; i < all.size(); ++i) {
      CHECK(glora::to_string(all[i]) == expected[i]);
      CHECK_NOTHROW(glora::validate(all[i]));
      distinct.insert(all[i]);
    }
    CHECK(distinct.size() == all.size());
  }
  CHECK(SearchSpace::reference({8, 4}).size() == 900);
  CHECK(SearchSpace::reference({2}).size() == 432);
}

TEST_CASE("contains: only the space's own choices", "[space]") {
  const SearchSpace space = SearchSpace::reference({8, 4});
  LayerConfig config{Choice::low_rank(8), Choice::low_rank(4), Choice::vector(), Choice::none(),
                     Choice::scalar()};
  CHECK(space.contains(config));
  config.A = Choice::low_rank(2);
  CHECK_FALSE(space.contains(config));
  config.A = Choice::none();
  config.C = Choice::scalar();  // allowed in C, but not in the reference's space
  CHECK_FALSE(space.contains(config));
  CHECK_FALSE(SearchSpace::reference(4).contains(LayerConfig{
      Choice::low_rank(8), Choice::none(), Choice::none(), Choice::none(), Choice::none()}));
}

TEST_CASE("capacity: a DynamicAdapter of that size holds every configuration", "[space]") {
  const SearchSpace custom({Choice::vector(), Choice::scalar()}, {Choice::none()},
                           {Choice::scalar(), Choice::none()}, {Choice::scalar(), Choice::none()},
                           {Choice::vector()});
  CHECK(glora::to_string(SearchSpace::reference(4).capacity()) ==
        R"({"A": "LoRA_4", "B": "LoRA_4", "C": "LoRA_4", "D": "vector", "E": "vector"})");
  CHECK(glora::to_string(SearchSpace::reference({2, 8, 4}).capacity()) ==
        R"({"A": "LoRA_8", "B": "LoRA_8", "C": "LoRA_8", "D": "vector", "E": "vector"})");
  CHECK(glora::to_string(custom.capacity()) ==
        R"({"A": "vector", "B": "none", "C": "constant", "D": "constant", "E": "vector"})");

  const Eigen::Index out = 5, in = 3;
  for (const SearchSpace& space : {SearchSpace::reference({2, 8, 4}), custom}) {
    glora::DynamicAdapter<double> adapter(space.capacity(), out, in);
    for (const LayerConfig& config : space.enumerate()) {
      adapter.config = config;
      CHECK_NOTHROW(adapter.check("test", "", out, in));
    }
  }
  // The check can fail: rank 8 does not fit in a rank-4 capacity.
  glora::DynamicAdapter<double> small(SearchSpace::reference(4).capacity(), out, in);
  small.config.B = Choice::low_rank(8);
  CHECK_THROWS_AS(small.check("test", "", out, in), glora::shape_error);
}

TEST_CASE("the fewest and most parameters of a space, against every configuration", "[space]") {
  for (const SearchSpace& space :
       {SearchSpace::reference(4), SearchSpace::reference({8, 2}),
        SearchSpace({Choice::vector(), Choice::scalar()}, {Choice::low_rank(3)},
                    {Choice::scalar(), Choice::vector()}, {Choice::none()}, {Choice::vector()})}) {
    for (const auto& [m, n] : {std::pair<long, long>{7, 5}, {1, 9}, {768, 3072}}) {
      long fewest = std::numeric_limits<long>::max(), most = 0;
      for (const LayerConfig& config : space.enumerate()) {
        fewest = std::min(fewest, spec_count(config, m, n));
        most = std::max(most, spec_count(config, m, n));
      }
      CHECK(space.min_parameters(m, n) == fewest);
      CHECK(space.max_parameters(m, n) == most);
    }
  }
}

TEST_CASE("a space refuses what it cannot hold", "[space]") {
  CHECK_THROWS_AS(SearchSpace::reference(0), glora::config_error);
  CHECK_THROWS_WITH(SearchSpace::reference(0),
                    "glora::SearchSpace::reference: the LoRA rank 0 must be positive");
  CHECK_THROWS_WITH(SearchSpace::reference(std::vector<int>{}),
                    "glora::SearchSpace::reference: no LoRA rank given (it needs at least one)");
  CHECK_THROWS_WITH(SearchSpace::reference({4, 2, 4}),
                    "glora::SearchSpace::reference: the LoRA rank 4 is given twice");
  const std::vector<Choice> one = {Choice::none()};
  CHECK_THROWS_WITH(
      SearchSpace({Choice::none(), Choice::vector(), Choice::none()}, one, one, one, one),
      "glora::SearchSpace: slot A lists none twice (choices 0 and 2)");
  CHECK_THROWS_WITH(SearchSpace(one, one, {}, one, one),
                    "glora::SearchSpace: slot C has no choices (it needs at least one)");
  CHECK_THROWS_WITH(SearchSpace(one, one, one, {Choice::none(), Choice::low_rank(2)}, one),
                    "glora::SearchSpace: slot D cannot be LoRA_2 (it takes vector, constant or "
                    "none)");
  CHECK_THROWS_WITH(SearchSpace({Choice::low_rank(-1)}, one, one, one, one),
                    "glora::SearchSpace: slot A: the rank of LoRA_-1 must be positive");
  CHECK_THROWS_AS(SearchSpace::reference(4).at(432), glora::search_error);
  CHECK_THROWS_WITH(SearchSpace::reference(4).at(432),
                    "glora::SearchSpace::at: index 432 is out of range (the space has 432 "
                    "configurations)");

  const SearchSpace empty;
  CHECK(empty.empty());
  CHECK(empty.size() == 0);
  CHECK(empty.enumerate().empty());
  CHECK_FALSE(empty.contains(LayerConfig{}));
  std::mt19937_64 rng(1);
  CHECK_THROWS_WITH(empty.sample(rng),
                    "glora::SearchSpace::sample: the space is empty (a "
                    "default-constructed SearchSpace has no choices)");
  CHECK_THROWS_WITH(empty.capacity(),
                    "glora::SearchSpace::capacity: the space is empty (a "
                    "default-constructed SearchSpace has no choices)");
  CHECK_THROWS_WITH(empty.max_parameters(2, 2),
                    "glora::SearchSpace::max_parameters: the space is empty (a "
                    "default-constructed SearchSpace has no choices)");
}

// ------------------------------------------------------------------------------------------------
// Draws

TEST_CASE("uniform_index: multiples of n only, the surplus redrawn", "[sampling]") {
  // n = 2^63 + 1: the surplus 2^64 mod n = 2^63 - 1 covers half the engine's outputs.
  const std::uint64_t n = (std::uint64_t{1} << 63) + 1;
  const std::uint64_t surplus = (std::uint64_t{1} << 63) - 1;
  std::mt19937_64 rng(7), raw(7);
  int redrawn = 0;
  for (int i = 0; i < 200; ++i) {
    std::uint64_t x = raw();
    while (x < surplus) {
      x = raw();
      ++redrawn;
    }
    CHECK(glora::detail::uniform_index(rng, n) == (x >= n ? x - n : x));
  }
  CHECK(redrawn > 50);
  CHECK(rng() == raw());  // both used the same number of outputs

  std::mt19937_64 unit(3), unit_raw(3);
  for (int i = 0; i < 100; ++i) {
    const double u = glora::detail::uniform_unit(unit);
    CHECK(u == static_cast<double>(unit_raw() >> 11) / 9007199254740992.0);  // 2^53
  }
}

TEST_CASE("sample: one engine output per configuration, the same on every platform", "[sampling]") {
  // std::mt19937_64's outputs are fixed by the standard; an output maps to
  // configuration x mod 432 of the reference's loop order (the redraw of the
  // 2^64 mod 432 lowest outputs has probability 2e-17 and does not occur here).
  const SearchSpace space = SearchSpace::reference(4);
  const std::vector<std::string> texts = nested_loop_texts({"LoRA_4"});
  std::mt19937_64 rng(12345), raw(12345);
  for (int i = 0; i < 1000; ++i) {
    CHECK(glora::to_string(space.sample(rng)) == texts[raw() % 432]);
  }
  // The 10000th output of a default-seeded std::mt19937_64, as the standard states it.
  std::mt19937_64 standard;
  standard.discard(9999);
  CHECK(standard() == 9981545732273789042ull);
}

TEST_CASE("sample is uniform over the space, and per slot over the slot's choices", "[sampling]") {
  const SearchSpace space = SearchSpace::reference(4);
  const std::vector<LayerConfig> all = space.enumerate();
  std::map<LayerConfig, std::size_t> index;
  for (std::size_t i = 0; i < all.size(); ++i) index[all[i]] = i;

  std::mt19937_64 rng(2024);
  const long draws = 432 * 100;
  std::vector<long> counts(all.size(), 0);
  for (long i = 0; i < draws; ++i) ++counts[index.at(space.sample(rng))];
  check_uniform(counts, draws);

  for (const Slot s : glora::all_slots) {
    const std::vector<Choice>& choices = space.choices(s);
    std::vector<long> per_choice(choices.size(), 0);
    const long slot_draws = 30000;
    for (long i = 0; i < slot_draws; ++i) {
      const Choice c = space.sample(s, rng);
      ++per_choice[static_cast<std::size_t>(std::find(choices.begin(), choices.end(), c) -
                                            choices.begin())];
    }
    check_uniform(per_choice, slot_draws);
  }
}

TEST_CASE("sample_configs: one draw per layer from its own space, reproducible", "[sampling]") {
  const SearchSpace small({Choice::low_rank(2), Choice::none()}, {Choice::vector()},
                          {Choice::none()}, {Choice::scalar(), Choice::vector()}, {Choice::none()});
  const std::vector<SearchLayer> layers = {
      {SearchSpace::reference(8), 16, 8}, {small, 4, 4}, {SearchSpace::reference({4, 2}), 8, 16}};

  std::mt19937_64 rng(5);
  Configs configs;
  glora::sample_configs(layers, rng, configs);
  const LayerConfig* storage = configs.data();
  const std::vector<LayerConfig> small_all = small.enumerate();
  const long steps = 4000;
  std::vector<long> small_counts(small_all.size(), 0);
  for (long step = 0; step < steps; ++step) {
    glora::sample_configs(layers, rng, configs);
    REQUIRE(configs.size() == 3);
    CHECK(configs.data() == storage);  // the buffer is reused, nothing allocated
    CHECK(glora::contains(layers, configs));
    ++small_counts[index_of(small_all, configs[1])];
  }
  check_uniform(small_counts, steps);

  // One seed, one sequence.
  std::mt19937_64 first(99), second(99);
  for (int step = 0; step < 20; ++step) {
    CHECK(glora::sample_configs(layers, first) == glora::sample_configs(layers, second));
  }

  CHECK_THROWS_WITH(glora::sample_configs({}, rng), "glora::sample_configs: no layers given");
  CHECK_THROWS_WITH(glora::sample_configs({layers[0], SearchLayer{}}, rng),
                    "glora::sample_configs: layer 1 has an empty search space");
  CHECK_THROWS_WITH(glora::sample_configs({SearchLayer{small, 0, 3}}, rng),
                    "glora::sample_configs: layer 0 is 0 x 3, expected a positive out x in");
}

TEST_CASE("the parameters of a candidate: the sum over its layers", "[sampling]") {
  const std::vector<SearchLayer> layers = {{SearchSpace::reference(4), 6, 4},
                                           {SearchSpace::reference(2), 3, 5}};
  std::mt19937_64 rng(8);
  for (int i = 0; i < 100; ++i) {
    const Configs configs = glora::sample_configs(layers, rng);
    CHECK(glora::parameter_count(layers, configs) == spec_count(layers, configs));
  }
  CHECK_FALSE(glora::contains(layers, Configs(1)));
  CHECK_THROWS_WITH(glora::parameter_count(layers, Configs(3)),
                    "glora::parameter_count: 3 configurations for 2 layers (one per layer "
                    "expected)");
}

// ------------------------------------------------------------------------------------------------
// The evolutionary search

namespace {

// Three layers, three spaces: 432 * 900 * 432 candidates.
std::vector<SearchLayer> three_layers() {
  return {{SearchSpace::reference(4), 6, 4},
          {SearchSpace::reference({2, 1}), 3, 5},
          {SearchSpace::reference(2), 4, 4}};
}

// A separable fitness: each layer's each slot adds its parameters plus a fixed
// pseudo-random integer in [-20, 20] for its choice, so the larger choices
// pay and the budget decides. Sums of integers: exact in double.
struct Separable {
  std::vector<SearchLayer> layers;

  long value(std::size_t layer, Slot s, Choice c) const {
    const std::vector<Choice>& list = layers[layer].space.choices(s);
    const auto k =
        static_cast<std::uint64_t>(std::find(list.begin(), list.end(), c) - list.begin());
    const std::uint64_t h =
        ((layer * 31 + static_cast<std::uint64_t>(s) * 7 + k * 13 + 5) * 2654435761u) % 41;
    return spec_count(s, c, layers[layer].out, layers[layer].in) + static_cast<long>(h) - 20;
  }

  long value(std::size_t layer, const LayerConfig& config) const {
    long total = 0;
    for (const Slot s : glora::all_slots) total += value(layer, s, config[s]);
    return total;
  }

  double operator()(const Configs& configs) const {
    long total = 0;
    for (std::size_t i = 0; i < configs.size(); ++i) total += value(i, configs[i]);
    return static_cast<double>(total);
  }

  // The best fitness of a candidate with at most `budget` parameters: a knapsack
  // over the layers, best[p] = the best value of the layers so far with p parameters.
  long best_under(long budget) const {
    const long none = std::numeric_limits<long>::min();
    std::vector<long> best(static_cast<std::size_t>(budget + 1), none);
    best[0] = 0;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      std::vector<long> next(best.size(), none);
      for (const LayerConfig& config : layers[i].space.enumerate()) {
        const long p = spec_count(config, layers[i].out, layers[i].in);
        const long v = value(i, config);
        for (long q = 0; q + p <= budget; ++q) {
          const auto from = static_cast<std::size_t>(q), to = static_cast<std::size_t>(q + p);
          if (best[from] != none) next[to] = std::max(next[to], best[from] + v);
        }
      }
      best = next;
    }
    return *std::max_element(best.begin(), best.end());
  }
};

// Records every call of a fitness; safe to call from several threads.
struct Recorder {
  std::function<double(const Configs&)> fitness;
  std::mutex mutex;
  std::vector<Configs> calls;

  glora::Fitness function() {
    return [this](const Configs& configs) {
      const double f = fitness(configs);
      const std::lock_guard<std::mutex> lock(mutex);
      calls.push_back(configs);
      return f;
    };
  }
};

glora::EvolutionSettings quiet(std::uint64_t seed) {
  glora::EvolutionSettings settings;
  settings.seed = seed;
  settings.progress = nullptr;
  return settings;
}

void check_same_candidates(const std::vector<glora::Candidate>& x,
                           const std::vector<glora::Candidate>& y) {
  REQUIRE(x.size() == y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(x[i].configs == y[i].configs);
    CHECK(x[i].fitness == y[i].fitness);
    CHECK(x[i].parameters == y[i].parameters);
  }
}

// Everything but the time taken.
void check_same(const glora::EvolutionResult& x, const glora::EvolutionResult& y) {
  check_same_candidates(x.best, y.best);
  CHECK(x.evaluations == y.evaluations);
  REQUIRE(x.history.size() == y.history.size());
  for (std::size_t g = 0; g < x.history.size(); ++g) {
    const glora::Generation& a = x.history[g];
    const glora::Generation& b = y.history[g];
    check_same_candidates(a.candidates, b.candidates);
    CHECK(a.mutations == b.mutations);
    CHECK(a.crossovers == b.crossovers);
    CHECK(a.randoms == b.randoms);
    CHECK(a.top_fitness == b.top_fitness);
    CHECK(a.best_fitness == b.best_fitness);
    CHECK(a.best_parameters == b.best_parameters);
  }
}

}  // namespace

TEST_CASE("evolve finds the best candidate under the budget, and never leaves the budget",
          "[evolution]") {
  const Separable separable{three_layers()};
  const long budget = 120;  // of the 212 that the largest candidate has
  const long optimum = separable.best_under(budget);
  INFO("optimum " << optimum);
  REQUIRE(optimum > 0);

  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    INFO("seed " << seed);
    Recorder recorder{separable, {}, {}};
    glora::EvolutionSettings settings = quiet(seed);
    settings.max_parameters = budget;
    const glora::EvolutionResult result =
        glora::evolve(separable.layers, recorder.function(), settings);

    REQUIRE_FALSE(result.best.empty());
    CHECK(result.best.front().fitness == static_cast<double>(optimum));
    CHECK(separable(result.best.front().configs) == static_cast<double>(optimum));

    // Every candidate scored was within the budget and in the layers' spaces.
    for (const Configs& configs : recorder.calls) {
      CHECK(spec_count(separable.layers, configs) <= budget);
      CHECK(glora::contains(separable.layers, configs));
    }
    for (const glora::Candidate& c : result.best) {
      CHECK(c.parameters == spec_count(separable.layers, c.configs));
      CHECK(c.parameters <= budget);
      CHECK(c.fitness == separable(c.configs));
    }
    // The best are best first, and none better was scored.
    for (std::size_t i = 1; i < result.best.size(); ++i) {
      CHECK(result.best[i - 1].fitness >= result.best[i].fitness);
    }
    for (const Configs& configs : recorder.calls) {
      CHECK(separable(configs) <= result.best.front().fitness);
    }
  }
}

TEST_CASE("evolve scores every candidate once", "[evolution]") {
  const Separable separable{three_layers()};
  Recorder recorder{separable, {}, {}};
  glora::EvolutionSettings settings = quiet(11);
  settings.min_parameters = 40;
  settings.max_parameters = 100;
  const glora::EvolutionResult result =
      glora::evolve(separable.layers, recorder.function(), settings);

  const std::set<Configs> distinct(recorder.calls.begin(), recorder.calls.end());
  CHECK(distinct.size() == recorder.calls.size());
  CHECK(result.evaluations == recorder.calls.size());
  std::size_t in_history = 0;
  for (const glora::Generation& g : result.history) in_history += g.candidates.size();
  CHECK(in_history == recorder.calls.size());
  for (const Configs& configs : recorder.calls) {
    const long p = spec_count(separable.layers, configs);
    CHECK(p >= 40);
    CHECK(p <= 100);
  }
}

TEST_CASE("one seed, one search; another seed, another search", "[evolution]") {
  const Separable separable{three_layers()};
  glora::EvolutionSettings settings = quiet(21);
  settings.max_parameters = 150;
  settings.generations = 6;
  const glora::EvolutionResult first = glora::evolve(separable.layers, separable, settings);
  const glora::EvolutionResult second = glora::evolve(separable.layers, separable, settings);
  check_same(first, second);

  settings.seed = 22;
  const glora::EvolutionResult other = glora::evolve(separable.layers, separable, settings);
  CHECK(other.history.front().candidates.front().configs !=
        first.history.front().candidates.front().configs);
}

TEST_CASE("scoring on several threads gives the serial result", "[evolution]") {
  const Separable separable{three_layers()};
  std::atomic<int> calls{0};
  const glora::Fitness fitness = [&](const Configs& configs) {
    ++calls;
    return separable(configs);
  };
  glora::EvolutionSettings settings = quiet(31);
  settings.max_parameters = 110;
  settings.generations = 8;
  const glora::EvolutionResult serial = glora::evolve(separable.layers, fitness, settings);
  const int serial_calls = calls.exchange(0);
  for (const int threads : {2, 3, 64}) {
    settings.threads = threads;
    const glora::EvolutionResult threaded = glora::evolve(separable.layers, fitness, settings);
    check_same(serial, threaded);
    CHECK(calls.exchange(0) == serial_calls);
  }
}

TEST_CASE("every setting is honoured", "[evolution]") {
  const Separable separable{three_layers()};
  glora::EvolutionSettings settings = quiet(41);
  settings.generations = 5;
  settings.population = 20;
  settings.parents = 3;
  settings.mutations = 7;
  settings.crossovers = 5;
  settings.keep = 4;
  const glora::EvolutionResult result = glora::evolve(separable.layers, separable, settings);

  REQUIRE(result.history.size() == 5);
  CHECK(result.best.size() == 4);
  CHECK(result.history[0].randoms == 20);
  CHECK(result.history[0].mutations == 0);
  CHECK(result.history[0].crossovers == 0);
  for (const glora::Generation& g : result.history) {
    CHECK(g.candidates.size() == 20);  // the space is large: every generation fills up
    CHECK(g.top_fitness.size() == 4);
    CHECK(g.mutations + g.crossovers + g.randoms == 20);
  }
  for (std::size_t g = 1; g < result.history.size(); ++g) {
    CHECK(result.history[g].mutations == 7);
    CHECK(result.history[g].crossovers == 5);
    CHECK(result.history[g].randoms == 8);
  }
  // The history's best is the best so far, never worse than before.
  for (std::size_t g = 1; g < result.history.size(); ++g) {
    CHECK(result.history[g].best_fitness >= result.history[g - 1].best_fitness);
  }
  CHECK(result.history.back().best_fitness == result.best.front().fitness);
  CHECK(result.history.back().best_parameters == result.best.front().parameters);
}

TEST_CASE("mutation probability 0 and a single parent make no new children", "[evolution]") {
  // Without a change, a mutant is its parent, which was scored already; with
  // one parent, a crossover is that parent again. So all children are random.
  const Separable separable{three_layers()};
  glora::EvolutionSettings settings = quiet(51);
  settings.generations = 3;
  settings.mutation_probability = 0;
  settings.parents = 1;
  const glora::EvolutionResult result = glora::evolve(separable.layers, separable, settings);
  for (const glora::Generation& g : result.history) {
    CHECK(g.mutations == 0);
    CHECK(g.crossovers == 0);
    CHECK(g.randoms == 50);
  }
}

TEST_CASE("children come from the best of the previous generations", "[evolution]") {
  const Separable separable{three_layers()};
  for (const glora::Crossover mode : {glora::Crossover::per_slot, glora::Crossover::per_layer}) {
    glora::EvolutionSettings settings = quiet(61);
    settings.generations = 4;
    settings.parents = 4;
    settings.crossover = mode;
    const glora::EvolutionResult result = glora::evolve(separable.layers, separable, settings);

    std::vector<glora::Candidate> earlier;  // every candidate of the previous generations
    int mixed_layers = 0;                   // crossover layers that mix slots of two parents
    for (const glora::Generation& g : result.history) {
      // The parents: the best `parents` of the earlier candidates (stable on ties).
      std::vector<glora::Candidate> parents = earlier;
      std::stable_sort(parents.begin(), parents.end(),
                       [](const auto& x, const auto& y) { return x.fitness > y.fitness; });
      if (parents.size() > 4) parents.resize(4);

      const auto first_crossover = static_cast<std::size_t>(g.mutations);
      const auto end_crossover = first_crossover + static_cast<std::size_t>(g.crossovers);
      for (std::size_t k = first_crossover; k < end_crossover; ++k) {
        const Configs& child = g.candidates[k].configs;
        for (std::size_t i = 0; i < child.size(); ++i) {
          for (const Slot s : glora::all_slots) {
            bool from_a_parent = false;
            for (const auto& p : parents) from_a_parent |= p.configs[i][s] == child[i][s];
            CHECK(from_a_parent);
          }
          bool whole_layer = false;
          for (const auto& p : parents) whole_layer |= p.configs[i] == child[i];
          if (mode == glora::Crossover::per_layer) CHECK(whole_layer);
          mixed_layers += !whole_layer;
        }
      }
      // A mutant redraws each slot with probability 0.2 (to the same choice
      // now and then): it differs from its parent in about 2 of its 15 slots,
      // where a random candidate differs from the closest of 4 in about 9.
      std::size_t differing = 0;
      for (std::size_t k = 0; k < first_crossover; ++k) {
        const Configs& child = g.candidates[k].configs;
        std::size_t fewest = 15;
        for (const auto& p : parents) {
          std::size_t differ = 0;
          for (std::size_t i = 0; i < child.size(); ++i) {
            for (const Slot s : glora::all_slots) differ += p.configs[i][s] != child[i][s];
          }
          fewest = std::min(fewest, differ);
        }
        CHECK(fewest >= 1);  // never a parent again
        differing += fewest;
      }
      if (first_crossover > 0) {
        CHECK(static_cast<double>(differing) / static_cast<double>(first_crossover) < 3.5);
      }
      earlier.insert(earlier.end(), g.candidates.begin(), g.candidates.end());
    }
    // Per slot, a layer takes slots from both parents about half the time.
    if (mode == glora::Crossover::per_slot) CHECK(mixed_layers > 20);
  }
}

TEST_CASE("a small space runs out of new candidates without looping", "[evolution]") {
  // One layer of 4 configurations: the first generation takes all 4, later
  // ones find nothing new and score nothing.
  const SearchSpace tiny({Choice::low_rank(1), Choice::none()}, {Choice::none()}, {Choice::none()},
                         {Choice::none(), Choice::scalar()}, {Choice::none()});
  const std::vector<SearchLayer> layers = {{tiny, 3, 3}};
  int calls = 0;
  glora::EvolutionSettings settings = quiet(71);
  settings.random_tries_per_candidate = 50;  // each generation's futile search stays short
  const glora::EvolutionResult result = glora::evolve(
      layers,
      [&](const Configs& configs) {
        ++calls;
        return static_cast<double>(spec_count(configs[0], 3, 3));
      },
      settings);
  CHECK(calls == 4);
  REQUIRE(result.history.size() == 20);
  CHECK(result.history[0].candidates.size() == 4);
  for (std::size_t g = 1; g < 20; ++g) CHECK(result.history[g].candidates.empty());
  REQUIRE(result.best.size() == 4);
  CHECK(glora::to_string(result.best[0].configs[0]) ==
        R"({"A": "LoRA_1", "B": "none", "C": "none", "D": "constant", "E": "none"})");
  CHECK(result.best[0].fitness == 7);
}

TEST_CASE("a budget no candidate meets is an error, not an endless search", "[evolution]") {
  const Separable separable{three_layers()};
  int calls = 0;
  const glora::Fitness counting = [&](const Configs&) { return ++calls; };
  glora::EvolutionSettings settings = quiet(81);
  settings.min_parameters = 213;  // the largest candidate has 212
  CHECK_THROWS_AS(glora::evolve(separable.layers, counting, settings), glora::search_error);
  CHECK_THROWS_WITH(glora::evolve(separable.layers, counting, settings),
                    "glora::evolve: no candidate has between 213 and 9223372036854775807 "
                    "trainable parameters: the layers' configurations have from 0 to 212");

  // Inside the range but unreachable: each layer has 0 or 6 parameters.
  const SearchSpace even({Choice::low_rank(1), Choice::none()}, {Choice::none()}, {Choice::none()},
                         {Choice::none()}, {Choice::none()});
  const std::vector<SearchLayer> layers = {{even, 3, 3}, {even, 3, 3}};
  settings.min_parameters = 5;
  settings.max_parameters = 5;
  CHECK_THROWS_WITH(glora::evolve(layers, counting, settings),
                    "glora::evolve: none of 50000 random candidates has between 5 and 5 "
                    "trainable parameters (the layers' configurations have from 0 to 12); widen "
                    "the budget or raise random_tries_per_candidate");
  CHECK(calls == 0);
}

TEST_CASE("settings out of range and bad inputs are refused before any fitness call",
          "[evolution]") {
  const Separable separable{three_layers()};
  int calls = 0;
  const glora::Fitness counting = [&](const Configs&) { return ++calls; };
  const auto refused = [&](void (*change)(glora::EvolutionSettings&)) {
    glora::EvolutionSettings settings = quiet(1);
    change(settings);
    try {
      glora::evolve(separable.layers, counting, settings);
    } catch (const glora::search_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(refused([](auto& s) { s.generations = 0; }) ==
        "glora::evolve: generations is 0, expected at least 1");
  CHECK(refused([](auto& s) { s.population = -1; }) ==
        "glora::evolve: population is -1, expected at least 1");
  CHECK(refused([](auto& s) { s.parents = 0; }) ==
        "glora::evolve: parents is 0, expected at least 1");
  CHECK(refused([](auto& s) { s.mutations = -2; }) ==
        "glora::evolve: mutations is -2, expected at least 0");
  CHECK(refused([](auto& s) { s.tries_per_child = 0; }) ==
        "glora::evolve: tries_per_child is 0, expected at least 1");
  CHECK(refused([](auto& s) { s.keep = 0; }) == "glora::evolve: keep is 0, expected at least 1");
  CHECK(refused([](auto& s) { s.threads = 0; }) ==
        "glora::evolve: threads is 0, expected at least 1");
  CHECK(refused([](auto& s) { s.mutations = 30; }) ==
        "glora::evolve: mutations + crossovers is 30 + 25, expected at most the population (50)");
  CHECK(refused([](auto& s) { s.mutation_probability = 1.5; }) ==
        "glora::evolve: mutation_probability is 1.5, expected within [0, 1]");
  CHECK(refused([](auto& s) { s.mutation_probability = std::nan(""); }) ==
        "glora::evolve: mutation_probability is nan, expected within [0, 1]");
  CHECK(refused([](auto& s) { s.min_parameters = -1; }) ==
        "glora::evolve: min_parameters is -1, expected at least 0");
  CHECK(refused([](auto& s) {
          s.min_parameters = 10;
          s.max_parameters = 9;
        }) == "glora::evolve: the budget is [10, 9], expected min_parameters <= max_parameters");
  CHECK_THROWS_WITH(glora::evolve({}, counting, quiet(1)), "glora::evolve: no layers given");
  CHECK_THROWS_WITH(glora::evolve(separable.layers, glora::Fitness{}, quiet(1)),
                    "glora::evolve: the fitness is empty (no function given)");
  CHECK(calls == 0);
}

TEST_CASE("a NaN fitness is refused; a fitness's exception comes through", "[evolution]") {
  const Separable separable{three_layers()};
  const glora::Fitness nan_at_7 = [n = std::make_shared<int>(0)](const Configs&) {
    return ++*n == 8 ? std::nan("") : 1.0;
  };
  CHECK_THROWS_WITH(glora::evolve(separable.layers, nan_at_7, quiet(1)),
                    "glora::evolve: the fitness of candidate 7 of generation 0 is NaN (it must be "
                    "a number, higher is better)");
  for (const int threads : {1, 4}) {
    glora::EvolutionSettings settings = quiet(1);
    settings.threads = threads;
    const glora::Fitness failing = [](const Configs&) -> double {
      throw std::runtime_error("validation data missing");
    };
    CHECK_THROWS_WITH(glora::evolve(separable.layers, failing, settings),
                      "validation data missing");
  }
}

TEST_CASE("a progress line per generation, where the caller says", "[evolution]") {
  const Separable separable{three_layers()};
  std::ostringstream log;
  glora::EvolutionSettings settings = quiet(91);
  settings.generations = 3;
  settings.max_parameters = 150;
  settings.progress = &log;
  const glora::EvolutionResult result = glora::evolve(separable.layers, separable, settings);

  std::istringstream lines(log.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    INFO(line);
    REQUIRE(count < 3);
    const glora::Generation& g = result.history[static_cast<std::size_t>(count)];
    const std::string expected =
        "glora::evolve: generation " + std::to_string(count + 1) + "/3: best fitness " +
        std::to_string(static_cast<long>(g.best_fitness)) + " with " +
        std::to_string(g.best_parameters) + " parameters; scored " +
        std::to_string(g.candidates.size()) + " (" + std::to_string(g.mutations) + " mutations, " +
        std::to_string(g.crossovers) + " crossovers, " + std::to_string(g.randoms) + " random) in ";
    REQUIRE(line.size() > expected.size() + 2);
    CHECK(line.substr(0, expected.size()) == expected);
    CHECK(line.substr(line.size() - 2) == " s");
    // The time taken, to the 6 digits printed.
    const double seconds = std::stod(line.substr(expected.size()));
    CHECK(std::abs(seconds - g.seconds) <= 1e-5 * g.seconds);
    ++count;
  }
  CHECK(count == 3);
}
