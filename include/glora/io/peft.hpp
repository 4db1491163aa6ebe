#pragma once
// Hugging Face PEFT GLoRA adapters: the folder PEFT's GLORA tuner saves,
//
//   adapter_config.json        "peft_type": "GLORA", "r", "config_A_B", "config_C", "config_D_E",
//   ... adapter_model.safetensors  base_model.model.<module>.glora_<S>[.<adapter>].<t>
//
// with <t> = <S>d and <S>u for "lora" (A, B: [out, r] and [r, in]; C: [in, r] and [r, 1]) and
// <S> for "vector" (A, B: [out, 1]; C: [in, 1]; D, E: [out]) and "constant" ([1]). One
// configuration holds for every module; a module whose base layer has no bias has no C, D and E
// tensors and loads with those slots none.

#include <glora/config.hpp>
#include <glora/dynamic_adapter.hpp>
#include <glora/io/adapter_set.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/layer_tensors.hpp>
#include <glora/io/linkage.hpp>
#include <glora/io/load.hpp>
#include <glora/io/safetensors_file.hpp>
#include <glora/io/safetensors_header.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace glora::io {

inline constexpr const char* peft_config_name = "adapter_config.json";
inline constexpr const char* peft_weights_name = "adapter_model.safetensors";

/// A PEFT GLoRA adapter folder opened for reading; everything is checked when it is opened.
class PeftAdapter {
 public:
  /// Reads `folder`/adapter_config.json and maps `folder`/adapter_model.safetensors.
  /// `adapter` picks one adapter when the tensors carry several names
  /// (glora_A.<adapter>.Ad); empty accepts unnamed tensors or a single name.
  /// Throws file_error for a missing or broken file, a config that is not
  /// GLoRA's, or tensors that do not fit the config.
  explicit PeftAdapter(const std::string& folder, const std::string& adapter = "");

  const std::string& folder() const { return folder_; }
  /// The configuration PEFT applies to every module (one with a bias).
  const LayerConfig& config() const { return config_; }
  int rank() const { return rank_; }
  const SafetensorsFile& safetensors() const { return file_; }
  /// The adapted modules, sorted by module path (without base_model.model.).
  const std::vector<LayerTensors>& modules() const { return modules_; }

  const LayerTensors* find(const std::string& module) const { return find_layer(modules_, module); }

  /// The module's adapter as a DynamicAdapter (reference names and shapes).
  template <typename T>
  DynamicAdapter<T> read(const std::string& module, const ReadOptions& options = {}) const {
    return read_named<T>(file_, modules_, module, "module", options);
  }

 private:
  void read_config(const std::string& path);

  // Splits "base_model.model.<module>.glora_<S>[.<adapter>].<t>"; false for other tensors.
  struct Name {
    std::string module, adapter, part;
    Slot slot;
  };
  static bool split(const std::string& name, Name& n);

  void find_modules(const std::string& wanted);

  std::string folder_;
  SafetensorsFile file_;
  LayerConfig config_;
  int rank_ = 0;
  std::vector<LayerTensors> modules_;
};

/// Which PEFT module a layer of the set is: by default its name in the set.
using ModuleName = std::function<std::string(const std::string& layer)>;

/// Loads every layer of `layers` from a PEFT GLoRA adapter, the module for
/// each given by `module_of` (identity by default). All checks of
/// load_adapters apply; a config the layer's kinds cannot hold is refused
/// naming the slot, PEFT's choice and the layer's kind.
GLORA_IO_INLINE void load_peft(const PeftAdapter& adapter, AdapterSet& layers,
                               const LoadOptions& options = {}, const ModuleName& module_of = {});

GLORA_IO_INLINE void load_peft(const std::string& folder, AdapterSet& layers,
                               const LoadOptions& options = {}, const ModuleName& module_of = {});

}  // namespace glora::io

