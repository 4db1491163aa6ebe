// Transfer learning on Fashion-MNIST with glora, and GLoRA's own method: a
// searched configuration per layer.
//
// Two adaptation tasks (--task):
//   new-classes  pretrain on the first five classes (T-shirt/top, trouser,
//                pullover, dress, coat), adapt to the other five (sandal,
//                shirt, sneaker, bag, ankle boot) under a new head: the
//                pretrained features carry over, the setting parameter-
//                efficient fine-tuning is made for. The default.
//   rotated      pretrain on all ten classes, adapt to the same clothes
//                rotated by 90 degrees and inverted: a permutation of the
//                inputs, a full-rank change no low-rank update expresses.
//
//  1. Pretrain a 784-256-256-k MLP of plain glora::Dense layers.
//  2. Hold out a validation split of the task's training images (for the
//     search only; the test set is used for the reported accuracies alone).
//  3. Adapt the frozen model with a few labelled images per class (1 to 16)
//     or with all of them:
//       head    train the last layer only
//       lora    LoRA of rank 4 on the hidden layers, plus the head
//       glora   GLoRA (A and B of rank 4, C, D, E vectors) on the hidden layers, plus the head
//       full    train every weight
//       search  GLoRA's method: train a supernet of run-time configured
//               layers, search one configuration per layer within a budget
//               (LoRA's parameter count, and half of it), test it with the
//               supernet's weights ("inherited") and trained afresh ("retrained")
//  4. Merge the GLoRA layers into plain Dense layers and check that the
//     predictions do not change and that inference costs what it cost before.
//
// Usage: glora_fashion_mnist [--task new-classes|rotated] [--data DIR] [--csv FILE]
//                            [--model FILE] [--settings LIST] [--quick]
// Plot:  see examples/fashion_mnist/README.md

#include "dataset.hpp"
#include "model_file.hpp"
#include "network.hpp"
#include "random.hpp"
#include "report.hpp"
#include "supernet.hpp"
#include "training.hpp"

