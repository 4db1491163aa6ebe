#pragma once
// The adapted layers of a model as the search sees them: each with its own
// space and its own out x in shape. A candidate is one LayerConfig per layer,
// in the same order.

#include <glora/config.hpp>
#include <glora/search/space.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <random>
#include <string>
#include <vector>

namespace glora {

/// One adapted layer: the configurations it may take, and its shape (the
/// frozen W0 is out x in).
struct SearchLayer {
  SearchSpace space;
  Eigen::Index out = 0;
  Eigen::Index in = 0;
};

namespace detail {

/// Throws search_error unless there is at least one layer and every layer has
/// a non-empty space and a positive shape. `where` names the caller.
inline void check_layers(const char* where, const std::vector<SearchLayer>& layers) {
  if (layers.empty()) throw search_error(std::string(where) + ": no layers given");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const SearchLayer& layer = layers[i];
    if (!layer.space.empty() && layer.out > 0 && layer.in > 0) continue;
    const std::string which = std::string(where) + ": layer " + std::to_string(i);
    if (layer.space.empty()) throw search_error(which + " has an empty search space");
    throw search_error(which + " is " + std::to_string(layer.out) + " x " +
                       std::to_string(layer.in) + ", expected a positive out x in");
  }
}

/// Throws search_error unless there is one configuration per layer.
inline void check_candidate_size(const char* where, const std::vector<SearchLayer>& layers,
                                 const std::vector<LayerConfig>& configs) {
  if (configs.size() != layers.size()) {
    throw search_error(std::string(where) + ": " + std::to_string(configs.size()) +
                       " configurations for " + std::to_string(layers.size()) +
                       " layers (one per layer expected)");
  }
}

}  // namespace detail

/// Trainable parameters of a candidate: the sum over the layers of
/// parameter_count(configs[i], layers[i].out, layers[i].in). Throws
/// search_error unless configs has one configuration per layer.
inline Eigen::Index parameter_count(const std::vector<SearchLayer>& layers,
                                    const std::vector<LayerConfig>& configs) {
  detail::check_candidate_size("glora::parameter_count", layers, configs);
  Eigen::Index total = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    total += parameter_count(configs[i], layers[i].out, layers[i].in);
  }
  return total;
}

/// Whether each configs[i] is in layers[i]'s space (false when the counts differ).
inline bool contains(const std::vector<SearchLayer>& layers,
                     const std::vector<LayerConfig>& configs) {
  if (configs.size() != layers.size()) return false;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (!layers[i].space.contains(configs[i])) return false;
  }
  return true;
}

/// Draws one configuration per layer, each uniformly from its layer's space,
/// into `configs` (resized to the number of layers; no allocation once it has
/// that size): the configuration of one supernet training step. The same
/// generator state gives the same draws on every platform. Throws
/// search_error for an empty list of layers or an empty space.
inline void sample_configs(const std::vector<SearchLayer>& layers, std::mt19937_64& rng,
                           std::vector<LayerConfig>& configs) {
  detail::check_layers("glora::sample_configs", layers);
  configs.resize(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) configs[i] = layers[i].space.sample(rng);
}

/// As above, returning the configurations.
inline std::vector<LayerConfig> sample_configs(const std::vector<SearchLayer>& layers,
                                               std::mt19937_64& rng) {
  std::vector<LayerConfig> configs;
  sample_configs(layers, rng, configs);
  return configs;
}

}  // namespace glora
