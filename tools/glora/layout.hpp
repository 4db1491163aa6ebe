#pragma once
// What the merged model holds, file by file: every tensor of the base in its
// dtype and shape, in the base's order, except that each adapted layer's bias
// follows its weight (merged together; a bias kept in another shard moves to
// its weight's), and a new bias where the adapter adds one.

#include "plan.hpp"

#include <glora/io/safetensors_model.hpp>
#include <glora/io/safetensors_writer.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace glora::cli {

/// One output file: the tensors to declare, and where each comes from.
struct OutputShard {
  /// A copied tensor, or an adapted layer: its merged weight, then its bias if written.
  struct Item {
    const io::TensorInfo* copy = nullptr;
    const LayerPlan* layer = nullptr;
  };

  std::size_t shard = 0;  ///< the base's shard it is made from (its position in shards())
  std::string name;       ///< the file name: the base shard's
  std::vector<io::TensorSpec> tensors;
  std::vector<Item> items;

  std::uint64_t bytes() const;
};

/// The output files of a merge of `layers` into `base`, one per base shard.
std::vector<OutputShard> output_layout(const io::SafetensorsModel& base,
                                       const std::vector<LayerPlan>& layers);

/// The bytes of all output files' tensors.
std::uint64_t total_bytes(const std::vector<OutputShard>& shards);

/// The bytes of a tensor's data.
std::uint64_t tensor_bytes(const io::TensorSpec& t);

}  // namespace glora::cli
