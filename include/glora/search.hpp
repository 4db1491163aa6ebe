#pragma once
// glora's configuration search: a space of configurations per layer
// (SearchSpace), the adapted layers with their shapes (SearchLayer), uniform
// draws for supernet training steps (sample_configs) and the reference's
// evolutionary search (evolve). None of it needs the layer templates.

#include <glora/config.hpp>
#include <glora/search/evolution.hpp>
#include <glora/search/layers.hpp>
#include <glora/search/space.hpp>
