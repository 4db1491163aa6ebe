#pragma once
// A model's adapted layers as one list, in the order the search sees them:
//
//   search_layers(layers, space)  the search's view of them (each shape with `space`)
//   set_configs(layers, configs)  configs[i] on layers[i], all or nothing
//   merge_all(layers)             plain Dense layers to deploy
//
// `layers` is any range (std::vector, std::array, ...) of run-time configured
// layers (DynamicLinear, DynamicLinearView) or of pointers to them (raw or
// smart); merge_all takes compile-time layers too.

#include <glora/config.hpp>
#include <glora/dense.hpp>
#include <glora/errors.hpp>
#include <glora/search/layers.hpp>
#include <glora/search/space.hpp>

#include <cstddef>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace glora {

namespace detail {

template <typename E, typename = void>
struct is_layer : std::false_type {};
template <typename E>
struct is_layer<E, std::void_t<decltype(std::declval<const E&>().merge())>> : std::true_type {};

/// The layer an element of a list stands for: the element itself, or what it points to.
template <typename E>
decltype(auto) layer_of(E& element) {
  if constexpr (is_layer<std::remove_const_t<E>>::value) {
    return (element);
  } else {
    return (*element);
  }
}

/// Throws unless layer i of a list (a run-time configured layer) can take
/// `config`: config_error for a choice its slot does not allow, shape_error
/// when its tensors cannot hold it. Both name the call and the layer.
template <typename Layer>
void check_layer_takes(const char* where, const Layer& layer, std::size_t i,
                       const LayerConfig& config) {
  for (const Slot s : all_slots) {
    const std::string problem = choice_problem(s, config[s]);
    if (!problem.empty()) {
      throw config_error(std::string(where) + ": layers[" + std::to_string(i) + "]: " + problem);
    }
  }
  const auto& adapter = layer.adapter();
  try {
    adapter.check(where, "", config, layer.out_features(), layer.in_features());
  } catch (const shape_error&) {
    // Checked again with the layer named: the name is built only on failure,
    // so a check that passes (every supernet step) allocates nothing.
    const std::string owner = "layers[" + std::to_string(i) + "].adapter().";
    adapter.check(where, owner.c_str(), config, layer.out_features(), layer.in_features());
    throw;
  }
}

}  // namespace detail

/// The search's view of a model's run-time configured layers: one
/// SearchLayer{space, out, in} per layer, in order, for evolve() and
/// Supernet. Throws search_error for an empty list or an empty space, and
/// shape_error (naming the layer) when a layer's tensors cannot hold every
/// configuration of the space (build them with space.capacity()).
template <typename Layers>
std::vector<SearchLayer> search_layers(const Layers& layers, const SearchSpace& space) {
  std::vector<SearchLayer> result;
  for (const auto& element : layers) {
    const auto& layer = detail::layer_of(element);
    result.push_back({space, layer.out_features(), layer.in_features()});
  }
  detail::check_layers("glora::search_layers", result);
  const LayerConfig capacity = space.capacity();
  std::size_t i = 0;
  for (const auto& element : layers) {
    detail::check_layer_takes("glora::search_layers", detail::layer_of(element), i++, capacity);
  }
  return result;
}

/// Sets configs[i] on layers[i] (run-time configured layers): the
/// configurations a search found, or a supernet step's draw. Every layer is
/// checked before any is set, so a call that throws changes nothing:
/// search_error unless there is one configuration per layer, config_error
/// for a choice a slot does not allow, shape_error when a layer's tensors
/// cannot hold its configuration (each naming the layer). Allocates nothing
/// when the checks pass.
template <typename Layers>
void set_configs(Layers& layers, const std::vector<LayerConfig>& configs) {
  const auto count = static_cast<std::size_t>(std::distance(std::begin(layers), std::end(layers)));
  detail::check_candidate_size("glora::set_configs", count, configs);
  std::size_t i = 0;
  for (const auto& element : layers) {
    detail::check_layer_takes("glora::set_configs", detail::layer_of(element), i, configs[i]);
    ++i;
  }
  i = 0;
  for (auto& element : layers) detail::layer_of(element).set_config(configs[i++]);
}

/// Each layer merged into a plain Dense layer (W and b evaluated once; see
/// Linear::merge), in order: the model to deploy, with the cost of the frozen
/// one.
template <typename Layers>
auto merge_all(const Layers& layers) {
  using Layer = std::decay_t<decltype(detail::layer_of(*std::begin(layers)))>;
  std::vector<Dense<typename Layer::scalar_type>> merged;
  for (const auto& element : layers) merged.push_back(detail::layer_of(element).merge());
  return merged;
}

}  // namespace glora
