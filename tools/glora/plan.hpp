#pragma once
// Which base tensors each adapter layer merges into, found and checked before
// anything is written: what `glora merge --dry-run` reports and what the merge
// then follows.

#include "inputs.hpp"

#include <glora/config.hpp>
#include <glora/io/dtype.hpp>
#include <glora/io/safetensors_model.hpp>

#include <Eigen/Core>

#include <optional>
#include <string>
#include <vector>

namespace glora::cli {

/// How an adapter's layer names become the base's module names: `strip` is
/// taken off the front, then `add` put on. By default PEFT's
/// "base_model.model." is taken off where a name has it; with --prefix every
/// name must start with the given prefix.
struct NameMapping {
  std::string strip = "base_model.model.";
  std::string add;
  bool given = false;

  /// From --prefix FROM or --prefix FROM=TO (nothing: the default).
  static NameMapping parse(const std::optional<std::string>& prefix);

  /// The base module of an adapter layer stored as `stored`. Throws Failure
  /// (mismatch) when --prefix was given and the name does not start with it.
  std::string module_of(const std::string& stored) const;
};

/// One adapter layer and the base tensors it merges into.
struct LayerPlan {
  std::string layer;   ///< the adapter's name for it (as `glora inspect` lists it)
  std::string module;  ///< the base's: its tensors are <module>.weight and <module>.bias
  LayerConfig config;
  Eigen::Index out = 0, in = 0;
  io::SafetensorsModel::Location weight;               ///< [out, in]
  std::optional<io::SafetensorsModel::Location> bias;  ///< [out], when the base has one
  /// The base has no bias and the adapter adds one (C or E): <module>.bias is new.
  bool adds_bias = false;

  std::string weight_name() const { return module + ".weight"; }
  std::string bias_name() const { return module + ".bias"; }
  bool writes_bias() const { return bias.has_value() || adds_bias; }
  /// The dtype of the bias written: the base's, or the weight's for a new one.
  io::DType bias_dtype() const { return bias ? bias->tensor->dtype : weight.tensor->dtype; }
  /// Computed in double for an F64 weight; in float for F32, BF16 and F16.
  bool in_double() const { return weight.tensor->dtype == io::DType::F64; }
};

/// Finds and checks the base tensors of every adapter layer, and reads every
/// adapter layer once (a value that is not finite is refused now, before any
/// output exists). Throws Failure: mismatch for a missing base weight, a name
/// two layers map to, or a base tensor whose shape differs from the layer's;
/// dtype for a base weight or bias that is not F32, F64, BF16 or F16; broken
/// for an adapter the readers refuse.
std::vector<LayerPlan> plan_merge(const io::SafetensorsModel& base, const AdapterSource& adapter,
                                  const NameMapping& names);

/// The base model as messages name it: its file, or its index for shards.
std::string model_name(const io::SafetensorsModel& model);

}  // namespace glora::cli
