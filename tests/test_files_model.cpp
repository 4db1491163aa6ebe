// What a program that streams whole models builds on: sharded models (the index, its checks,
// finding tensors across shards), writing a tensor a part at a time with conversion, converting
// raw values in storage order, and giving back the memory of a mapping's consumed pages.
#include "files/bytes.hpp"
#include "files/temp_dir.hpp"

#include <glora/io.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using glora_test::files::Bytes;
using glora_test::files::f32;
using glora_test::files::safetensors;
using glora_test::files::TempDir;
using glora_test::files::write_file;

namespace {

void write_text(const std::string& path, const std::string& text) {
  write_file(path, Bytes(text.begin(), text.end()));
}

/// A folder with two shards, s1 (a [2] F32, b [1] F32) and s2 (c [1] F32), and an index.
struct Shards {
  TempDir dir{"shards"};
  std::string index = dir / "model.safetensors.index.json";

  Shards() {
    write_file(dir / "s1.safetensors",
               safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                           f32({1, 2, 3})));
    write_file(dir / "s2.safetensors",
               safetensors(R"({"c":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32({4})));
  }
  glora::io::SafetensorsModel open(const std::string& weight_map) const {
    write_text(index, R"({"metadata":{"total_size":16},"weight_map":)" + weight_map + "}");
    return glora::io::SafetensorsModel(index, glora::io::read_shard_index(index));
  }
};

}  // namespace

TEST_CASE("a sharded model finds each tensor in the shard its index names", "[model]") {
  const Shards shards;
  const glora::io::SafetensorsModel model =
      shards.open(R"({"c":"s2.safetensors","a":"s1.safetensors","b":"s1.safetensors"})");
  CHECK(model.sharded());
  REQUIRE(model.shards().size() == 2);
  CHECK(model.shards()[0].path() == shards.dir / "s1.safetensors");
  const auto c = model.find("c");
  REQUIRE(c.has_value());
  CHECK(c->shard == 1);
  CHECK(c->tensor->name == "c");
  float value = 0;
  model.shards()[1].read_into(*c->tensor, &value);
  CHECK(value == 4);
  CHECK_FALSE(model.find("d").has_value());
  CHECK(model.index()->metadata == nlohmann::json{{"total_size", 16}});

  const glora::io::SafetensorsModel single(shards.dir / "s1.safetensors");
  CHECK_FALSE(single.sharded());
  CHECK(single.find("b")->shard == 0);
}

TEST_CASE("an index and its shards must agree", "[model]") {
  const Shards shards;
  const std::string at = shards.index + ": ";
  CHECK_THROWS_WITH(shards.open(R"({"a":"s1.safetensors","c":"s2.safetensors"})"),
                    at + "tensor \"b\" of \"s1.safetensors\" is not in \"weight_map\"");
  CHECK_THROWS_WITH(
      shards.open(R"({"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors"})"),
      at + "tensor \"b\" of \"s1.safetensors\" is mapped to \"s2.safetensors\"");
  CHECK_THROWS_WITH(shards.open(R"({"a":"s1.safetensors","b":"s1.safetensors",)"
                                R"("c":"s2.safetensors","d":"s2.safetensors"})"),
                    at + "\"weight_map\" maps tensor \"d\" to \"s2.safetensors\", which has no "
                         "such tensor");
  CHECK_THROWS_WITH(
      shards.open(R"({"a":"s1.safetensors","b":"s1.safetensors",)"
                  R"("c":"s3.safetensors"})"),
      shards.dir / "s3.safetensors" + ": cannot open the file: No such file or directory");
}

TEST_CASE("a broken index is refused with its rule", "[model]") {
  const TempDir dir("index");
  const std::string path = dir / "model.safetensors.index.json";
  const auto refused = [&](const std::string& text) {
    write_text(path, text);
    return glora::io::read_shard_index(path);
  };
  CHECK_THROWS_WITH(refused("[]"), path + ": is array, not a JSON object");
  CHECK_THROWS_WITH(refused(R"({"metadata":{}})"), path + ": has no \"weight_map\"");
  CHECK_THROWS_WITH(refused(R"({"metadata":"x","weight_map":{}})"),
                    path + ": \"metadata\" is string, not an object");
  CHECK_THROWS_WITH(refused(R"({"weight_map":[]})"),
                    path +
                        ": \"weight_map\" is array, not an object of tensor names and shard "
                        "files");
  CHECK_THROWS_WITH(refused(R"({"weight_map":{"a":1}})"),
                    path + ": \"weight_map\": tensor \"a\" maps to number, not a shard file name");
  for (const std::string shard : {"../x.safetensors", "/etc/x", "", ".."}) {
    CHECK_THROWS_WITH(refused(R"({"weight_map":{"a":")" + shard + "\"}}"),
                      path + ": \"weight_map\": tensor \"a\" maps to \"" + shard +
                          "\", which is not a file name in the index's folder");
  }
  CHECK_THROWS_WITH(refused(R"({"weight_map":{"a":"s","a":"t"}})"),
                    path + ": the file is not accepted: it has the key \"a\" twice in one object");
}

