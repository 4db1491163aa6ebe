#pragma once
// glora serving: many adapters over one frozen base, run in mixed batches.
// Not part of glora.hpp.

#include <glora/glora.hpp>
#include <glora/serving/adapter_bank.hpp>
#include <glora/serving/bank_workspace.hpp>
#include <glora/serving/keys.hpp>
