#pragma once
// A model stored as safetensors: one file, or shards listed by an index, the
// layout Hugging Face uses for models over a few GB:
//
//   <folder>/model.safetensors.index.json   {"metadata": {"total_size": <bytes>, ...},
//                                            "weight_map": {"<tensor>": "<shard file>", ...}}
//   <folder>/model-00001-of-00002.safetensors, ...
//
// Tensors are found by name whichever shard holds them; every shard is
// memory-mapped and validated when the model is opened, and read only where
// a tensor is used.

#include <glora/io/atomic_file.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/linkage.hpp>
#include <glora/io/safetensors_file.hpp>
#include <glora/io/safetensors_header.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glora::io {

/// The file name of a sharded model's index, in the model's folder.
inline constexpr const char* shard_index_name = "model.safetensors.index.json";

/// A sharded model's index (model.safetensors.index.json).
struct ShardIndex {
  /// "metadata": an object, kept as it is (Hugging Face writes "total_size", the bytes of
  /// all tensors); empty when the file has none.
  nlohmann::json metadata = nlohmann::json::object();
  /// "weight_map": each tensor's shard, a file name in the index's folder.
  std::map<std::string, std::string> weight_map;

  /// The shard file names, sorted, each once.
  std::vector<std::string> shards() const {
    std::vector<std::string> names;
    for (const auto& entry : weight_map) names.push_back(entry.second);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  }
};

/// Reads and checks the index at `path`. Throws file_error for a file that
/// cannot be read, is not JSON, or breaks the layout above; a shard must be a
/// plain file name (no folder part), so that an index cannot point outside
/// its folder.
GLORA_IO_INLINE ShardIndex read_shard_index(const std::string& path);

/// Writes `index` to `path` as JSON (two-space indent, as Hugging Face does),
/// atomically. Throws file_error when it cannot.
GLORA_IO_INLINE void write_shard_index(const std::string& path, const ShardIndex& index);

/// The folder part of `path` with its trailing slash ("" for a bare name).
inline std::string folder_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

/// A model in one safetensors file or in shards. Movable.
class SafetensorsModel {
 public:
  /// One file.
  explicit SafetensorsModel(const std::string& file) { shards_.emplace_back(file); }

  /// The shards of `index`, read from the index's folder (`index_path` is the
  /// index file's path). Throws file_error for a shard that cannot be read or
  /// is broken, a tensor the index maps to a shard that does not hold it, and
  /// a tensor of a shard that the index does not map to that shard.
  SafetensorsModel(const std::string& index_path, ShardIndex index);

  /// Whether the model came from an index.
  bool sharded() const { return index_.has_value(); }
  /// The index's path and contents (sharded models only).
  const std::string& index_path() const { return index_path_; }
  const std::optional<ShardIndex>& index() const { return index_; }

  /// The shards, sorted by file name (one for a single file).
  const std::vector<SafetensorsFile>& shards() const { return shards_; }

  /// Where a tensor is: its shard's position in shards() and its entry.
  struct Location {
    std::size_t shard;
    const TensorInfo* tensor;
  };
  /// The tensor called `name`, or nothing.
  std::optional<Location> find(std::string_view name) const {
    for (std::size_t k = 0; k < shards_.size(); ++k) {
      if (const TensorInfo* t = shards_[k].find(name)) return Location{k, t};
    }
    return std::nullopt;
  }

 private:
  std::string index_path_;
  std::optional<ShardIndex> index_;
  std::vector<SafetensorsFile> shards_;
};

}  // namespace glora::io

// The definitions of the functions declared above (see linkage.hpp).
#if GLORA_IO_DEFINE
namespace glora::io {

GLORA_IO_INLINE ShardIndex read_shard_index(const std::string& path) {
  const nlohmann::json json = detail::read_json_object(path);
  ShardIndex index;
  if (json.contains("metadata")) {
    if (!json["metadata"].is_object()) {
      detail::fail(
          path, "\"metadata\" is " + std::string(json["metadata"].type_name()) + ", not an object");
    }
    index.metadata = json["metadata"];
  }
  if (!json.contains("weight_map")) detail::fail(path, "has no \"weight_map\"");
  const nlohmann::json& map = json["weight_map"];
  if (!map.is_object()) {
    detail::fail(path, "\"weight_map\" is " + std::string(map.type_name()) +
                           ", not an object of tensor names and shard files");
  }
  for (const auto& item : map.items()) {
    const std::string where = "\"weight_map\": tensor " + detail::quote(item.key());
    if (!item.value().is_string()) {
      detail::fail(path, where + " maps to " + std::string(item.value().type_name()) +
                             ", not a shard file name");
    }
    const std::string& shard = item.value().get_ref<const std::string&>();
    if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos) {
      detail::fail(path, where + " maps to " + detail::quote(shard) +
                             ", which is not a file name in the index's folder");
    }
    index.weight_map.emplace(item.key(), shard);
  }
  return index;
}

GLORA_IO_INLINE void write_shard_index(const std::string& path, const ShardIndex& index) {
  const nlohmann::json json = {{"metadata", index.metadata}, {"weight_map", index.weight_map}};
  const std::string text = json.dump(2) + "\n";
  AtomicFile file(path);
  file.write(text.data(), text.size());
  file.commit();
}

GLORA_IO_INLINE SafetensorsModel::SafetensorsModel(const std::string& index_path, ShardIndex index)
    : index_path_(index_path), index_(std::move(index)) {
  const std::string folder = folder_of(index_path);
  const std::vector<std::string> names = index_->shards();
  for (const std::string& name : names) shards_.emplace_back(folder + name);
  for (std::size_t k = 0; k < shards_.size(); ++k) {
    for (const TensorInfo& t : shards_[k].tensors()) {
      const auto it = index_->weight_map.find(t.name);
      if (it == index_->weight_map.end() || it->second != names[k]) {
        detail::fail(
            index_path,
            "tensor " + detail::quote(t.name) + " of " + detail::quote(names[k]) +
                (it == index_->weight_map.end() ? std::string(" is not in \"weight_map\"")
                                                : " is mapped to " + detail::quote(it->second)));
      }
    }
  }
  for (const auto& [tensor, shard] : index_->weight_map) {
    const std::size_t k = static_cast<std::size_t>(
        std::lower_bound(names.begin(), names.end(), shard) - names.begin());
    if (shards_[k].find(tensor) == nullptr) {
      detail::fail(index_path, "\"weight_map\" maps tensor " + detail::quote(tensor) + " to " +
                                   detail::quote(shard) + ", which has no such tensor");
    }
  }
}

}  // namespace glora::io
#endif  // GLORA_IO_DEFINE
