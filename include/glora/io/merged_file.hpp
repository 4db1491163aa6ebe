#pragma once
// Merged models: each layer as the plain PyTorch pair <layer>.weight [out, in]
// and <layer>.bias [out] (row-major), which PyTorch and every safetensors tool
// load as they are.

#include <glora/dense.hpp>
#include <glora/io/dtype.hpp>
#include <glora/io/safetensors_writer.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

namespace glora::io {

/// The layers of a merged model, each under its module name. Layers added as
/// GLoRA layers are merged while the file is written, one at a time, so that
/// only one merged layer is in memory at once.
template <typename T>
class MergedSet {
 public:
  /// A merged (or any plain) layer; it must outlive the set.
  MergedSet& add(std::string name, const Dense<T>& layer) {
    glora::detail::check_shape("glora::io::MergedSet::add", "bias", layer.bias, layer.weight.rows(),
                               1);
    return push(std::move(name), layer.weight.rows(), layer.weight.cols(),
                [&layer](SafetensorsWriter& w) {
                  w.write_matrix(layer.weight);
                  w.write_matrix(layer.bias);
                });
  }

  /// A Linear or LinearView, written as its merge(); it must outlive the set.
  template <typename Layer, typename = decltype(std::declval<const Layer&>().merge())>
  MergedSet& add(std::string name, const Layer& layer) {
    return push(std::move(name), layer.out_features(), layer.in_features(),
                [&layer](SafetensorsWriter& w) {
                  const Dense<T> merged = layer.merge();
                  w.write_matrix(merged.weight);
                  w.write_matrix(merged.bias);
                });
  }

  struct Entry {
    std::string name;
    Eigen::Index out, in;
    std::function<void(SafetensorsWriter&)> write;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  MergedSet& push(std::string name, Eigen::Index out, Eigen::Index in,
                  std::function<void(SafetensorsWriter&)> write) {
    entries_.push_back({std::move(name), out, in, std::move(write)});
    return *this;
  }
  std::vector<Entry> entries_;
};

/// Writes every layer of `layers` as <name>.weight [out, in] and <name>.bias
/// [out] in `dtype` (F32 or F64 store T exactly; F16 and BF16 round to nearest
/// even), atomically. Throws std::invalid_argument for a name used twice,
/// file_error when the file cannot be written.
template <typename T>
void save_merged(const std::string& path, const MergedSet<T>& layers, DType dtype = dtype_of<T>(),
                 const std::map<std::string, std::string>& metadata = {}) {
  if (!is_floating(dtype)) {
    throw std::invalid_argument(std::string("glora::io::save_merged: cannot write ") +
                                dtype_name(dtype) + " (F16, BF16, F32 or F64)");
  }
  std::vector<TensorSpec> specs;
  for (const auto& e : layers.entries()) {
    const auto out = static_cast<std::uint64_t>(e.out), in = static_cast<std::uint64_t>(e.in);
    specs.push_back({e.name + ".weight", dtype, {out, in}});
    specs.push_back({e.name + ".bias", dtype, {out}});
  }
  SafetensorsWriter writer(path, std::move(specs), metadata);
  for (const auto& e : layers.entries()) e.write(writer);
  writer.commit();
}

}  // namespace glora::io
