// Transfer learning on Fashion-MNIST with glora.
//
//  1. Pretrain a 784-256-256-10 MLP of plain glora::Dense layers on Fashion-MNIST.
//  2. Move to a shifted domain: the same clothes, rotated by 90 degrees and
//     inverted. The pretrained model does poorly there.
//  3. Adapt the frozen model with a few labelled images of the new domain (1 to
//     16 per class) or with the whole shifted training set, four ways:
//       head   train the last layer only
//       lora   LoRA of rank 4 on the hidden layers, plus the head
//       glora  GLoRA (A and B of rank 4, C, D, E vectors) on the hidden layers, plus the head
//       full   train every weight
//  4. Merge the GLoRA layers into plain Dense layers and check that the
//     predictions do not change and that inference costs what it cost before.
//
// Usage: glora_fashion_mnist [--data DIR] [--csv FILE] [--model FILE] [--quick]
// Plot:  see examples/fashion_mnist/README.md

#include "dataset.hpp"
#include "model_file.hpp"
#include "network.hpp"
#include "random.hpp"
#include "report.hpp"
#include "training.hpp"

#include <glora/glora.hpp>
#include <glora/presets.hpp>

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

const std::vector<Eigen::Index> kLayerSizes = {kPixels, 256, 256, kClasses};

// The adapters compared, at the same rank on every hidden layer.
using LoraLayer = glora::LoRA<float, 4>;  // W = W0 + Bd·Bu
// W = W0 + W0 ⊙ (Ad·Au) + Bd·Bu,  b = b0 + b0 ⊙ D + E + W0 C
using GloraLayer = glora::Linear<float, glora::LowRank<4>, glora::LowRank<4>, glora::Vector,
                                 glora::Vector, glora::Vector>;

constexpr int kExitSkip = 77;  // "skipped" for CTest (SKIP_RETURN_CODE)

struct Options {
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string csv = "fashion_mnist_results.csv";
  std::string model;  // pretrained-model cache; empty: next to the CSV file
  bool quick = false;
};

/// How much work a run does. The defaults are the full run (minutes on two cores).
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
  int timing_repeats = 5;
  bool cache_model = true;
};

