#pragma once
// The glora adapter file: the adapters of any number of named layers in one
// safetensors file.
//
//   tensors       <layer>.Ad, <layer>.Au, ... <layer>.E with the reference's
//                 PyTorch shapes (Ad [out, r], Au [r, in], Cd [in, r], Cu [r, 1], D [out], ...)
//   __metadata__  "format": "glora", "glora.version": "1",
//                 "glora.config": {"<layer>": {"A": "LoRA_4", "B": "vector", ...}, ...},
//                 "glora.shapes": {"<layer>": [out, in], ...}
//
// A tensor larger than its choice needs (a supernet's) is read with the
// supernet rule (see DynamicAdapter).

#include <glora/config.hpp>
#include <glora/dynamic_adapter.hpp>
#include <glora/io/adapter_set.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/layer_tensors.hpp>
#include <glora/io/linkage.hpp>
#include <glora/io/load.hpp>
#include <glora/io/safetensors_file.hpp>
#include <glora/io/safetensors_header.hpp>
#include <glora/io/safetensors_writer.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace glora::io {

/// The metadata keys of a glora adapter file.
inline constexpr const char* format_key = "format";
inline constexpr const char* version_key = "glora.version";
inline constexpr const char* config_key = "glora.config";
inline constexpr const char* shapes_key = "glora.shapes";

/// A glora adapter file opened for reading: its header, metadata and every
/// layer's tensors are checked when it is opened.
class AdapterFile {
 public:
  /// Opens, maps and validates `path`. Throws file_error for any broken rule
  /// of safetensors or of the adapter format.
  explicit AdapterFile(const std::string& path, MapOptions map = {true})
      : AdapterFile(SafetensorsFile(path, map)) {}

  explicit AdapterFile(SafetensorsFile file);

  const std::string& path() const { return file_.path(); }
  const SafetensorsFile& safetensors() const { return file_; }
  /// The layers, sorted by name; out and in are -1 where neither glora.shapes
  /// nor the tensors fix them (e.g. every slot none or constant).
  const std::vector<LayerTensors>& layers() const { return layers_; }

  const LayerTensors* find(const std::string& layer) const { return find_layer(layers_, layer); }

  /// The layer's adapter with the file's configuration and its tensors as
  /// stored. Throws file_error for a layer not in the file, or a value that
  /// is not finite (unless options allow it).
  template <typename T>
  DynamicAdapter<T> read(const std::string& layer, const ReadOptions& options = {}) const {
    return read_named<T>(file_, layers_, layer, "layer", options);
  }

 private:
  nlohmann::json metadata_json(const char* key, bool required) const;

  /// One layer's {"A": "LoRA_4", ...}: each slot once, spelled as the reference does.
  LayerConfig read_layer_config(const std::string& where, const nlohmann::json& slots) const;

  void read_config();

  void read_shapes();

  SafetensorsFile file_;
  std::vector<LayerTensors> layers_;
};

struct SaveOptions {
  /// More __metadata__ entries (the format's own keys cannot be overridden).
  std::map<std::string, std::string> metadata;
};

/// Writes the adapters of every layer of `layers` into one glora adapter
/// file at `path` (F32 for float layers, F64 for double), atomically: the
/// previous file stays whole if anything fails. Throws shape_error for an
/// adapter whose tensors do not fit its layer, std::invalid_argument for a
/// reserved metadata key, file_error when the file cannot be written.
GLORA_IO_INLINE void save_adapters(const std::string& path, const AdapterSet& layers,
                                   const SaveOptions& options = {});

/// Loads every layer of `layers` from the glora adapter file `file`: each
/// must be in the file (unless options.partial), with the kinds of a
/// compile-time layer and the layer's out x in. Everything is checked before
/// any adapter changes. Throws file_error naming the file, the layer and
/// the difference.
GLORA_IO_INLINE void load_adapters(const AdapterFile& file, AdapterSet& layers,
                                   const LoadOptions& options = {});

/// Opens `path` as a glora adapter file and loads `layers` from it.
GLORA_IO_INLINE void load_adapters(const std::string& path, AdapterSet& layers,
                                   const LoadOptions& options = {});

}  // namespace glora::io

