#include "plan.hpp"

#include <glora/io/dtype.hpp>
#include <glora/io/safetensors_header.hpp>

#include <map>

namespace glora::cli {

namespace {

std::string quote(const std::string& name) { return "\"" + name + "\""; }

/// "6 x 5", with "?" for an extent the adapter does not fix.
std::string layer_shape(const io::LayerTensors& layer) {
  const auto extent = [](Eigen::Index n) { return n < 0 ? std::string("?") : std::to_string(n); };
  return extent(layer.out) + " x " + extent(layer.in);
}

void require_floating(const io::SafetensorsModel& base, const io::TensorInfo& t) {
  if (!io::is_floating(t.dtype)) {
    throw Failure(Exit::dtype, model_name(base) + ": tensor " + quote(t.name) + " is " +
                                   io::dtype_name(t.dtype) +
                                   "; the merge computes with F32, F64, BF16 and F16 tensors");
  }
}

[[noreturn]] void shape_mismatch(const io::LayerTensors& layer, const io::TensorInfo& t) {
  throw Failure(Exit::mismatch, "adapter layer " + quote(layer.name) + " is " + layer_shape(layer) +
                                    " (out x in), but the base tensor " + quote(t.name) + " is " +
                                    io::shape_string(t.shape));
}

/// The layer's shape checked against its base tensors, and taken from them
/// where the adapter leaves it open.
void match_shapes(const io::LayerTensors& layer, LayerPlan& plan) {
  const io::TensorInfo& w = *plan.weight.tensor;
  const auto fits = [](Eigen::Index wanted, std::uint64_t have) {
    return wanted < 0 || static_cast<std::uint64_t>(wanted) == have;
  };
  if (w.shape.size() != 2 || !fits(layer.out, w.shape[0]) || !fits(layer.in, w.shape[1])) {
    shape_mismatch(layer, w);
  }
  plan.out = static_cast<Eigen::Index>(w.shape[0]);
  plan.in = static_cast<Eigen::Index>(w.shape[1]);
  if (plan.bias) {
    const io::TensorInfo& b = *plan.bias->tensor;
    if (b.shape.size() != 1 || b.shape[0] != w.shape[0]) {
      throw Failure(Exit::mismatch, "adapter layer " + quote(layer.name) + " is " +
                                        std::to_string(plan.out) + " x " + std::to_string(plan.in) +
                                        " (out x in), but the base tensor " + quote(b.name) +
                                        " is " + io::shape_string(b.shape) + ", expected [" +
                                        std::to_string(plan.out) + "]");
    }
  }
}

/// Reads the layer's adapter once, so that a value the reader refuses stops the
/// merge before anything is written. (Its shapes fit: the reader has checked
/// them against its out x in, which match_shapes has checked against the base.)
template <typename T>
void read_adapter(const AdapterSource& adapter, const LayerPlan& plan) {
  (void)adapter.read<T>(plan.layer);
}

}  // namespace

NameMapping NameMapping::parse(const std::optional<std::string>& prefix) {
  NameMapping m;
  if (!prefix) return m;
  const std::size_t equals = prefix->find('=');
  m.strip = prefix->substr(0, equals);
  m.add = equals == std::string::npos ? std::string() : prefix->substr(equals + 1);
  m.given = true;
  return m;
}

std::string NameMapping::module_of(const std::string& stored) const {
  if (stored.compare(0, strip.size(), strip) == 0) return add + stored.substr(strip.size());
  if (given) {
    throw Failure(Exit::mismatch, "adapter layer " + quote(stored) +
                                      " does not start with the prefix " + quote(strip) +
                                      " given by --prefix");
  }
  return add + stored;
}

std::string model_name(const io::SafetensorsModel& model) {
  return model.sharded() ? model.index_path() : model.shards().front().path();
}

std::vector<LayerPlan> plan_merge(const io::SafetensorsModel& base, const AdapterSource& adapter,
                                  const NameMapping& names) {
  std::vector<LayerPlan> plans;
  std::map<std::string, std::string> layer_of_module;
  for (const io::LayerTensors& layer : adapter.layers()) {
    LayerPlan plan;
    plan.layer = layer.name;
    plan.module = names.module_of(adapter.stored_name(layer));
    plan.config = layer.config;
    const auto [other, fresh] = layer_of_module.emplace(plan.module, layer.name);
    if (!fresh) {
      throw Failure(Exit::mismatch, "adapter layers " + quote(other->second) + " and " +
                                        quote(layer.name) + " both map to the base module " +
                                        quote(plan.module));
    }
    const auto weight = base.find(plan.weight_name());
    if (!weight) {
      throw Failure(Exit::mismatch, "adapter layer " + quote(layer.name) + " has no base tensor " +
                                        quote(plan.weight_name()) + " in " + model_name(base));
    }
    plan.weight = *weight;
    plan.bias = base.find(plan.bias_name());
    require_floating(base, *plan.weight.tensor);
    if (plan.bias) require_floating(base, *plan.bias->tensor);
    match_shapes(layer, plan);
    plan.adds_bias =
        !plan.bias && (plan.config.C.kind != Kind::none || plan.config.E.kind != Kind::none);
    if (plan.in_double()) {
      read_adapter<double>(adapter, plan);
    } else {
      read_adapter<float>(adapter, plan);
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace glora::cli
