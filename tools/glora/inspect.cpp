// glora inspect: what an adapter or a model file holds. The description is
// built once as JSON; --json prints it, the default prints it for people.

#include "arguments.hpp"
#include "commands.hpp"
#include "failure.hpp"
#include "format.hpp"
#include "inputs.hpp"

#include <glora/config.hpp>
#include <glora/io/dtype.hpp>
#include <glora/io/safetensors_header.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace glora::cli {

const char* const inspect_help =
    "Usage: glora inspect [--json] FILE_OR_FOLDER\n"
    "\n"
    "Describes a glora adapter file, a PEFT GLoRA adapter folder, any safetensors file, or a\n"
    "sharded model (its folder or its model.safetensors.index.json): the metadata; for an\n"
    "adapter, each layer's configuration (A=LoRA_4 B=vector C=none D=constant E=vector),\n"
    "out x in, tensors (dtype and shape) and trainable parameters; for a model, its tensors;\n"
    "and the totals.\n"
    "\n"
    "  --json   print the same as one JSON object, for scripts\n";

namespace {

using Json = nlohmann::ordered_json;

Json tensor_json(const io::TensorInfo& t) {
  return {{"name", t.name},
          {"dtype", io::dtype_name(t.dtype)},
          {"shape", t.shape},
          {"bytes", t.bytes()}};
}

Json metadata_json(const std::map<std::string, std::string>& metadata) {
  Json json = Json::object();
  for (const auto& [key, value] : metadata) json[key] = value;
  return json;
}

Json config_json(const LayerConfig& config) {
  Json json = Json::object();
  for (const Slot s : all_slots) json[slot_letter(s)] = to_string(config[s]);
  return json;
}

Json extent_json(Eigen::Index n) { return n < 0 ? Json(nullptr) : Json(n); }

Json describe_adapter(const AdapterSource& adapter) {
  Json json;
  json["path"] = adapter.path();
  json["format"] = adapter.is_peft() ? "PEFT GLoRA adapter" : "glora adapter file";
  if (const io::PeftAdapter* peft = adapter.peft()) {
    json["peft"] = {{"r", peft->rank()},
                    {"config", config_json(peft->config())},
                    {"summary", to_short_string(peft->config())}};
  }
  json["metadata"] = metadata_json(adapter.safetensors().metadata());
  Json layers = Json::array();
  std::set<std::string> in_layers;
  std::int64_t parameters = 0;
  for (const io::LayerTensors& layer : adapter.layers()) {
    Json tensors = Json::array();
    for (const io::TensorInfo* t : layer.tensors) {
      if (t == nullptr) continue;
      tensors.push_back(tensor_json(*t));
      in_layers.insert(t->name);
    }
    const Eigen::Index count = parameter_count(layer.config, layer.out, layer.in);
    parameters += count;
    layers.push_back({{"name", layer.name},
                      {"out", extent_json(layer.out)},
                      {"in", extent_json(layer.in)},
                      {"config", config_json(layer.config)},
                      {"summary", to_short_string(layer.config)},
                      {"parameters", count},
                      {"tensors", tensors}});
  }
  json["layers"] = layers;
  Json others = Json::array();
  std::uint64_t bytes = 0;
  for (const io::TensorInfo& t : adapter.safetensors().tensors()) {
    bytes += t.bytes();
    if (in_layers.count(t.name) == 0) others.push_back(tensor_json(t));
  }
  json["other_tensors"] = others;
  json["totals"] = {{"layers", adapter.layers().size()},
                    {"parameters", parameters},
                    {"tensors", adapter.safetensors().tensors().size()},
                    {"bytes", bytes}};
  return json;
}

Json describe_model(const std::string& path, const io::SafetensorsModel& model) {
  Json json;
  json["path"] = path;
  json["format"] = model.sharded() ? "sharded safetensors model" : "safetensors file";
  if (model.sharded()) {
    json["metadata"] = model.index()->metadata;
    json["shards"] = Json::array();
  } else {
    json["metadata"] = metadata_json(model.shards().front().metadata());
  }
  std::map<std::string, Json> tensors;  // sorted by name
  std::map<std::string, std::uint64_t> dtypes;
  std::uint64_t values = 0, bytes = 0;
  for (const io::SafetensorsFile& shard : model.shards()) {
    const std::string file = std::filesystem::path(shard.path()).filename().string();
    std::uint64_t shard_bytes = 0;
    for (const io::TensorInfo& t : shard.tensors()) {
      Json entry = tensor_json(t);
      if (model.sharded()) entry["shard"] = file;
      tensors.emplace(t.name, entry);
      ++dtypes[io::dtype_name(t.dtype)];
      values += t.elements();
      shard_bytes += t.bytes();
    }
    bytes += shard_bytes;
    if (model.sharded()) {
      json["shards"].push_back({{"file", file},
                                {"metadata", metadata_json(shard.metadata())},
                                {"tensors", shard.tensors().size()},
                                {"bytes", shard_bytes}});
    }
  }
  json["tensors"] = Json::array();
  for (auto& entry : tensors) json["tensors"].push_back(std::move(entry.second));
  json["totals"] = {
      {"tensors", tensors.size()}, {"values", values}, {"bytes", bytes}, {"dtypes", dtypes}};
  return json;
}

/// What `path` is, opened: an adapter (PEFT folder, glora file) or a model.
Json describe(const std::string& path) {
  require_exists("", path);
  std::error_code ignored;
  const bool folder = std::filesystem::is_directory(path, ignored);
  if (folder && std::filesystem::exists(std::filesystem::path(path) / io::peft_config_name)) {
    return describe_adapter(AdapterSource("", path));
  }
  if (!folder && !is_index_file(path)) {
    const io::SafetensorsFile file = reading([&] { return io::SafetensorsFile(path); });
    const std::string* format = file.find_metadata("format");
    if (format != nullptr && *format == "glora") return describe_adapter(AdapterSource("", path));
  }
  return describe_model(path, open_model("", path));
}

// --- the text form ---------------------------------------------------------------------------

/// A JSON value as the text form shows it: strings bare, an unknown extent (null) as "?".
std::string text(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.is_null() ? "?" : value.dump();
}

std::string tensor_text(const Json& t) {
  return t["name"].get<std::string>() + "  " + t["dtype"].get<std::string>() + " " +
         io::shape_string(t["shape"].get<std::vector<std::uint64_t>>());
}

void print_metadata(const Json& metadata) {
  if (metadata.empty()) return;
  std::printf("metadata:\n");
  for (const auto& item : metadata.items()) {
    std::string value = text(item.value());
    if (value.size() > 100) {
      value = value.substr(0, 80) + "... (" + std::to_string(value.size()) + " characters)";
    }
    std::printf("  %s: %s\n", item.key().c_str(), value.c_str());
  }
}

void print_tensors(const char* title, const Json& tensors) {
  if (tensors.empty()) return;
  std::printf("%s:\n", title);
  for (const Json& t : tensors) std::printf("  %s\n", tensor_text(t).c_str());
}

void print_adapter(const Json& json) {
  const Json& totals = json["totals"];
  std::printf("%s: %s\n", json["path"].get<std::string>().c_str(),
              json["format"].get<std::string>().c_str());
  if (json.contains("peft")) {
    std::printf("PEFT config: r = %d, every module %s\n", json["peft"]["r"].get<int>(),
                json["peft"]["summary"].get<std::string>().c_str());
  }
  print_metadata(json["metadata"]);
  std::printf("layers:\n");
  for (const Json& layer : json["layers"]) {
    std::printf("  %s (%s x %s): %s, %lld parameters\n", layer["name"].get<std::string>().c_str(),
                text(layer["out"]).c_str(), text(layer["in"]).c_str(),
                layer["summary"].get<std::string>().c_str(),
                static_cast<long long>(layer["parameters"].get<std::int64_t>()));
    for (const Json& t : layer["tensors"]) std::printf("    %s\n", tensor_text(t).c_str());
  }
  print_tensors("other tensors", json["other_tensors"]);
  std::printf("totals: %zu layers, %lld trainable parameters, %zu tensors, %s\n",
              totals["layers"].get<std::size_t>(),
              static_cast<long long>(totals["parameters"].get<std::int64_t>()),
              totals["tensors"].get<std::size_t>(),
              human_bytes(totals["bytes"].get<std::uint64_t>()).c_str());
}

void print_model(const Json& json) {
  const Json& totals = json["totals"];
  std::printf("%s: %s\n", json["path"].get<std::string>().c_str(),
              json["format"].get<std::string>().c_str());
  print_metadata(json["metadata"]);
  if (json.contains("shards")) {
    std::printf("shards:\n");
    for (const Json& shard : json["shards"]) {
      std::printf("  %s: %zu tensors, %s\n", shard["file"].get<std::string>().c_str(),
                  shard["tensors"].get<std::size_t>(),
                  human_bytes(shard["bytes"].get<std::uint64_t>()).c_str());
    }
  }
  print_tensors("tensors", json["tensors"]);
  std::string dtypes;
  for (const auto& item : totals["dtypes"].items()) {
    dtypes += (dtypes.empty() ? "" : ", ") + item.key() + " " + text(item.value());
  }
  std::printf("totals: %zu tensors (%s), %llu values, %s\n", totals["tensors"].get<std::size_t>(),
              dtypes.c_str(),
              static_cast<unsigned long long>(totals["values"].get<std::uint64_t>()),
              human_bytes(totals["bytes"].get<std::uint64_t>()).c_str());
}

}  // namespace

int inspect_command(const std::vector<std::string>& args) {
  const Arguments arguments("inspect", args, {"json"}, {});
  arguments.expect_positional(1, "one FILE_OR_FOLDER");
  const Json json = describe(arguments.positional().front());
  if (arguments.flag("json")) {
    std::printf("%s\n", json.dump(2).c_str());
  } else if (json.contains("layers")) {
    print_adapter(json);
  } else {
    print_model(json);
  }
  return 0;
}

}  // namespace glora::cli
