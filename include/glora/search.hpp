#pragma once
// glora's configuration search, GLoRA's "one for all": a space of
// configurations per layer (SearchSpace), the adapted layers with their
// shapes (SearchLayer), supernet training (Supernet: a uniform draw per layer
// and step, set on the model's run-time configured layers), the reference's
// evolutionary search (evolve), and deployment of what it finds
// (set_configs, merge_all).

#include <glora/config.hpp>
#include <glora/search/evolution.hpp>
#include <glora/search/layers.hpp>
#include <glora/search/model.hpp>
#include <glora/search/space.hpp>
#include <glora/search/supernet.hpp>