/// Seconds, not minutes: small subsets, one seed, a few steps, but every
/// method, the merge check and the report all run.
Config quick_config() {
  Config c;
  c.train_images = 2000;
  c.test_images = 500;
  c.pretrain_epochs = 1;
  c.settings = {1, 2, 0};
  c.few_shot_steps = 10;
  c.seeds = 1;
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

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// --- building the networks ----------------------------------------------------------------------

constexpr float kPretrainWeightDecay = 1e-4f;
// Fine-tuning without decay: AdamW would pull a Dense layer towards zero, not
// towards its pretrained weights, which is not what the comparison is about.
constexpr float kFineTuneWeightDecay = 0.0f;

/// Only the head learns; the hidden layers stay frozen.
Network<Dense> head_only(const Mlp& pretrained) {
  return {Mlp(pretrained.begin(), pretrained.end() - 1),
          {},
          TrainableLayer<Dense>(pretrained.back(), kFineTuneWeightDecay)};
}

/// Every weight learns (also how the model is pretrained).
Network<Dense> every_layer(const Mlp& mlp, float weight_decay) {
  std::vector<TrainableLayer<Dense>> hidden;
  for (std::size_t l = 0; l + 1 < mlp.size(); ++l) hidden.emplace_back(mlp[l], weight_decay);
  return {{}, std::move(hidden), TrainableLayer<Dense>(mlp.back(), weight_decay)};
}

/// The hidden layers become adapted layers over frozen copies of the
/// pretrained weights, starting equal to them; the head learns as it is.
template <typename Layer>
Network<Layer> adapted(const Mlp& pretrained, std::uint32_t seed) {
  std::vector<TrainableLayer<Layer>> hidden;
  for (std::size_t l = 0; l + 1 < pretrained.size(); ++l) {
    Layer layer(pretrained[l].weight, pretrained[l].bias);
    layer.adapter().initialize(std::uint64_t{seed} * 100 + l);
    hidden.emplace_back(std::move(layer), kFineTuneWeightDecay);
  }
  return {{}, std::move(hidden), TrainableLayer<Dense>(pretrained.back(), kFineTuneWeightDecay)};
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

Mlp pretrain(const Dataset& train, const Dataset& test, const Config& cfg) {
  Rng rng(42);
  Network<Dense> net = every_layer(make_mlp(kLayerSizes, rng), kPretrainWeightDecay);
  const auto epoch_steps = static_cast<int>(steps_per_epoch(train.size(), cfg.batch_size));
  const Schedule schedule{cfg.pretrain_epochs * epoch_steps, cfg.batch_size, 1e-3f, epoch_steps / 4,
                          100};
  std::printf("Pretraining %ld-%ld-%ld-%ld on %ld original images, %d epochs:\n",
              static_cast<long>(kLayerSizes[0]), static_cast<long>(kLayerSizes[1]),
              static_cast<long>(kLayerSizes[2]), static_cast<long>(kLayerSizes[3]),
              static_cast<long>(train.size()), cfg.pretrain_epochs);
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
Mlp pretrained_model(const Dataset& train, const Dataset& test, const Config& cfg,
                     const std::string& cache) {
  if (cfg.cache_model) {
    if (std::optional<Mlp> cached = load_mlp(cache, kLayerSizes)) {
      std::printf("Pretrained model loaded from %s (delete it to pretrain again)\n", cache.c_str());
      return *cached;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  Mlp mlp = pretrain(train, test, cfg);
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

struct Experiments {
  std::vector<RunResult> results;
  std::optional<Network<GloraLayer>> last_glora;  // kept for the merge check
};

/// One run of one method; returns its accuracy and trainable-parameter count.
RunResult run_method(const MethodInfo& method, const Mlp& pretrained, const Dataset& train,
                     const Dataset& test, const Schedule& schedule, int shots, std::uint32_t seed,
                     Experiments& experiments) {
  const std::string name = method.name;
  const bool verbose = shots == 0;
  RunResult r{name, 0, shots, 0.0};
  if (name == "head" || name == "full") {
    Network<Dense> net =
        name == "head" ? head_only(pretrained) : every_layer(pretrained, kFineTuneWeightDecay);
    r.trainable_parameters = net.parameter_count();
    r.accuracy = fine_tune(net, train, test, schedule, seed, verbose);
  } else if (name == "lora") {
    Network<LoraLayer> net = adapted<LoraLayer>(pretrained, seed);
    r.trainable_parameters = net.parameter_count();
    r.accuracy = fine_tune(net, train, test, schedule, seed, verbose);
  } else {
    Network<GloraLayer> net = adapted<GloraLayer>(pretrained, seed);
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

Experiments run_experiments(const Mlp& pretrained, const Dataset& train, const Dataset& test,
                            const Config& cfg) {
  Experiments experiments;
  for (int shots : cfg.settings) {
    const std::string title = shots == 0 ? std::string("all shifted training images")
                                         : std::to_string(shots) + " shifted images per class";
    std::printf("\n== %s ==\n", title.c_str());
    for (int s = 0; s < cfg.seeds; ++s) {
      const auto seed = static_cast<std::uint32_t>(s);
      // Every method of one seed sees the same images.
      Rng sampler(1000 + seed);
      const Dataset subset = shots == 0 ? train : few_shot(train, shots, sampler);
      for (const MethodInfo& method : kMethods) {
        const auto start = std::chrono::steady_clock::now();
        if (shots == 0) std::printf("  seed %u  %s:\n", seed, method.name);
        const RunResult r =
            run_method(method, pretrained, subset, test, schedule_for(method, subset, cfg, shots),
                       shots, 2000 + seed, experiments);
        std::printf("  seed %u  %-6s %7ld trainable  test accuracy %6.2f%%  (%.1f s)\n", seed,
                    method.name, static_cast<long>(r.trainable_parameters), r.accuracy,
                    seconds_since(start));
        std::fflush(stdout);
        experiments.results.push_back(r);
      }
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

/// Merges the GLoRA layers into plain Dense layers and compares: the
/// predictions, the logits, and the cost of a forward pass over the test set.
void check_merge(const Network<GloraLayer>& glora_net, const Mlp& pretrained, const Dataset& test,
                 const Config& cfg) {
  const Mlp merged = glora_net.merged();
  const Matrix X = all_inputs(test);
  const Matrix unmerged_logits = glora_net.logits(X);
  const Matrix merged_logits = logits(merged, X);

  const std::vector<int> before = predictions(unmerged_logits);
  const std::vector<int> after = predictions(merged_logits);
  long differing = 0;
  for (std::size_t n = 0; n < before.size(); ++n) differing += before[n] != after[n];

  std::printf("\n== Merging the GLoRA layers of the last GLoRA run ==\n");
  std::printf("  accuracy unmerged %.2f%%, merged %.2f%%\n",
              100.0 * count_correct(unmerged_logits, test.labels) / double(test.size()),
              100.0 * count_correct(merged_logits, test.labels) / double(test.size()));
  std::printf("  differing predictions %ld of %ld, max |logit difference| %.3g\n", differing,
              static_cast<long>(test.size()),
              static_cast<double>((unmerged_logits - merged_logits).cwiseAbs().maxCoeff()));

  const double t_frozen =
      best_milliseconds(cfg.timing_repeats, [&] { return logits(pretrained, X); });
  const double t_merged = best_milliseconds(cfg.timing_repeats, [&] { return logits(merged, X); });
  const double t_unmerged =
      best_milliseconds(cfg.timing_repeats, [&] { return glora_net.logits(X); });
  std::printf(
      "  forward pass of %ld test images (best of %d): original frozen model %.1f ms, "
      "merged GLoRA %.1f ms, unmerged GLoRA %.1f ms\n",
      static_cast<long>(test.size()), cfg.timing_repeats, t_frozen, t_merged, t_unmerged);
}

// --- reporting ----------------------------------------------------------------------------------

void report(const Experiments& experiments, double frozen_accuracy, const Dataset& train,
            const Dataset& test, const Config& cfg, const std::string& csv) {
  std::vector<RunResult> results = experiments.results;
  std::vector<std::string> methods = {"frozen"};
  for (int shots : cfg.settings) results.push_back({"frozen", 0, shots, frozen_accuracy});
  for (const MethodInfo& m : kMethods) methods.push_back(m.name);

  std::printf(
      "\n== Accuracy (%%) on the shifted test set (%ld images), mean ± std over %d seed%s ==\n",
      static_cast<long>(test.size()), cfg.seeds, cfg.seeds == 1 ? "" : "s");
  print_table(results, methods, cfg.settings);
  const int all_per_class = static_cast<int>(train.size() / kClasses);
  if (write_csv(csv, results, methods, cfg.settings, all_per_class)) {
    std::printf("Results written to %s\n", csv.c_str());
  } else {
    std::printf("warning: could not write %s\n", csv.c_str());
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

int run(const Options& options) {
  const auto start = std::chrono::steady_clock::now();
  const Config cfg = options.quick ? quick_config() : Config{};
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

  const std::string cache =
      !options.model.empty()
          ? options.model
          : (std::filesystem::path(options.csv).parent_path() / "fashion_mnist_pretrained.bin")
                .string();
  const Mlp pretrained = pretrained_model(original_train, original_test, cfg, cache);
  const auto logits_of = [&](const Matrix& X) { return logits(pretrained, X); };

  const Dataset train = shifted(original_train);
  const Dataset test = shifted(original_test);
  const double frozen_accuracy = accuracy(test, logits_of);
  std::printf("Pretrained model: %.2f%% on the original test set, %.2f%% on the shifted one\n",
              accuracy(original_test, logits_of), frozen_accuracy);

  const Experiments experiments = run_experiments(pretrained, train, test, cfg);
  check_merge(*experiments.last_glora, pretrained, test, cfg);
  report(experiments, frozen_accuracy, train, test, cfg, options.csv);
  std::printf("Total time %.1f s\n", seconds_since(start));
  return 0;
}

void print_usage(const char* program) {
  std::printf(
      "Usage: %s [--data DIR] [--csv FILE] [--model FILE] [--quick]\n"
      "  --data DIR    the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)\n"
      "  --csv FILE    where to write the results (default fashion_mnist_results.csv)\n"
      "  --model FILE  cache of the pretrained model (default fashion_mnist_pretrained.bin\n"
      "                next to the CSV file); delete it to pretrain again\n"
      "  --quick       a run of seconds on small subsets, to check that everything works\n",
      program);
}

/// Parses the command line; nothing on success, else the exit code to return.
std::optional<int> parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--data" && has_value) {
      options.data_dir = argv[++i];
    } else if (arg == "--csv" && has_value) {
      options.csv = argv[++i];
    } else if (arg == "--model" && has_value) {
      options.model = argv[++i];
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

}  // namespace
}  // namespace fmnist

int main(int argc, char** argv) {
  fmnist::Options options;
  if (std::optional<int> code = fmnist::parse(argc, argv, options)) return *code;
  try {
    return fmnist::run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
