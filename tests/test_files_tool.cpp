// The glora tool's merges against the library's own merge(), layer by layer: tool/merge_cases.py
// writes adapters and bases (F32, BF16, F16, F64; one file and shards), runs `glora merge` on
// them and checks the results against the formula in NumPy; this test then checks that every
// merged weight and bias is, bit for bit, what DynamicLinear::merge() gives on the same W0, b0 and
// adapter, rounded once to the base's dtype.
// ctest-python: merge numpy tool/merge_cases.py [merge]

#include <glora/dynamic_linear.hpp>
#include <glora/io.hpp>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace {

std::string files() {
  const char* dir = std::getenv("GLORA_TEST_FILES");
  REQUIRE(dir != nullptr);
  return dir;
}

glora::io::SafetensorsModel open_model(const std::string& path) {
  if (!std::filesystem::is_directory(path)) return glora::io::SafetensorsModel(path);
  const std::string index = path + "/" + glora::io::shard_index_name;
  return glora::io::SafetensorsModel(index, glora::io::read_shard_index(index));
}

/// The raw bytes of a tensor of the model.
std::vector<unsigned char> raw(const glora::io::SafetensorsModel& model, const std::string& name) {
  const auto found = model.find(name);
  REQUIRE(found.has_value());
  const glora::io::TensorBytes bytes = model.shards()[found->shard].bytes(*found->tensor);
  return {bytes.data, bytes.data + found->tensor->bytes()};
}

/// Values (in storage order) as a tensor of `dtype` stores them.
template <typename T>
std::vector<unsigned char> encoded(const T* values, std::size_t n, glora::io::DType dtype) {
  std::vector<unsigned char> bytes(n * glora::io::dtype_size(dtype));
  glora::io::encode_values(values, n, dtype, bytes.data());
  return bytes;
}

/// Checks one adapted layer of the merged model `out` against merge() of the layer built from
/// `base` and the adapter.
template <typename T>
void check_layer(const glora::io::SafetensorsModel& base, const glora::io::SafetensorsModel& out,
                 const std::string& module, const glora::DynamicAdapter<T>& adapter) {
  const auto weight = base.find(module + ".weight");
  REQUIRE(weight.has_value());
  const glora::io::SafetensorsFile& shard = base.shards()[weight->shard];
  const glora::RowMajorMatrixX<T> W0 = shard.matrix<T>(*weight->tensor);
  const auto bias = base.find(module + ".bias");
  std::optional<glora::DynamicLinear<T>> layer;
  if (bias) {
    const glora::VectorX<T> b0 = base.shards()[bias->shard].matrix<T>(*bias->tensor);
    layer.emplace(W0, b0, adapter.config);
  } else {
    layer.emplace(W0, adapter.config);
  }
  layer->adapter() = adapter;
  const glora::Dense<T> merged = layer->merge();
  const glora::RowMajorMatrixX<T> W = merged.weight;  // PyTorch's order, as the file has it

  const glora::io::DType dtype = weight->tensor->dtype;
  CHECK(raw(out, module + ".weight") ==
        encoded(W.data(), static_cast<std::size_t>(W.size()), dtype));
  const bool adds_bias =
      adapter.config.C.kind != glora::Kind::none || adapter.config.E.kind != glora::Kind::none;
  if (bias || adds_bias) {
    const glora::io::DType bias_dtype = bias ? bias->tensor->dtype : dtype;
    CHECK(raw(out, module + ".bias") ==
          encoded(merged.bias.data(), static_cast<std::size_t>(merged.bias.size()), bias_dtype));
  } else {
    CHECK_FALSE(out.find(module + ".bias").has_value());
  }
}

template <typename Reader>
void check_adapter(const Reader& reader, const std::vector<glora::io::LayerTensors>& layers,
                   const glora::io::SafetensorsModel& base, const glora::io::SafetensorsModel& out,
                   const std::string& add) {
  for (const glora::io::LayerTensors& layer : layers) {
    const std::string module = add + layer.name;
    INFO("layer " << layer.name << " (base module " << module << ")");
    const auto weight = base.find(module + ".weight");
    REQUIRE(weight.has_value());
    if (weight->tensor->dtype == glora::io::DType::F64) {
      check_layer(base, out, module, reader.template read<double>(layer.name));
    } else {
      check_layer(base, out, module, reader.template read<float>(layer.name));
    }
  }
}

}  // namespace

TEST_CASE("glora merge equals the library's merge() on every layer", "[merge]") {
  std::ifstream manifest(files() + "/cases.json");
  REQUIRE(manifest.good());
  const nlohmann::json cases = nlohmann::json::parse(manifest);
  REQUIRE(cases.size() == 8);
  for (const nlohmann::json& c : cases) {
    const std::string name = c["name"].get<std::string>();
    const std::string adapter = c["adapter"].get<std::string>();
    const std::string prefix = c["prefix"].get<std::string>();
    SECTION(name) {
      const glora::io::SafetensorsModel base = open_model(c["base"].get<std::string>());
      const glora::io::SafetensorsModel out = open_model(c["out"].get<std::string>());
      const std::string add = prefix.substr(prefix.find('=') + 1);  // the cases use "=TO" only
      if (std::filesystem::is_directory(adapter)) {
        const glora::io::PeftAdapter peft(adapter);
        check_adapter(peft, peft.modules(), base, out, add);
      } else {
        const glora::io::AdapterFile file(adapter);
        check_adapter(file, file.layers(), base, out, add);
      }
    }
  }
}
