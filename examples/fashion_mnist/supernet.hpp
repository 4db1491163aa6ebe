#pragma once
// GLoRA's own method on the example's network, as the paper runs it:
//
//  1. The hidden layers become run-time configured GLoRA layers over the
//     frozen pretrained weights, sized for the search space's capacity, and
//     train as one weight-sharing supernet: before every step each layer
//     draws its configuration uniformly from the space (glora::Supernet).
//  2. The evolutionary search (glora::evolve, the reference's settings)
//     picks one configuration per layer within a parameter budget; a
//     candidate's fitness is the supernet's accuracy with it on a validation
//     split carved out of the training data.
//  3. The choice is tested with the weights it inherits from the supernet
//     (what the paper reports), and after training that configuration again
//     from a fresh initialisation.

#include "dataset.hpp"
#include "network.hpp"
#include "random.hpp"
#include "training.hpp"

#include <glora/glora.hpp>
#include <glora/search.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fmnist {

using glora::LayerConfig;

/// The paper's {4, 2} supernet: LoRA_4 or LoRA_2 wherever the reference
/// offers LoRA_r, so 5 * 5 * 4 * 3 * 3 = 900 configurations per layer.
inline glora::SearchSpace search_space() { return glora::SearchSpace::reference({4, 2}); }

/// A network whose hidden layers are run-time configured GLoRA layers over
/// copies of `body`'s frozen weights, layer l with tensors for
/// capacities[l] (initialised as the reference does, from `seed`: it starts
/// equal to the pretrained network), and `head` on top.
inline Network<DynamicLayer> dynamic_network(const Mlp& body, const Dense& head,
                                             const std::vector<LayerConfig>& capacities,
                                             std::uint32_t seed, float weight_decay) {
  std::vector<TrainableLayer<DynamicLayer>> hidden;
  for (std::size_t l = 0; l < body.size(); ++l) {
    DynamicLayer layer(body[l].weight, body[l].bias, capacities[l]);
    layer.adapter().initialize(std::uint64_t{seed} * 100 + l);
    hidden.emplace_back(std::move(layer), weight_decay);
  }
  return {{}, std::move(hidden), TrainableLayer<Dense>(head, weight_decay)};
}

/// Trains a network of run-time configured layers as a supernet: every
/// training step first draws the layers' configurations.
class SupernetTrainer {
 public:
  SupernetTrainer(Network<DynamicLayer>& net, glora::Supernet supernet)
      : net_(net), layers_(net.hidden_layers()), supernet_(std::move(supernet)) {}

  StepResult train_step(const Matrix& X, const std::vector<int>& labels, float learning_rate) {
    supernet_.sample(layers_);
    return net_.train_step(X, labels, learning_rate);
  }

 private:
  Network<DynamicLayer>& net_;
  std::vector<DynamicLayer*> layers_;
  glora::Supernet supernet_;
};

/// The supernet's accuracy (%) on `data` with configs[l] on hidden layer l;
/// the layers keep those configurations. Evaluated merged: the same numbers
/// as the unmerged layers up to rounding, at the cost of the frozen network.
inline double accuracy_with(Network<DynamicLayer>& net, const std::vector<LayerConfig>& configs,
                            const Dataset& data) {
  std::vector<DynamicLayer*> layers = net.hidden_layers();
  glora::set_configs(layers, configs);
  const Mlp merged = net.merged();
  return accuracy(data, [&](const Matrix& X) { return logits(merged, X); });
}

/// The reference's evolutionary search over `net`'s hidden layers within
/// [0, budget] trainable parameters (the head not counted); fitness is the
/// accuracy on `validation`. Returns the best candidate.
inline glora::Candidate search(Network<DynamicLayer>& net, const Dataset& validation,
                               Eigen::Index budget, glora::EvolutionSettings settings) {
  const std::vector<glora::SearchLayer> layers =
      glora::search_layers(net.hidden_layers(), search_space());
  settings.max_parameters = budget;
  settings.progress = nullptr;
  const glora::Fitness fitness = [&](const std::vector<LayerConfig>& configs) {
    return accuracy_with(net, configs, validation);
  };
  return glora::evolve(layers, fitness, settings).best.front();
}

}  // namespace fmnist