// The definitions of the functions declared above (see linkage.hpp).
#if GLORA_IO_DEFINE
namespace glora::io {

GLORA_IO_INLINE AdapterFile::AdapterFile(SafetensorsFile file) : file_(std::move(file)) {
  const std::string& path = file_.path();
  const std::string* format = file_.find_metadata(format_key);
  if (format == nullptr || *format != "glora") {
    detail::fail(path, format ? "not a glora adapter file: __metadata__ \"format\" is \"" +
                                    *format + "\", expected \"glora\""
                              : "not a glora adapter file: __metadata__ has no \"format\"");
  }
  const std::string* version = file_.find_metadata(version_key);
  if (version == nullptr) detail::fail(path, "__metadata__ has no \"glora.version\"");
  if (*version != "1") {
    detail::fail(path, "glora.version \"" + *version + "\" is not supported (this reader reads 1)");
  }
  read_config();
  read_shapes();
  for (LayerTensors& layer : layers_) {
    for (std::size_t k = 0; k < 8; ++k) {
      layer.names[k] = layer.name + "." + part_names[k];
      layer.tensors[k] = file_.find(layer.names[k]);
    }
    check_layer(path, layer);
  }
}

GLORA_IO_INLINE nlohmann::json AdapterFile::metadata_json(const char* key, bool required) const {
  const std::string* text = file_.find_metadata(key);
  if (text == nullptr) {
    if (required) detail::fail(path(), std::string("__metadata__ has no \"") + key + "\"");
    return nullptr;
  }
  const std::string what = std::string("__metadata__ \"") + key + "\"";
  nlohmann::json json =
      detail::parse_strict_json(path(), what, text->data(), text->data() + text->size());
  if (!json.is_object()) {
    detail::fail(path(), what + " is " + std::string(json.type_name()) + ", not a JSON object");
  }
  return json;
}

GLORA_IO_INLINE LayerConfig AdapterFile::read_layer_config(const std::string& where,
                                                           const nlohmann::json& slots) const {
  LayerConfig config;
  bool seen[5] = {false, false, false, false, false};
  for (const auto& slot : slots.items()) {
    const std::string& key = slot.key();
    if (key.size() != 1 || key[0] < 'A' || key[0] > 'E') {
      detail::fail(path(), where + ": unknown slot " + detail::quote(key) +
                               " (the slots are A, B, C, D and E)");
    }
    const Slot s = all_slots[static_cast<std::size_t>(key[0] - 'A')];
    if (!slot.value().is_string()) {
      detail::fail(path(), where + ": slot " + key + " is " +
                               std::string(slot.value().type_name()) + ", not a string");
    }
    try {
      config[s] = parse_choice(s, slot.value().get<std::string>());
    } catch (const config_error& e) {
      const std::string what = e.what();
      detail::fail(path(), where + ": " + (what.rfind("glora: ", 0) == 0 ? what.substr(7) : what));
    }
    seen[static_cast<std::size_t>(key[0] - 'A')] = true;
  }
  for (const Slot s : all_slots) {
    if (!seen[static_cast<int>(s)]) {
      detail::fail(path(), where + ": slot " + slot_letter(s) +
                               " is missing (a config names all of A, B, C, D and E)");
    }
  }
  return config;
}

GLORA_IO_INLINE void AdapterFile::read_config() {
  const nlohmann::json config = metadata_json(config_key, true);
  for (const auto& item : config.items()) {
    const std::string where = "__metadata__ \"glora.config\": layer " + detail::quote(item.key());
    if (!item.value().is_object()) {
      detail::fail(path(), where + " is " + std::string(item.value().type_name()) +
                               ", not an object of slots");
    }
    LayerTensors layer;
    layer.name = item.key();
    layer.config = read_layer_config(where, item.value());
    layers_.push_back(std::move(layer));
  }
}

GLORA_IO_INLINE void AdapterFile::read_shapes() {
  const nlohmann::json shapes = metadata_json(shapes_key, false);
  if (shapes.is_null()) return;
  for (const auto& item : shapes.items()) {
    const nlohmann::json& v = item.value();
    const auto fits = [](const nlohmann::json& x) {
      return x.is_number_unsigned() && x.get<std::uint64_t>() <= (1ull << 62);
    };
    if (!v.is_array() || v.size() != 2 || !fits(v[0]) || !fits(v[1])) {
      detail::fail(path(), "__metadata__ \"glora.shapes\": layer " + detail::quote(item.key()) +
                               " is not [out, in] (two non-negative integers)");
    }
    LayerTensors* layer = nullptr;
    for (LayerTensors& l : layers_) layer = l.name == item.key() ? &l : layer;
    if (layer == nullptr) {
      detail::fail(path(), "__metadata__ \"glora.shapes\" names layer " +
                               detail::quote(item.key()) + ", which glora.config does not");
    }
    layer->out = static_cast<Eigen::Index>(v[0].get<std::uint64_t>());
    layer->in = static_cast<Eigen::Index>(v[1].get<std::uint64_t>());
  }
  for (const LayerTensors& l : layers_) {
    if (l.out < 0) {
      detail::fail(path(),
                   "__metadata__ \"glora.shapes\" has no entry for layer " + detail::quote(l.name));
    }
  }
}

GLORA_IO_INLINE void save_adapters(const std::string& path, const AdapterSet& layers,
                                   const SaveOptions& options) {
  std::map<std::string, std::string> metadata = options.metadata;
  for (const char* key : {format_key, version_key, config_key, shapes_key}) {
    if (metadata.count(key) != 0) {
      throw std::invalid_argument(std::string("glora::io::save_adapters: the metadata key \"") +
                                  key + "\" is the format's own");
    }
  }
  using Adapters = std::variant<DynamicAdapter<float>, DynamicAdapter<double>>;
  std::vector<Adapters> adapters;  // filled first: the writes below point into it
  for (const AdapterEntry& entry : layers.entries()) {
    adapters.push_back(std::visit([](const auto& a) { return Adapters(a.get()); }, entry.access));
  }
  nlohmann::json config = nlohmann::json::object();
  nlohmann::json shapes = nlohmann::json::object();
  std::vector<TensorSpec> specs;
  std::vector<std::function<void(SafetensorsWriter&)>> writes;
  for (std::size_t i = 0; i < adapters.size(); ++i) {
    const AdapterEntry& entry = layers.entries()[i];
    std::visit(
        [&](const auto& a) {
          using T = typename std::decay_t<decltype(a)>::scalar_type;
          const std::string where = "glora::io::save_adapters: layer \"" + entry.name + "\"";
          a.check(where.c_str(), "", entry.out, entry.in);
          nlohmann::json slots = nlohmann::json::object();
          for (const Slot s : all_slots) slots[slot_letter(s)] = to_string(a.config[s]);
          config[entry.name] = slots;
          shapes[entry.name] = {entry.out, entry.in};
          bool used[8] = {};
          for (const Slot s : all_slots) {
            for (const auto& need : detail::needs(s, a.config[s], 0, 0, 2)) {
              used[static_cast<std::size_t>(need.first)] = true;
            }
          }
          std::size_t k = 0;
          DynamicAdapter<T>::visit(
              [&](const char* name, Role, auto t) {
                if (used[k] || t.size() > 0) {
                  std::vector<std::uint64_t> shape{static_cast<std::uint64_t>(t.rows())};
                  if (k < 6) shape.push_back(static_cast<std::uint64_t>(t.cols()));
                  specs.push_back({entry.name + "." + name, dtype_of<T>(), shape});
                  writes.push_back([t](SafetensorsWriter& w) { w.write_matrix(t); });
                }
                ++k;
              },
              a);
        },
        adapters[i]);
  }
  metadata[format_key] = "glora";
  metadata[version_key] = "1";
  metadata[config_key] = config.dump();
  metadata[shapes_key] = shapes.dump();
  SafetensorsWriter writer(path, specs, metadata);
  for (const auto& write : writes) write(writer);
  writer.commit();
}

GLORA_IO_INLINE void load_adapters(const AdapterFile& file, AdapterSet& layers,
                                   const LoadOptions& options) {
  detail::load_entries(
      file.safetensors(), layers,
      [&file](const AdapterEntry& entry) { return file.find(entry.name); }, options);
}

GLORA_IO_INLINE void load_adapters(const std::string& path, AdapterSet& layers,
                                   const LoadOptions& options) {
  load_adapters(AdapterFile(path), layers, options);
}

}  // namespace glora::io
#endif  // GLORA_IO_DEFINE
