#pragma once
// glora: GLoRA (Generalized LoRA) layers for Eigen models.
//
//   W = W0 + W0 ⊙ A + B,   b = b0 + b0 ⊙ D + E + W0 c,   y = W x + b

#include <glora/adapter.hpp>
#include <glora/backward_workspace.hpp>
#include <glora/config.hpp>
#include <glora/dense.hpp>
#include <glora/dynamic_adapter.hpp>
#include <glora/dynamic_linear.hpp>
#include <glora/errors.hpp>
#include <glora/kinds.hpp>
#include <glora/linear.hpp>
#include <glora/losses.hpp>
#include <glora/optim.hpp>
#include <glora/parameters.hpp>
#include <glora/presets.hpp>
#include <glora/support.hpp>
#include <glora/workspace.hpp>