// The definitions of the functions declared above (see linkage.hpp).
#if GLORA_IO_DEFINE
namespace glora::io {

GLORA_IO_INLINE PeftAdapter::PeftAdapter(const std::string& folder, const std::string& adapter)
    : folder_(folder), file_(folder + "/" + peft_weights_name, MapOptions{true}) {
  read_config(folder + "/" + peft_config_name);
  find_modules(adapter);
}

GLORA_IO_INLINE void PeftAdapter::read_config(const std::string& path) {
  const nlohmann::json json = detail::read_json_object(path);
  const auto field = [&](const char* key) -> const nlohmann::json& {
    if (!json.contains(key)) detail::fail(path, std::string("has no \"") + key + "\"");
    return json[key];
  };
  const nlohmann::json& type = field("peft_type");
  if (!type.is_string() || type.get<std::string>() != "GLORA") {
    detail::fail(path, "\"peft_type\" is " + type.dump() + ", expected \"GLORA\"");
  }
  const nlohmann::json& r = field("r");
  if (!r.is_number_unsigned() || r.get<std::uint64_t>() == 0 || r.get<std::uint64_t>() > 1000000) {
    detail::fail(path, "\"r\" is " + r.dump() + ", expected a positive integer");
  }
  rank_ = static_cast<int>(r.get<std::uint64_t>());
  const auto choice = [&](const char* key, std::initializer_list<const char*> allowed) {
    const nlohmann::json& v = field(key);
    std::string names;
    for (const char* a : allowed) {
      if (v.is_string() && v.get<std::string>() == a) {
        const std::string s = a;
        return s == "lora"       ? Choice::low_rank(rank_)
               : s == "vector"   ? Choice::vector()
               : s == "constant" ? Choice::scalar()
                                 : Choice::none();
      }
      names += std::string(names.empty() ? "" : ", ") + "\"" + a + "\"";
    }
    detail::fail(path, "\"" + std::string(key) + "\" is " + v.dump() + " (it takes " + names + ")");
  };
  config_.A = config_.B = choice("config_A_B", {"lora", "vector", "constant", "none"});
  config_.C = choice("config_C", {"lora", "vector", "none"});
  config_.D = config_.E = choice("config_D_E", {"vector", "constant", "none"});
}

GLORA_IO_INLINE bool PeftAdapter::split(const std::string& name, Name& n) {
  const std::size_t at = name.rfind(".glora_");
  if (at == std::string::npos || at + 8 >= name.size() || name[at + 7] < 'A' ||
      name[at + 7] > 'E' || name[at + 8] != '.') {
    return false;
  }
  n.slot = static_cast<Slot>(name[at + 7] - 'A');
  const std::string rest = name.substr(at + 9);
  const std::size_t dot = rest.rfind('.');
  n.adapter = dot == std::string::npos ? "" : rest.substr(0, dot);
  n.part = dot == std::string::npos ? rest : rest.substr(dot + 1);
  const std::string prefix = "base_model.model.";
  n.module = name.substr(0, at);
  if (n.module.rfind(prefix, 0) == 0) n.module = n.module.substr(prefix.size());
  return true;
}

GLORA_IO_INLINE void PeftAdapter::find_modules(const std::string& wanted) {
  std::map<std::string, std::vector<std::pair<Name, const TensorInfo*>>> by_module;
  std::set<std::string> adapters;
  for (const TensorInfo& t : file_.tensors()) {
    Name n;
    if (!split(t.name, n)) continue;
    adapters.insert(n.adapter);
    if (!wanted.empty() && n.adapter != wanted) continue;
    by_module[n.module].push_back({n, &t});
  }
  if (wanted.empty() && adapters.size() > 1) {
    std::string names;
    for (const std::string& a : adapters) names += (names.empty() ? "\"" : ", \"") + a + "\"";
    detail::fail(file_.path(), "holds the adapters " + names + "; name the one to read");
  }
  for (const auto& item : by_module) {
    const std::vector<std::pair<Name, const TensorInfo*>>& tensors = item.second;
    LayerTensors layer;
    layer.name = item.first;
    layer.config = config_;
    layer.scalar_dims = 1;
    const std::string base = "base_model.model." + item.first + ".glora_";
    for (const Slot s : all_slots) {
      const std::string letter = slot_letter(s);
      const std::string adapter = wanted.empty() ? "" : wanted + ".";
      const bool factors = config_[s].kind == Kind::low_rank;
      const auto expect = [&](Part p, const std::string& t) {
        layer.names[static_cast<std::size_t>(p)] = base + letter + "." + adapter + t;
        for (const auto& [n, info] : tensors) {
          if (n.slot == s && n.part == t) layer.tensors[static_cast<std::size_t>(p)] = info;
        }
      };
      if (config_[s].kind == Kind::none) continue;
      expect(detail::down_part(s), factors ? letter + "d" : letter);
      if (factors) expect(detail::up_part(s), letter + "u");
    }
    // A base layer without a bias: PEFT leaves C, D and E out entirely.
    bool any_bias_side = false;
    for (const Part p : {Part::Cd, Part::Cu, Part::D, Part::E}) {
      any_bias_side = any_bias_side || layer.tensors[static_cast<std::size_t>(p)] != nullptr;
    }
    if (!any_bias_side) layer.config.C = layer.config.D = layer.config.E = Choice::none();
    check_layer(file_.path(), layer);
    modules_.push_back(std::move(layer));
  }
}

GLORA_IO_INLINE void load_peft(const PeftAdapter& adapter, AdapterSet& layers,
                               const LoadOptions& options, const ModuleName& module_of) {
  detail::load_entries(
      adapter.safetensors(), layers,
      [&](const AdapterEntry& entry) {
        return adapter.find(module_of ? module_of(entry.name) : entry.name);
      },
      options);
}

GLORA_IO_INLINE void load_peft(const std::string& folder, AdapterSet& layers,
                               const LoadOptions& options, const ModuleName& module_of) {
  load_peft(PeftAdapter(folder), layers, options, module_of);
}

}  // namespace glora::io
#endif  // GLORA_IO_DEFINE