#include <glora/glora.hpp>
#include <glora/presets.hpp>
#include <glora/search.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace fmnist {
namespace {

// The adapters compared, at the same rank on every hidden layer.
using LoraLayer = glora::LoRA<float, 4>;  // W = W0 + Bd·Bu
// W = W0 + W0 ⊙ (Ad·Au) + Bd·Bu,  b = b0 + b0 ⊙ D + E + W0 C
using GloraLayer = glora::Linear<float, glora::LowRank<4>, glora::LowRank<4>, glora::Vector,
                                 glora::Vector, glora::Vector>;

constexpr Eigen::Index kHidden = 256;  // units of each hidden layer
constexpr int kExitSkip = 77;          // "skipped" for CTest (SKIP_RETURN_CODE)

/// An adaptation task: what the model is pretrained on, what it adapts to.
struct Task {
  const char* name;
  const char* description;
  int pretrain_classes;
  int classes;    // of the target task
  bool new_head;  // new classes: the head starts afresh, the pretrained one cannot serve
  Dataset (*source)(const Dataset&);  // the pretraining images of a split
  Dataset (*target)(const Dataset&);  // the target task's images of a split
};

Dataset first_five(const Dataset& d) { return classes(d, 0, 5); }
Dataset last_five(const Dataset& d) { return classes(d, 5, 5); }
Dataset unchanged(const Dataset& d) { return d; }

const std::vector<Task> kTasks = {
    {"new-classes",
     "new classes (pretrained on T-shirt/top, trouser, pullover, dress, coat; adapted to sandal, "
     "shirt, sneaker, bag, ankle boot)",
     5, 5, true, first_five, last_five},
    {"rotated", "the ten classes rotated by 90 degrees and inverted", 10, 10, false, unchanged,
     shifted},
};

struct Options {
  std::string task = "new-classes";
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string csv;            // results; empty: fashion_mnist_<task>.csv
  std::string model;          // pretrained-model cache; empty: next to the CSV file
  std::vector<int> settings;  // images per class to run (0: all); empty: every setting
  bool quick = false;
};

/// How much work a run does. The defaults are the full run.
struct Config {
  Eigen::Index train_images = -1;  // images loaded per split (-1: all)
  Eigen::Index test_images = -1;
  int pretrain_epochs = 4;
  std::vector<int> settings = {1, 2, 4, 8, 16, 0};  // images per class; 0: the whole set
  int few_shot_steps = 100;                         // optimiser steps of a few-shot run
  int full_epochs = 1;                              // epochs of a run on the whole set
  Eigen::Index batch_size = 128;
  Eigen::Index few_shot_batch_size = 32;
  int seeds = 3;
  int validation_images = 1000;  // held out of the target training images, for the search
  // Supernet training steps per step of a fixed run: each step trains one of
  // the 900 configurations per layer (the reference's supernet.py trains for
  // 500 epochs).
  int supernet_step_factor = 5;
  glora::EvolutionSettings evolution;  // the reference's: 20 generations of 50
  int timing_repeats = 5;
  bool cache_model = true;
};

/// Seconds, not minutes: small subsets, one seed, a few steps, a small
/// search, but every method, the merge check and the report all run.
Config quick_config() {
  Config c;
  c.train_images = 2000;
  c.test_images = 500;
  c.pretrain_epochs = 1;
  c.settings = {1, 2, 0};
  c.few_shot_steps = 10;
  c.seeds = 1;
  c.validation_images = 100;
  c.evolution.generations = 2;
  c.evolution.population = 6;
  c.evolution.parents = 3;
  c.evolution.mutations = 2;
  c.evolution.crossovers = 2;
  c.timing_repeats = 1;
  c.cache_model = false;  // a model pretrained on 2000 images is not worth keeping
  return c;
}

struct MethodInfo {
  const char* name;
  float learning_rate;  // peak AdamW learning rate, fixed by hand (not tuned per setting)
};
const std::vector<MethodInfo> kMethods = {
    {"head", 1e-2f}, {"lora", 5e-3f}, {"glora", 5e-3f}, {"full", 1e-3f}};
// The supernet and the retrained searched configurations train as GLoRA does.
const MethodInfo kSearch = {"search", 5e-3f};

/// A parameter budget of the search, relative to LoRA's count.
struct Budget {
  const char* name;  // "lora": LoRA's parameter count; "half": half of it
  int divisor;
};
const std::vector<Budget> kBudgets = {{"lora", 1}, {"half", 2}};

std::string search_method(const Budget& budget, const char* weights) {
  return std::string("search-") + budget.name + "-" + weights;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// --- building the networks ----------------------------------------------------------------------

constexpr float kPretrainWeightDecay = 1e-4f;
// Fine-tuning without decay: AdamW would pull a Dense layer towards zero, not
// towards its pretrained weights, which is not what the comparison is about.
constexpr float kFineTuneWeightDecay = 0.0f;

/// What every run of one seed starts from: the pretrained hidden layers
/// (frozen unless fully fine-tuned) and a head (the pretrained one, or a new
/// one for new classes).
struct Start {
  Mlp body;
  Dense head;
};

/// Only the head learns; the hidden layers stay frozen.
Network<Dense> head_only(const Start& start) {
  return {start.body, {}, TrainableLayer<Dense>(start.head, kFineTuneWeightDecay)};
}

/// Every weight learns (also how the model is pretrained).
Network<Dense> every_layer(const Mlp& body, const Dense& head, float weight_decay) {
  std::vector<TrainableLayer<Dense>> hidden;
  for (const Dense& layer : body) hidden.emplace_back(layer, weight_decay);
  return {{}, std::move(hidden), TrainableLayer<Dense>(head, weight_decay)};
}

/// The hidden layers become adapted layers over frozen copies of the
/// pretrained weights, starting equal to them; the head learns as it is.
template <typename Layer>
Network<Layer> adapted(const Start& start, std::uint32_t seed) {
  std::vector<TrainableLayer<Layer>> hidden;
  for (std::size_t l = 0; l < start.body.size(); ++l) {
    Layer layer(start.body[l].weight, start.body[l].bias);
    layer.adapter().initialize(std::uint64_t{seed} * 100 + l);
    hidden.emplace_back(std::move(layer), kFineTuneWeightDecay);
  }
  return {{}, std::move(hidden), TrainableLayer<Dense>(start.head, kFineTuneWeightDecay)};
}

// --- pretraining --------------------------------------------------------------------------------

void print_progress(const Progress& p) {
  std::printf("    epoch %d  step %4d/%d  loss %.4f  train accuracy %5.2f%%\n", p.epoch, p.step,
              p.steps, p.loss, p.accuracy);
  std::fflush(stdout);
}

Eigen::Index steps_per_epoch(Eigen::Index images, Eigen::Index batch_size) {
  return (images + batch_size - 1) / batch_size;
}

std::vector<Eigen::Index> layer_sizes(int classes) { return {kPixels, kHidden, kHidden, classes}; }

Mlp pretrain(const Dataset& train, const Dataset& test, const Config& cfg, int classes) {
  Rng rng(42);
  const std::vector<Eigen::Index> sizes = layer_sizes(classes);
  Mlp mlp = make_mlp(sizes, rng);
  const Dense head = mlp.back();
  mlp.pop_back();
  Network<Dense> net = every_layer(mlp, head, kPretrainWeightDecay);
  const auto epoch_steps = static_cast<int>(steps_per_epoch(train.size(), cfg.batch_size));
  const Schedule schedule{cfg.pretrain_epochs * epoch_steps, cfg.batch_size, 1e-3f, epoch_steps / 4,
                          100};
  std::printf("Pretraining %ld-%ld-%ld-%ld on %ld images, %d epochs:\n",
              static_cast<long>(sizes[0]), static_cast<long>(sizes[1]), static_cast<long>(sizes[2]),
              static_cast<long>(sizes[3]), static_cast<long>(train.size()), cfg.pretrain_epochs);
  train_network(net, train, schedule, rng, [&](const Progress& p) {
    print_progress(p);
    if (p.epoch_end) {
      std::printf("    epoch %d done: test accuracy %.2f%%\n", p.epoch,
                  accuracy(test, [&](const Matrix& X) { return net.logits(X); }));
    }
  });
  return net.merged();
}

/// The cached model if there is one of the right shape, else a freshly pretrained one.
Mlp pretrained_model(const Dataset& train, const Dataset& test, const Config& cfg, int classes,
                     const std::string& cache) {
  if (cfg.cache_model) {
    if (std::optional<Mlp> cached = load_mlp(cache, layer_sizes(classes))) {
      std::printf("Pretrained model loaded from %s (delete it to pretrain again)\n", cache.c_str());
      return *cached;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  Mlp mlp = pretrain(train, test, cfg, classes);
  std::printf("Pretraining took %.1f s\n", seconds_since(start));
  if (cfg.cache_model) {
    if (save_mlp(mlp, cache)) {
      std::printf("Pretrained model saved to %s\n", cache.c_str());
    } else {
      std::printf("warning: could not write %s; the next run pretrains again\n", cache.c_str());
    }
  }
  return mlp;
}

// --- the transfer experiments -------------------------------------------------------------------

/// Fine-tunes `net` on `train`, returns its accuracy on `test`.
template <typename Hidden>
double fine_tune(Network<Hidden>& net, const Dataset& train, const Dataset& test,
                 const Schedule& schedule, std::uint32_t seed, bool verbose) {
  Rng rng(seed);
  train_network(net, train, schedule, rng, [verbose](const Progress& p) {
    if (verbose) print_progress(p);
  });
  return accuracy(test, [&](const Matrix& X) { return net.logits(X); });
}

/// The data of one task: the training images the adaptation may use, the
/// validation split held out of them for the search, and the test images.
struct TaskData {
  Dataset train;
  Dataset validation;
  Dataset test;
};

struct Experiments {
  std::vector<RunResult> results;
  std::vector<SearchRecord> searches;
  std::optional<Network<GloraLayer>> last_glora;       // kept for the merge check
  std::optional<Network<DynamicLayer>> last_searched;  // likewise
};

/// One run of one fixed method; returns its accuracy and trainable-parameter count.
RunResult run_method(const MethodInfo& method, const Start& start, const Dataset& train,
                     const Dataset& test, const Schedule& schedule, int shots, std::uint32_t seed,
                     Experiments& experiments) {
  const std::string name = method.name;
  const bool verbose = shots == 0;
  RunResult r{name, 0, shots, 0.0};
  if (name == "head" || name == "full") {
    Network<Dense> net = name == "head" ? head_only(start)
                                        : every_layer(start.body, start.head, kFineTuneWeightDecay);
    r.trainable_parameters = net.parameter_count();
    r.accuracy = fine_tune(net, train, test, schedule, seed, verbose);
  } else if (name == "lora") {
    Network<LoraLayer> net = adapted<LoraLayer>(start, seed);
    r.trainable_parameters = net.parameter_count();
    r.accuracy = fine_tune(net, train, test, schedule, seed, verbose);
  } else {
    Network<GloraLayer> net = adapted<GloraLayer>(start, seed);
    r.trainable_parameters = net.parameter_count();
    r.accuracy = fine_tune(net, train, test, schedule, seed, verbose);
    experiments.last_glora = std::move(net);
  }
  return r;
}

Schedule schedule_for(const MethodInfo& method, const Dataset& train, const Config& cfg,
                      int shots) {
  if (shots > 0) {
    // A few-shot set is at most a few batches; train for a fixed number of steps.
    return {cfg.few_shot_steps, cfg.few_shot_batch_size, method.learning_rate,
            cfg.few_shot_steps / 10, 0};
  }
  const auto steps =
      static_cast<int>(cfg.full_epochs * steps_per_epoch(train.size(), cfg.batch_size));
  return {steps, cfg.batch_size, method.learning_rate, steps / 20, 100};
}

/// The trainable parameters of LoRA of rank 4 on the hidden layers (the head
/// not counted): the search's budget.
Eigen::Index lora_parameters(const Mlp& body) {
  constexpr glora::LayerConfig lora =
      glora::config_of<glora::None, glora::LowRank<4>, glora::None, glora::None, glora::None>();
  Eigen::Index count = 0;
  for (const Dense& layer : body) {
    count += glora::parameter_count(lora, layer.out_features(), layer.in_features());
  }
  return count;
}

void print_configs(const std::vector<glora::LayerConfig>& configs, const Mlp& body) {
  for (std::size_t l = 0; l < configs.size(); ++l) {
    std::printf("      layer %zu (%ld x %ld): %s\n", l + 1,
                static_cast<long>(body[l].out_features()), static_cast<long>(body[l].in_features()),
                glora::to_short_string(configs[l]).c_str());
  }
}

/// GLoRA's method for one training set and seed: train a supernet, search
/// it under each budget, test each choice with its inherited weights and
/// retrained from a fresh initialisation.
void run_search(const Start& start, const TaskData& data, const Dataset& train, const Config& cfg,
                int shots, std::uint32_t seed, Experiments& experiments) {
  const bool verbose = shots == 0;
  const Schedule schedule = schedule_for(kSearch, train, cfg, shots);
  Schedule supernet_schedule = schedule;
  supernet_schedule.steps *= cfg.supernet_step_factor;
  supernet_schedule.warmup_steps *= cfg.supernet_step_factor;

  auto begin = std::chrono::steady_clock::now();
  const glora::SearchSpace space = search_space();
  Network<DynamicLayer> supernet = dynamic_network(
      start.body, start.head, std::vector<glora::LayerConfig>(start.body.size(), space.capacity()),
      seed, kFineTuneWeightDecay);
  glora::SupernetSettings settings;  // only the draws: the schedule is the example's own
  settings.seed = seed;
  SupernetTrainer trainer(supernet,
                          glora::Supernet(glora::search_layers(supernet.hidden_layers(), space),
                                          supernet_schedule.steps, settings));
  if (verbose) std::printf("  seed %u  supernet:\n", seed % 1000);
  Rng rng(seed);
  train_network(trainer, train, supernet_schedule, rng, [verbose](const Progress& p) {
    if (verbose) print_progress(p);
  });
  std::printf("  seed %u  supernet of %zu configurations per layer trained (%.1f s)\n", seed % 1000,
              space.size(), seconds_since(begin));

  glora::EvolutionSettings evolution = cfg.evolution;
  evolution.seed = seed;
  const Eigen::Index lora = lora_parameters(start.body);
  const Eigen::Index head = glora::parameter_count(start.head);
  for (const Budget& budget : kBudgets) {
    begin = std::chrono::steady_clock::now();
    SearchRecord record;
    record.budget_name = budget.name;
    record.budget = lora / budget.divisor;
    record.shots = shots;
    record.seed = static_cast<int>(seed % 1000);
    const glora::Candidate best = search(supernet, data.validation, record.budget, evolution);
    record.configs = best.configs;
    record.parameters = best.parameters;
    record.validation_accuracy = best.fitness;
    record.inherited_accuracy = accuracy_with(supernet, best.configs, data.test);

    Network<DynamicLayer> fresh =
        dynamic_network(start.body, start.head, best.configs, seed, kFineTuneWeightDecay);
    if (fresh.parameter_count() != best.parameters + head) {
      throw std::logic_error("the retrained network's parameter count is not the searched one");
    }
    record.retrained_accuracy = fine_tune(fresh, train, data.test, schedule, seed, false);
    experiments.last_searched = std::move(fresh);

    std::printf(
        "  seed %u  search within %ld (%s): %ld trainable + %ld head, validation %.2f%%, "
        "test: inherited %.2f%%, retrained %.2f%%  (%.1f s)\n",
        seed % 1000, static_cast<long>(record.budget), budget.name,
        static_cast<long>(record.parameters), static_cast<long>(head), record.validation_accuracy,
        record.inherited_accuracy, record.retrained_accuracy, seconds_since(begin));
    print_configs(best.configs, start.body);
    std::fflush(stdout);
    experiments.results.push_back({search_method(budget, "inherited"), best.parameters + head,
                                   shots, record.inherited_accuracy});
    experiments.results.push_back({search_method(budget, "retrained"), best.parameters + head,
                                   shots, record.retrained_accuracy});
    experiments.searches.push_back(std::move(record));
  }
}

Start start_for(const Task& task, const Mlp& pretrained, std::uint32_t seed) {
  Mlp body(pretrained.begin(), pretrained.end() - 1);
  if (!task.new_head) return {std::move(body), pretrained.back()};
  Rng rng(4000 + seed);
  return {std::move(body), fresh_head(kHidden, task.classes, rng)};
}

Experiments run_experiments(const Task& task, const Mlp& pretrained, const TaskData& data,
                            const Config& cfg) {
  Experiments experiments;
  for (int shots : cfg.settings) {
    const std::string title = shots == 0 ? std::string("all training images")
                                         : std::to_string(shots) + " training images per class";
    std::printf("\n== %s ==\n", title.c_str());
    for (int s = 0; s < cfg.seeds; ++s) {
      const auto seed = static_cast<std::uint32_t>(s);
      // Every method of one seed sees the same images and starts from the same head.
      Rng sampler(1000 + seed);
      const Dataset subset =
          shots == 0 ? data.train : few_shot(data.train, task.classes, shots, sampler);
      const Start start = start_for(task, pretrained, seed);
      for (const MethodInfo& method : kMethods) {
        const auto begin = std::chrono::steady_clock::now();
        if (shots == 0) std::printf("  seed %u  %s:\n", seed, method.name);
        const RunResult r =
            run_method(method, start, subset, data.test, schedule_for(method, subset, cfg, shots),
                       shots, 2000 + seed, experiments);
        std::printf("  seed %u  %-6s %7ld trainable  test accuracy %6.2f%%  (%.1f s)\n", seed,
                    method.name, static_cast<long>(r.trainable_parameters), r.accuracy,
                    seconds_since(begin));
        std::fflush(stdout);
        experiments.results.push_back(r);
      }
      run_search(start, data, subset, cfg, shots, 2000 + seed, experiments);
    }
  }
  return experiments;
}

// --- merging ------------------------------------------------------------------------------------

/// Best wall time of `repeats` calls of f, in milliseconds.
template <typename F>
double best_milliseconds(int repeats, F&& f) {
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const Matrix out = f();
    best = std::min(best, 1000.0 * seconds_since(start));
    if (out.size() == 0) std::printf("(empty output)\n");  // keeps the work observable
  }
  return best;
}

/// Merges the adapted layers of `net` into plain Dense layers and compares:
/// the predictions, the logits, and the cost of a forward pass over the test
/// set against the original frozen model's.
template <typename Hidden>
void check_merge(const char* title, const Network<Hidden>& net, const Mlp& pretrained,
                 const Dataset& test, const Config& cfg) {
  const Mlp merged = net.merged();
  const Matrix X = all_inputs(test);
  const Matrix unmerged_logits = net.logits(X);
  const Matrix merged_logits = logits(merged, X);

  const std::vector<int> before = predictions(unmerged_logits);
  const std::vector<int> after = predictions(merged_logits);
  long differing = 0;
  for (std::size_t n = 0; n < before.size(); ++n) differing += before[n] != after[n];

  std::printf("\n== Merging the %s ==\n", title);
  std::printf("  accuracy unmerged %.2f%%, merged %.2f%%\n",
              100.0 * count_correct(unmerged_logits, test.labels) / double(test.size()),
              100.0 * count_correct(merged_logits, test.labels) / double(test.size()));
  std::printf("  differing predictions %ld of %ld, max |logit difference| %.3g\n", differing,
              static_cast<long>(test.size()),
              static_cast<double>((unmerged_logits - merged_logits).cwiseAbs().maxCoeff()));

  const double t_frozen =
      best_milliseconds(cfg.timing_repeats, [&] { return logits(pretrained, X); });
  const double t_merged = best_milliseconds(cfg.timing_repeats, [&] { return logits(merged, X); });
  const double t_unmerged = best_milliseconds(cfg.timing_repeats, [&] { return net.logits(X); });
  std::printf(
      "  forward pass of %ld test images (best of %d): original frozen model %.1f ms, "
      "merged %.1f ms, unmerged %.1f ms\n",
      static_cast<long>(test.size()), cfg.timing_repeats, t_frozen, t_merged, t_unmerged);
}

/// The searched configuration deployed: the C++ types of compile-time
/// layers that hold it.
void print_deployment(const Experiments& experiments) {
  const SearchRecord& last = experiments.searches.back();
  std::printf("\n== Deploying the last searched configuration (budget %s, seed %d) ==\n",
              last.budget_name.c_str(), last.seed);
  for (std::size_t l = 0; l < last.configs.size(); ++l) {
    std::printf("  layer %zu: %s\n", l + 1, glora::cpp_type(last.configs[l]).c_str());
  }
}

// --- reporting ----------------------------------------------------------------------------------

std::string sibling_file(const std::string& csv, const std::string& suffix) {
  std::filesystem::path path(csv);
  return (path.parent_path() / (path.stem().string() + suffix)).string();
}

void report(const Task& task, const Experiments& experiments, std::optional<double> frozen_accuracy,
            const TaskData& data, const Config& cfg, const std::string& csv) {
  std::vector<RunResult> results = experiments.results;
  std::vector<std::string> methods;
  if (frozen_accuracy) {
    methods.push_back("frozen");
    for (int shots : cfg.settings) results.push_back({"frozen", 0, shots, *frozen_accuracy});
  }
  for (const MethodInfo& m : kMethods) methods.push_back(m.name);
  for (const Budget& b : kBudgets) {
    methods.push_back(search_method(b, "inherited"));
    methods.push_back(search_method(b, "retrained"));
  }

  std::printf(
      "\n== Accuracy (%%) on the test set of the task (%ld images), mean ± std over %d "
      "seed%s ==\n",
      static_cast<long>(data.test.size()), cfg.seeds, cfg.seeds == 1 ? "" : "s");
  print_table(results, methods, cfg.settings);
  const int all_per_class = static_cast<int>(data.train.size() / task.classes);
  const std::string searches = sibling_file(csv, "_search.csv");
  if (write_csv(csv, results, methods, cfg.settings, all_per_class) &&
      write_search_csv(searches, experiments.searches)) {
    std::printf("Results written to %s, the searched configurations to %s\n", csv.c_str(),
                searches.c_str());
  } else {
    std::printf("warning: could not write %s or %s\n", csv.c_str(), searches.c_str());
  }
}

// --- the program --------------------------------------------------------------------------------

bool dataset_present(const std::string& dir) {
  for (const char* split : {"train", "t10k"}) {
    if (!std::ifstream(images_file(dir, split)) || !std::ifstream(labels_file(dir, split))) {
      return false;
    }
  }
  return true;
}

int run(const Task& task, const Options& options) {
  const auto start = std::chrono::steady_clock::now();
  Config cfg = options.quick ? quick_config() : Config{};
  if (!options.settings.empty()) cfg.settings = options.settings;
  if (!dataset_present(options.data_dir)) {
    std::printf("Fashion-MNIST not found at %s; install dataset-fashion-mnist or pass --data DIR\n",
                options.data_dir.c_str());
    return kExitSkip;
  }

  const Dataset original_train = load_split(options.data_dir, "train", cfg.train_images);
  const Dataset original_test = load_split(options.data_dir, "t10k", cfg.test_images);
  std::printf("Loaded %ld training and %ld test images from %s\n",
              static_cast<long>(original_train.size()), static_cast<long>(original_test.size()),
              options.data_dir.c_str());
  std::printf("Task: %s\n", task.description);

  const std::string csv =
      !options.csv.empty() ? options.csv : std::string("fashion_mnist_") + task.name + ".csv";
  const std::string cache =
      !options.model.empty() ? options.model : sibling_file(csv, "_pretrained.bin");
  const Dataset source_test = task.source(original_test);
  const Mlp pretrained =
      pretrained_model(task.source(original_train), source_test, cfg, task.pretrain_classes, cache);
  const auto logits_of = [&](const Matrix& X) { return logits(pretrained, X); };
  std::printf("Pretrained model: %.2f%% on the test images of its own classes\n",
              accuracy(source_test, logits_of));

  // The validation split is held out once, the same for every seed; every
  // method trains on the rest (or on few-shot subsets of it).
  Rng splitter(7);
  const Dataset target_train = task.target(original_train);
  const int per_class = cfg.validation_images / task.classes;
  Split split = split_validation(target_train, task.classes, per_class, splitter);
  const TaskData data{std::move(split.train), std::move(split.validation),
                      task.target(original_test)};
  std::printf("Target task: %ld training images, %ld held out for validation, %ld test images\n",
              static_cast<long>(data.train.size()), static_cast<long>(data.validation.size()),
              static_cast<long>(data.test.size()));
  std::optional<double> frozen_accuracy;
  if (!task.new_head) {
    frozen_accuracy = accuracy(data.test, logits_of);
    std::printf("The pretrained model on the target task: %.2f%%\n", *frozen_accuracy);
  }

  const Experiments experiments = run_experiments(task, pretrained, data, cfg);
  check_merge("GLoRA layers of the last fixed GLoRA run", *experiments.last_glora, pretrained,
              data.test, cfg);
  check_merge("layers of the last retrained searched configuration", *experiments.last_searched,
              pretrained, data.test, cfg);
  print_deployment(experiments);
  report(task, experiments, frozen_accuracy, data, cfg, csv);
  std::printf("Total time %.1f s\n", seconds_since(start));
  return 0;
}

void print_usage(const char* program) {
  std::printf(
      "Usage: %s [--task new-classes|rotated] [--data DIR] [--csv FILE] [--model FILE]\n"
      "          [--settings LIST] [--quick]\n"
      "  --task NAME   new-classes (default): pretrain on five classes, adapt to the other five;\n"
      "                rotated: adapt to the ten classes rotated by 90 degrees and inverted\n"
      "  --data DIR    the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)\n"
      "  --csv FILE    where to write the results (default fashion_mnist_<task>.csv); the\n"
      "                searched configurations go next to it (<name>_search.csv)\n"
      "  --model FILE  cache of the pretrained model (default <name>_pretrained.bin next to\n"
      "                the CSV file); delete it to pretrain again\n"
      "  --settings L  the training images per class to run, comma-separated, 0 for all of\n"
      "                them (default 1,2,4,8,16,0); every run depends on its own setting and\n"
      "                seed only, so a run split over processes gives the same numbers\n"
      "  --quick       a run of seconds on small subsets, to check that everything works\n",
      program);
}

/// "1,2,0" -> {1, 2, 0}; nothing unless every item is a non-negative integer.
std::optional<std::vector<int>> parse_settings(const std::string& list) {
  std::vector<int> settings;
  std::size_t begin = 0;
  while (begin <= list.size()) {
    const std::size_t end = std::min(list.find(',', begin), list.size());
    const std::string item = list.substr(begin, end - begin);
    if (item.empty() || item.size() > 6 ||
        item.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    settings.push_back(std::stoi(item));
    begin = end + 1;
  }
  return settings;
}

/// Parses the command line; nothing on success, else the exit code to return.
std::optional<int> parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--task" && has_value) {
      options.task = argv[++i];
    } else if (arg == "--data" && has_value) {
      options.data_dir = argv[++i];
    } else if (arg == "--csv" && has_value) {
      options.csv = argv[++i];
    } else if (arg == "--model" && has_value) {
      options.model = argv[++i];
    } else if (arg == "--settings" && has_value) {
      const std::optional<std::vector<int>> settings = parse_settings(argv[++i]);
      if (!settings) {
        std::fprintf(stderr,
                     "--settings '%s': expected images per class separated by commas, e.g. "
                     "1,2,0 (0: all)\n",
                     argv[i]);
        return 2;
      }
      options.settings = *settings;
    } else if (arg == "--help" || arg == "-h") {
      print_usage(argv[0]);
      return 0;
    } else {
      std::fprintf(stderr, "unknown or incomplete option '%s'\n", arg.c_str());
      print_usage(argv[0]);
      return 2;
    }
  }
  return std::nullopt;
}

const Task* find_task(const std::string& name) {
  for (const Task& task : kTasks) {
    if (name == task.name) return &task;
  }
  return nullptr;
}

}  // namespace
}  // namespace fmnist

int main(int argc, char** argv) {
  fmnist::Options options;
  if (std::optional<int> code = fmnist::parse(argc, argv, options)) return *code;
  const fmnist::Task* task = fmnist::find_task(options.task);
  if (task == nullptr) {
    std::fprintf(stderr, "unknown task '%s' (new-classes or rotated)\n", options.task.c_str());
    return 2;
  }
  try {
    return fmnist::run(*task, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
