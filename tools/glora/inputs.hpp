#pragma once
// The files the tool is given, recognised and opened: adapters (a glora
// adapter file or a PEFT GLoRA adapter folder) and models (a safetensors file
// or a sharded model's folder). A path that does not exist is Exit::missing,
// a file its reader refuses Exit::broken, with the reader's message.

#include "failure.hpp"

#include <glora/config.hpp>
#include <glora/dynamic_adapter.hpp>
#include <glora/io/adapter_file.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/layer_tensors.hpp>
#include <glora/io/peft.hpp>
#include <glora/io/safetensors_file.hpp>
#include <glora/io/safetensors_model.hpp>

#include <optional>
#include <string>
#include <vector>

namespace glora::cli {

/// An adapter of either format, seen through what both have: named layers
/// with a configuration, out x in and tensors.
class AdapterSource {
 public:
  /// Opens `path`: a folder is read as PEFT's (adapter_config.json and
  /// adapter_model.safetensors), a file as a glora adapter file. `option`
  /// names where the path came from in messages ("--adapter"; empty for none).
  AdapterSource(const std::string& option, const std::string& path);

  const std::string& path() const { return path_; }
  bool is_peft() const { return peft_.has_value(); }
  const io::PeftAdapter* peft() const { return peft_ ? &*peft_ : nullptr; }
  const io::SafetensorsFile& safetensors() const {
    return peft_ ? peft_->safetensors() : file_->safetensors();
  }
  /// The layers (PEFT: modules, without the "base_model.model." prefix), sorted by name.
  const std::vector<io::LayerTensors>& layers() const {
    return peft_ ? peft_->modules() : file_->layers();
  }
  /// The layer's name as its tensors carry it: a PEFT module's full path
  /// ("base_model.model.<module>" as stored), a glora file's layer name.
  std::string stored_name(const io::LayerTensors& layer) const;

  /// The layer's adapter, tensors as stored. Throws Failure (broken) for a
  /// value that is not finite.
  template <typename T>
  DynamicAdapter<T> read(const std::string& layer) const;

 private:
  std::string path_;
  std::optional<io::AdapterFile> file_;
  std::optional<io::PeftAdapter> peft_;
};

/// Opens a model: a safetensors file, a sharded model's index file, or a
/// folder holding model.safetensors.index.json (or a single
/// model.safetensors). `option` as for AdapterSource.
io::SafetensorsModel open_model(const std::string& option, const std::string& path);

/// Whether `path` names a sharded model's index (it ends in ".index.json").
bool is_index_file(const std::string& path);

/// Throws Failure (missing) unless `path` exists.
void require_exists(const std::string& option, const std::string& path);

/// Runs f(), turning the readers' errors (file_error, config_error) into
/// Failure (broken) with their messages.
template <typename F>
decltype(auto) reading(F&& f) {
  try {
    return f();
  } catch (const file_error& e) {
    throw Failure(Exit::broken, e.what());
  } catch (const config_error& e) {
    throw Failure(Exit::broken, e.what());
  }
}

template <typename T>
DynamicAdapter<T> AdapterSource::read(const std::string& layer) const {
  return reading([&] { return peft_ ? peft_->read<T>(layer) : file_->read<T>(layer); });
}

}  // namespace glora::cli
