#pragma once
// Loading the layers of an AdapterSet from the layers found in a file: the
// checks every format shares (the layer is there, its kinds and shape agree,
// its tensors fit), done for every layer before any adapter is changed.

#include <glora/config.hpp>
#include <glora/dynamic_adapter.hpp>
#include <glora/io/adapter_set.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/layer_tensors.hpp>
#include <glora/io/safetensors_file.hpp>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace glora::io {

struct LoadOptions {
  /// Skip the layers of the set that the file does not have (by default each
  /// one missing is an error).
  bool partial = false;
  /// Take NaN and infinity as they are (by default a tensor holding one is refused).
  bool allow_non_finite = false;
};

namespace detail {

/// Finds the file's layer for an entry of the set, or null.
using FindLayer = std::function<const LayerTensors*(const AdapterEntry&)>;

inline std::string layer_label(const AdapterEntry& entry, const LayerTensors& layer) {
  return "layer " + quote(entry.name) +
         (layer.name == entry.name ? std::string() : " (" + quote(layer.name) + " in the file)");
}

/// Checks every entry against its layer in the file, reads them all, and only
/// then sets the adapters: a failure leaves every adapter as it was.
inline void load_entries(const SafetensorsFile& file, AdapterSet& set, const FindLayer& find,
                         const LoadOptions& options) {
  const std::string& path = file.path();
  std::vector<std::function<void()>> commits;
  for (const AdapterEntry& entry : set.entries()) {
    const LayerTensors* found = find(entry);
    if (found == nullptr) {
      if (options.partial) continue;
      fail(path, "layer " + quote(entry.name) +
                     " is not in the file (set LoadOptions::partial to skip missing layers)");
    }
    const std::string label = layer_label(entry, *found);
    const bool settable =
        std::visit([](const auto& a) { return static_cast<bool>(a.set); }, entry.access);
    if (!settable) {
      throw std::invalid_argument("glora::io: " + label + " was added to the set as const");
    }
    Slot s = Slot::A;
    if (entry.kinds && glora::detail::first_difference(found->config, *entry.kinds, s)) {
      fail(path, label + ": the file has " + slot_letter(s) + " = " + to_string(found->config[s]) +
                     ", the layer has " + kind_name((*entry.kinds)[s]));
    }
    if ((found->out >= 0 && found->out != entry.out) || (found->in >= 0 && found->in != entry.in)) {
      const auto known = [](Eigen::Index n) {
        return n < 0 ? std::string("?") : std::to_string(n);
      };
      fail(path, label + ": the file has " + known(found->out) + " x " + known(found->in) +
                     " (out x in), the layer has " + std::to_string(entry.out) + " x " +
                     std::to_string(entry.in));
    }
    LayerTensors layer = *found;
    layer.out = entry.out;
    layer.in = entry.in;
    check_layer(path, layer);
    const ReadOptions read{options.allow_non_finite};
    std::visit(
        [&](const auto& access) {
          using T = typename std::decay_t<decltype(access.get())>::scalar_type;
          auto loaded = std::make_shared<DynamicAdapter<T>>(read_layer<T>(file, layer, read));
          loaded->check("glora::io::load", "", entry.out, entry.in);
          commits.push_back([&access, loaded] { access.set(std::move(*loaded)); });
        },
        entry.access);
  }
  for (const auto& commit : commits) commit();
}

}  // namespace detail
}  // namespace glora::io
