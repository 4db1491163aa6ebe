#include "inputs.hpp"

#include <filesystem>
#include <utility>

namespace glora::cli {

namespace fs = std::filesystem;

namespace {

/// "--base model.safetensors", or the path alone when it came without an option.
std::string where(const std::string& option, const std::string& path) {
  return option.empty() ? path : option + " " + path;
}

bool exists(const std::string& path) {
  std::error_code ignored;
  return fs::exists(path, ignored);
}

bool is_folder(const std::string& path) {
  std::error_code ignored;
  return fs::is_directory(path, ignored);
}

std::string join(const std::string& folder, const char* name) {
  return (fs::path(folder) / name).string();
}

}  // namespace

bool is_index_file(const std::string& path) {
  const std::string suffix = ".index.json";
  return path.size() > suffix.size() &&
         path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void require_exists(const std::string& option, const std::string& path) {
  if (!exists(path)) throw Failure(Exit::missing, where(option, path) + ": no such file or folder");
}

AdapterSource::AdapterSource(const std::string& option, const std::string& path) : path_(path) {
  require_exists(option, path);
  if (!is_folder(path)) {
    file_.emplace(reading([&] { return io::AdapterFile(path); }));
    return;
  }
  for (const char* name : {io::peft_config_name, io::peft_weights_name}) {
    if (!exists(join(path, name))) {
      throw Failure(Exit::missing, where(option, path) + ": the folder has no " + name +
                                       " (a PEFT adapter folder holds " + io::peft_config_name +
                                       " and " + io::peft_weights_name + ")");
    }
  }
  peft_.emplace(reading([&] { return io::PeftAdapter(path); }));
}

std::string AdapterSource::stored_name(const io::LayerTensors& layer) const {
  if (!peft_) return layer.name;
  for (const io::TensorInfo* t : layer.tensors) {
    if (t != nullptr) return t->name.substr(0, t->name.rfind(".glora_"));
  }
  return "base_model.model." + layer.name;
}

io::SafetensorsModel open_model(const std::string& option, const std::string& path) {
  require_exists(option, path);
  std::string index_path = path, file = path;
  bool sharded = is_index_file(path);
  if (is_folder(path)) {
    index_path = join(path, io::shard_index_name);
    file = join(path, "model.safetensors");
    sharded = exists(index_path);
    if (!sharded && !exists(file)) {
      throw Failure(Exit::missing, where(option, path) + ": the folder has neither " +
                                       io::shard_index_name + " nor model.safetensors");
    }
  }
  if (!sharded) return reading([&] { return io::SafetensorsModel(file); });
  io::ShardIndex index = reading([&] { return io::read_shard_index(index_path); });
  for (const std::string& shard : index.shards()) {
    const std::string shard_path = io::folder_of(index_path) + shard;
    if (!exists(shard_path)) {
      throw Failure(Exit::missing,
                    shard_path + ": no such file (a shard that " + index_path + " names)");
    }
  }
  return reading([&] { return io::SafetensorsModel(index_path, std::move(index)); });
}

}  // namespace glora::cli