TEST_CASE("an index written is read back as it was", "[model]") {
  const TempDir dir("index_round_trip");
  glora::io::ShardIndex index;
  index.metadata = {{"total_size", 12}, {"note", "kept"}};
  index.weight_map = {{"b", "s2.safetensors"}, {"a", "s1.safetensors"}, {"c", "s1.safetensors"}};
  glora::io::write_shard_index(dir / "index.json", index);
  const glora::io::ShardIndex read = glora::io::read_shard_index(dir / "index.json");
  CHECK(read.metadata == index.metadata);
  CHECK(read.weight_map == index.weight_map);
  CHECK(read.shards() == std::vector<std::string>{"s1.safetensors", "s2.safetensors"});
  CHECK(dir.entries() == std::vector<std::string>{"index.json"});
}

TEST_CASE("a tensor is written a part at a time, converted to its dtype", "[writer]") {
  const TempDir dir("parts");
  const std::string path = dir / "parts.safetensors";
  {
    glora::io::SafetensorsWriter writer(path, {{"w", glora::io::DType::BF16, {2, 3}},
                                               {"ids", glora::io::DType::I64, {1}},
                                               {"b", glora::io::DType::F32, {2}}});
    const float first[] = {1.0f, -2.0f}, rest[] = {0.5f, 1.00390625f, 3.0f, -0.25f};
    writer.write_values(first, 2);
    writer.write_values(rest, 4);
    CHECK_THROWS_WITH(writer.write_values(first, 1),
                      "glora::io::SafetensorsWriter::write_values: " + path +
                          ": tensor \"ids\" is I64, not F16, BF16, F32 or F64");
    const std::int64_t id = 7;
    writer.write(&id, sizeof id);
    const double bias[] = {0.25, 8.0, 9.0};
    CHECK_THROWS_WITH(writer.write_values(bias, 3),
                      "glora::io::SafetensorsWriter::write_values: " + path +
                          ": tensor \"b\" has 2 values left, 3 values given");
    writer.write_values(bias, 1);
    writer.write_values(bias + 1, 1);
    CHECK_THROWS_WITH(writer.write_values(bias, 1),
                      "glora::io::SafetensorsWriter::write_values: " + path +
                          ": the declared tensors are all written; 1 value more given");
    writer.commit();
  }
  const glora::io::SafetensorsFile file(path);
  // 1.00390625 = 1 + 2^-8 lies halfway between two bfloat16 values: rounded to even, 1.
  const glora::MatrixX<float> w = file.matrix<float>(file.at("w"));
  CHECK(w == (glora::MatrixX<float>(2, 3) << 1, -2, 0.5f, 1, 3, -0.25f).finished());
  CHECK(file.matrix<double>(file.at("b")) == (glora::MatrixX<double>(2, 1) << 0.25, 8).finished());
}

TEST_CASE("raw values convert in storage order, both ways", "[convert]") {
  const float values[] = {1.5f, -0.0f, 65504.0f, 3.0e-8f};
  for (const glora::io::DType dtype : {glora::io::DType::F16, glora::io::DType::BF16,
                                       glora::io::DType::F32, glora::io::DType::F64}) {
    INFO(glora::io::dtype_name(dtype));
    std::vector<unsigned char> bytes(4 * glora::io::dtype_size(dtype));
    glora::io::encode_values(values, 4, dtype, bytes.data());
    double back[4];
    glora::io::decode_values(bytes.data(), dtype, 4, back);
    const bool f16 = dtype == glora::io::DType::F16;
    CHECK(back[0] == 1.5);
    CHECK(back[1] == 0.0);
    CHECK(back[2] == (dtype == glora::io::DType::BF16 ? 65536.0 : 65504.0));
    // 3e-8 is over half the least subnormal half (2^-24), so it rounds up to it; in bfloat16
    // it is 1.0066 x 2^-25, whose nearest is 1.0078125 x 2^-25.
    CHECK(back[3] == (f16                               ? 0x1p-24
                      : dtype == glora::io::DType::BF16 ? 0x1.02p-25
                                                        : double(3.0e-8f)));
  }
}

TEST_CASE("released pages of a mapping read back unchanged", "[release]") {
  const TempDir dir("release");
  const std::string path = dir / "big.safetensors";
  std::vector<float> values(50000);
  for (std::size_t k = 0; k < values.size(); ++k) values[k] = static_cast<float>(k);
  Bytes buffer(values.size() * sizeof(float));
  std::memcpy(buffer.data(), values.data(), buffer.size());
  write_file(path, safetensors(R"({"t":{"dtype":"F32","shape":[50000],"data_offsets":[0,200000]}})",
                               buffer));
  const glora::io::SafetensorsFile file(path);
  const glora::io::TensorBytes t = file.bytes(file.at("t"));
  file.release(t.data + 1000, 150000);  // pages are rounded out: the neighbours go too
  file.release(t.data, 0);
  file.release(t.data + 199999, 1000);  // past the end of the file: up to its end
  std::vector<float> read(values.size());
  file.read_into(file.at("t"), read.data());
  CHECK(read == values);

  const glora::io::SafetensorsFile in_memory =
      glora::io::SafetensorsFile::from_bytes("memory", glora_test::files::read_file(path));
  in_memory.release(in_memory.bytes(in_memory.at("t")).data, 200000);  // nothing to give back
  in_memory.read_into(in_memory.at("t"), read.data());
  CHECK(read == values);
}
