#include "layout.hpp"

#include <glora/io/dtype.hpp>

#include <filesystem>
#include <map>

namespace glora::cli {

std::uint64_t tensor_bytes(const io::TensorSpec& t) {
  std::uint64_t bytes = io::dtype_size(t.dtype);
  for (const std::uint64_t d : t.shape) bytes *= d;  // the base's sizes, checked when it was read
  return bytes;
}

std::uint64_t OutputShard::bytes() const {
  std::uint64_t total = 0;
  for (const io::TensorSpec& t : tensors) total += tensor_bytes(t);
  return total;
}

std::uint64_t total_bytes(const std::vector<OutputShard>& shards) {
  std::uint64_t total = 0;
  for (const OutputShard& shard : shards) total += shard.bytes();
  return total;
}

std::vector<OutputShard> output_layout(const io::SafetensorsModel& base,
                                       const std::vector<LayerPlan>& layers) {
  std::map<std::string, const LayerPlan*> by_weight;
  std::map<std::string, const LayerPlan*> by_bias;
  for (const LayerPlan& layer : layers) {
    by_weight.emplace(layer.weight_name(), &layer);
    if (layer.bias) by_bias.emplace(layer.bias_name(), &layer);
  }
  std::vector<OutputShard> shards;
  for (std::size_t k = 0; k < base.shards().size(); ++k) {
    OutputShard out;
    out.shard = k;
    out.name = std::filesystem::path(base.shards()[k].path()).filename().string();
    for (const io::TensorInfo& t : base.shards()[k].tensors()) {
      if (by_bias.count(t.name) != 0) continue;  // written after its weight
      out.tensors.push_back({t.name, t.dtype, t.shape});
      const auto adapted = by_weight.find(t.name);
      if (adapted == by_weight.end()) {
        out.items.push_back({&t, nullptr});
        continue;
      }
      const LayerPlan& layer = *adapted->second;
      if (layer.writes_bias()) {
        out.tensors.push_back(
            {layer.bias_name(), layer.bias_dtype(), {static_cast<std::uint64_t>(layer.out)}});
      }
      out.items.push_back({nullptr, &layer});
    }
    shards.push_back(std::move(out));
  }
  return shards;
}

}  // namespace glora::cli
