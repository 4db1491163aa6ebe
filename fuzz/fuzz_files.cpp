// libFuzzer target over everything that reads bytes from outside: the
// configuration parser and the safetensors / glora adapter file readers. Every
// input must end in a result or in the library's own exception; the sanitizers
// turn anything else (a crash, an out-of-bounds read, undefined behaviour, a
// leak, an allocation past the limit) into a finding.
#include <glora/config.hpp>
#include <glora/io.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace {

void read_every_tensor(const glora::io::SafetensorsFile& file) {
  for (const glora::io::TensorInfo& t : file.tensors()) {
    try {
      volatile float sink = 0;
      const auto m = file.matrix<float>(t);
      if (m.size() > 0) sink = m(0, 0);
      (void)sink;
    } catch (const glora::file_error&) {
    }
  }
}

void read_every_layer(const glora::io::AdapterFile& adapters) {
  for (const glora::io::LayerTensors& layer : adapters.layers()) {
    try {
      const auto a = adapters.read<double>(layer.name);
      if (layer.out >= 0 && layer.in >= 0) a.check("fuzz", "", layer.out, layer.in);
    } catch (const glora::file_error&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)glora::parse_layer_config(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const glora::config_error&) {
  }
  try {
    auto file = glora::io::SafetensorsFile::from_bytes(
        "input", std::vector<unsigned char>(data, data + size));
    read_every_tensor(file);
    const glora::io::AdapterFile adapters(std::move(file));
    read_every_layer(adapters);
  } catch (const glora::file_error&) {
  }
  return 0;
}
