#pragma once
// Supernet training as the reference does it: the adapted layers are run-time
// configured layers (DynamicLinear) sized for their space's capacity, whose
// configurations share one set of tensors; before every training step each
// layer draws its configuration uniformly from its space, so that over the
// run every configuration trains the part of the tensors it uses.
//
//   glora::Supernet supernet(glora::search_layers(layers, space), steps);
//   glora::AdamW<float> adam(supernet.optimiser_options<float>());
//   for (std::int64_t step = 0; step < steps; ++step) {
//     supernet.sample(layers);  // draws, sets on the layers
//     ... forward, loss, backward into zeros_like(layer.adapter()) ...
//     adam.set_learning_rate(supernet.learning_rate<float>(step));
//     adam.step(layer.adapter(), grads);  // per layer (and the task head)
//   }
//
// Backward gives gradient only to the part of the tensors the drawn
// configuration uses; the optimiser then steps every tensor whole, as
// torch.optim.AdamW does with the reference's sliced parameters (weight decay
// and the moments of earlier steps move the parts not drawn, too).

#include <glora/config.hpp>
#include <glora/errors.hpp>
#include <glora/optim.hpp>
#include <glora/search/layers.hpp>
#include <glora/search/model.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace glora {

/// How a supernet trains; the defaults are the reference's (supernet.py:
/// AdamW lr 1e-4, weight decay 1e-4, a cosine schedule after 10 warm-up
/// epochs of 500).
struct SupernetSettings {
  /// Seeds the draws: one seed, one sequence of configurations on every platform.
  std::uint64_t seed = 1;
  /// The peak learning rate, reached after the warm-up (reference: --lr 1e-4).
  double learning_rate = 1e-4;
  /// AdamW's decoupled weight decay (reference: --wd 1e-4).
  double weight_decay = 1e-4;
  /// The share of the steps spent warming up, rounded down to whole steps
  /// (reference: 10 of 500 epochs).
  double warmup_fraction = 0.02;
};

/// The draws and the schedule of supernet training for a model's adapted
/// layers (see the top of this header for the loop).
///
/// The reference's schedule (timm's CosineLRScheduler) warms up from 1e-6
/// and ends at 1e-5; this one is glora::cosine_schedule, from 0 up to the
/// peak and down to 0.
class Supernet {
 public:
  /// `layers` are the adapted layers (e.g. search_layers(model, space)),
  /// `steps` the training steps the run will take. Throws search_error for
  /// an empty list, an empty space, a non-positive shape, fewer than one
  /// step, or a setting out of range (learning rate or weight decay below 0,
  /// warm-up fraction outside [0, 1]).
  Supernet(std::vector<SearchLayer> layers, std::int64_t steps,
           const SupernetSettings& settings = {})
      : layers_(std::move(layers)), steps_(steps), settings_(settings), rng_(settings.seed) {
    detail::check_layers("glora::Supernet", layers_);
    const auto check = [](bool ok, const char* name, double value, const char* expected) {
      if (ok) return;
      std::ostringstream message;
      message << "glora::Supernet: " << name << " is " << value << ", expected " << expected;
      throw search_error(message.str());
    };
    check(steps >= 1, "steps", static_cast<double>(steps), "at least 1");
    check(settings.learning_rate >= 0, "learning_rate", settings.learning_rate, "at least 0");
    check(settings.weight_decay >= 0, "weight_decay", settings.weight_decay, "at least 0");
    check(settings.warmup_fraction >= 0 && settings.warmup_fraction <= 1, "warmup_fraction",
          settings.warmup_fraction, "within [0, 1]");
    warmup_steps_ = static_cast<std::int64_t>(
        std::floor(settings.warmup_fraction * static_cast<double>(steps)));
  }

  /// Draws one configuration per layer, each uniformly from its layer's space
  /// (sample_configs), and sets it on `layers` (set_configs): the model's
  /// run-time configured layers, or pointers to them, in the order of
  /// layers(). Returns the draw. Call it before every training step.
  /// Allocates nothing once the first draw is made. Throws, before drawing,
  /// search_error unless `layers` has one layer per layers() entry, and
  /// shape_error (naming the layer) for a layer of another shape than its
  /// entry or whose tensors cannot hold every configuration of its space.
  template <typename Layers>
  const std::vector<LayerConfig>& sample(Layers& layers) {
    check_model(layers);
    sample_configs(layers_, rng_, configs_);
    set_configs(layers, configs_);
    return configs_;
  }

  /// The learning rate of training step `step` (from 0): a linear warm-up to
  /// the peak over warmup_steps(), then half a cosine to 0 at steps().
  template <typename T>
  T learning_rate(std::int64_t step) const {
    return cosine_schedule(step, steps_, warmup_steps_, static_cast<T>(settings_.learning_rate));
  }

  /// The options of the AdamW that trains the supernet (and the task head):
  /// the peak learning rate and the weight decay of the settings.
  template <typename T>
  typename AdamW<T>::Options optimiser_options() const {
    return typename AdamW<T>::Options()
        .lr(static_cast<T>(settings_.learning_rate))
        .weight_decay(static_cast<T>(settings_.weight_decay));
  }

  /// The adapted layers, as given.
  const std::vector<SearchLayer>& layers() const { return layers_; }
  /// The last draw (empty before the first).
  const std::vector<LayerConfig>& configs() const { return configs_; }
  std::int64_t steps() const { return steps_; }
  std::int64_t warmup_steps() const { return warmup_steps_; }
  const SupernetSettings& settings() const { return settings_; }

 private:
  template <typename Layers>
  void check_model(const Layers& layers) const {
    const char* where = "glora::Supernet::sample";
    const auto count =
        static_cast<std::size_t>(std::distance(std::begin(layers), std::end(layers)));
    if (count != layers_.size()) {
      throw search_error(std::string(where) + ": " + std::to_string(count) +
                         " layers given, expected " + std::to_string(layers_.size()) +
                         " (those the supernet was made for)");
    }
    std::size_t i = 0;
    for (const auto& element : layers) {
      const auto& layer = detail::layer_of(element);
      const SearchLayer& expected = layers_[i];
      if (layer.out_features() != expected.out || layer.in_features() != expected.in) {
        throw shape_error(std::string(where) + ": layers[" + std::to_string(i) + "] is " +
                          detail::shape_string(layer.out_features(), layer.in_features()) +
                          ", expected " + detail::shape_string(expected.out, expected.in) +
                          " (the shape the supernet was made for)");
      }
      detail::check_layer_takes(where, layer, i, expected.space.capacity());
      ++i;
    }
  }

  std::vector<SearchLayer> layers_;
  std::int64_t steps_;
  std::int64_t warmup_steps_ = 0;
  SupernetSettings settings_;
  std::mt19937_64 rng_;
  std::vector<LayerConfig> configs_;
};

}  // namespace glora
