// Broken files: one or more per rule of the safetensors and glora adapter formats, and a valid
// file cut at every section boundary. Each must be refused with its exact message, without a
// crash or a read out of bounds (the sanitizer build runs these too).
#include "files/bytes.hpp"
#include "files/temp_dir.hpp"

#include <glora/io.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

using glora_test::files::Bytes;
using glora_test::files::f32;
using glora_test::files::safetensors;

namespace {

struct Case {
  const char* what;
  Bytes bytes;
  std::string message;
};

void open_safetensors(const Bytes& bytes) {
  (void)glora::io::SafetensorsFile::from_bytes("broken.safetensors", bytes);
}

void open_adapters(const Bytes& bytes) {
  (void)glora::io::AdapterFile(glora::io::SafetensorsFile::from_bytes("broken.safetensors", bytes));
}

Bytes repeat(unsigned char byte, std::size_t n) { return Bytes(n, byte); }

Bytes length_only(std::uint64_t n) {
  Bytes b;
  for (int k = 0; k < 8; ++k) b.push_back(static_cast<unsigned char>(n >> (8 * k)));
  return b;
}

const std::string prefix = "broken.safetensors: ";

// A glora adapter file header for one 2 x 3 layer "fc" with A = vector: fc.Ad [2, 1] F32.
std::string adapter_header(
    const std::string& metadata,
    const std::string& tensors = R"("fc.Ad":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]})") {
  return "{\"__metadata__\":{" + metadata + "}" + (tensors.empty() ? "" : "," + tensors) + "}";
}
const std::string format = R"("format":"glora","glora.version":"1")";
const std::string config =
    R"("glora.config":"{\"fc\":{\"A\":\"vector\",\"B\":\"none\",\"C\":\"none\",\"D\":\"none\",\"E\":\"none\"}}")";
const std::string shapes = R"("glora.shapes":"{\"fc\":[2,3]}")";
const std::string good_metadata = format + "," + config + "," + shapes;

}  // namespace

TEST_CASE("files: a valid hand-written adapter file opens (the control for the cases below)") {
  const glora::io::AdapterFile file(glora::io::SafetensorsFile::from_bytes(
      "good.safetensors", safetensors(adapter_header(good_metadata), f32({0.5f, -2.0f}))));
  REQUIRE(file.layers().size() == 1);
  CHECK(file.layers()[0].name == "fc");
  CHECK(file.layers()[0].out == 2);
  CHECK(file.layers()[0].in == 3);
  const auto a = file.read<float>("fc");
  CHECK(a.Ad(0, 0) == 0.5f);
  CHECK(a.Ad(1, 0) == -2.0f);
}

TEST_CASE("files: every broken safetensors rule has its own exact message") {
  const std::string t = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::vector<Case> cases = {
      {"empty file",
       {},
       prefix + "the file is 0 bytes; a safetensors file starts with an 8-byte header length"},
      {"under 8 bytes", repeat(0, 7),
       prefix + "the file is 7 bytes; a safetensors file starts with an 8-byte header length"},
      {"header length over the limit", length_only(100000001),
       prefix + "the header length 100000001 is over the limit of 100000000 bytes"},
      {"header length 2^64 - 1", length_only(UINT64_MAX),
       prefix + "the header length 18446744073709551615 is over the limit of 100000000 bytes"},
      {"header past the end",
       [] {
         Bytes b = length_only(20);
         b.push_back('{');
         b.push_back('}');
         return b;
       }(),
       prefix + "the header length 20 runs past the end of the file (the header would end at byte "
                "28, the file has 10 bytes)"},
      {"header not JSON", safetensors("{\"t\":"),
       prefix + "the header (bytes 8 to 13) is not valid UTF-8 JSON: parse error at line 1, column "
                "6: syntax error while parsing value - unexpected end of input; expected '[', '{', "
                "or a literal"},
      {"header not UTF-8", safetensors("{\"\xff\":1}"),
       prefix + "the header (bytes 8 to 15) is not valid UTF-8 JSON: parse error at line 1, column "
                "3: syntax error while parsing object key - invalid string: ill-formed UTF-8 byte; "
                "last read: '\"\\xff'; expected string literal"},
      {"header an array", safetensors("[1,2]"),
       prefix + "the header (bytes 8 to 13) is array, not a JSON object"},
      {"header a string", safetensors("\"x\""),
       prefix + "the header (bytes 8 to 11) is string, not a JSON object"},
      {"duplicate tensor name", safetensors("{" + t + "," + t + "}", f32({1, 2})),
       prefix +
           "the header (bytes 8 to 115) is not accepted: it has the key \"t\" twice in one object"},
      {"nesting too deep", safetensors(std::string(70, '[') + std::string(70, ']')),
       prefix + "the header (bytes 8 to 148) is not accepted: it nests deeper than 64 levels"},
      {"entry not an object", safetensors(R"({"t":5})"),
       prefix +
           "tensor \"t\": the entry is number, not an object with dtype, shape and data_offsets"},
      {"no dtype", safetensors(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", f32({1, 2})),
       prefix + "tensor \"t\": \"dtype\" is missing"},
      {"no shape", safetensors(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", f32({1, 2})),
       prefix + "tensor \"t\": \"shape\" is missing"},
      {"no data_offsets", safetensors(R"({"t":{"dtype":"F32","shape":[2]}})", f32({1, 2})),
       prefix + "tensor \"t\": \"data_offsets\" is missing"},
      {"dtype not a string",
       safetensors(R"({"t":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", f32({1, 2})),
       prefix + "tensor \"t\": \"dtype\" is number, not a string"},
      {"unknown dtype",
       safetensors(R"({"t":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}})", f32({1, 2})),
       prefix + "tensor \"t\": unknown dtype \"F128\""},
      {"lower-case dtype",
       safetensors(R"({"t":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", f32({1, 2})),
       prefix + "tensor \"t\": unknown dtype \"f32\""},
      {"negative extent",
       safetensors(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32({1, 2})),
       prefix + "tensor \"t\": \"shape\" is not an array of non-negative integers"},
      {"fractional extent",
       safetensors(R"({"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", f32({1, 2})),
       prefix + "tensor \"t\": \"shape\" is not an array of non-negative integers"},
      {"shape not an array",
       safetensors(R"({"t":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", f32({1, 2})),
       prefix + "tensor \"t\": \"shape\" is not an array of non-negative integers"},
      {"three offsets",
       safetensors(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", f32({1, 2})),
       prefix + "tensor \"t\": \"data_offsets\" is not two non-negative integers [begin, end]"},
      {"negative offset",
       safetensors(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", f32({1, 2})),
       prefix + "tensor \"t\": \"data_offsets\" is not two non-negative integers [begin, end]"},
      {"element count overflows",
       safetensors(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                   f32({1, 2})),
       prefix + "tensor \"t\": the size of F32 [4294967296, 4294967296] overflows 64 bits"},
      {"byte count overflows",
       safetensors(R"({"t":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})",
                   f32({1, 2})),
       prefix + "tensor \"t\": the size of F64 [4611686018427387904] overflows 64 bits"},
      {"end before begin",
       safetensors(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", f32({1, 2})),
       prefix + "tensor \"t\": data_offsets [8, 0] end before they begin"},
      {"span differs from the size",
       safetensors(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32({1, 2})),
       prefix + "tensor \"t\": data_offsets [0, 8] hold 8 bytes, but F32 [3] takes 12"},
      {"overlap",
       safetensors(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           f32({1, 2, 3})),
       prefix + "tensor \"b\": data_offsets [4, 12] overlap tensor \"a\" [0, 8] (tensors must tile "
                "the buffer from offset 0)"},
      {"gap between tensors",
       safetensors(
           R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
           f32({1, 2, 3})),
       prefix + "tensor \"b\": data_offsets [8, 12] leave a gap after tensor \"a\" [0, 4] (tensors "
                "must tile the buffer from offset 0)"},
      {"gap at the start",
       safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32({1, 2})),
       prefix + "tensor \"a\": data_offsets [4, 8] leave a gap after the start of the buffer "
                "(tensors must tile the buffer from offset 0)"},
      {"buffer longer than the tensors", safetensors("{" + t + "}", f32({1, 2, 3})),
       prefix +
           "the buffer is 12 bytes (file bytes 62 to 74), but the tensors end at byte 8 of it"},
      {"buffer shorter than the tensors", safetensors("{" + t + "}", f32({1})),
       prefix + "the buffer is 4 bytes (file bytes 62 to 66), but the tensors end at byte 8 of it"},
      {"bytes after an empty header", safetensors("{}", f32({1})),
       prefix + "the buffer is 4 bytes (file bytes 10 to 14), but the tensors end at byte 0 of it"},
      {"__metadata__ not an object", safetensors(R"({"__metadata__":["a"]})"),
       prefix + "\"__metadata__\" is array, not an object of strings"},
      {"__metadata__ value not a string", safetensors(R"({"__metadata__":{"format":1}})"),
       prefix + "__metadata__ \"format\" is number, not a string"},
      {"__metadata__ value null", safetensors(R"({"__metadata__":{"k":null}})"),
       prefix + "__metadata__ \"k\" is null, not a string"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK_THROWS_WITH(open_safetensors(c.bytes), c.message);
  }
}

TEST_CASE("files: a valid adapter file cut at every section boundary is refused") {
  const Bytes good = safetensors(adapter_header(good_metadata), f32({0.5f, -2.0f}));
  const std::size_t n = good.size() - 16;  // header length
  const std::string past_end = [&](std::size_t size) {
    return prefix + "the header length " + std::to_string(n) +
           " runs past the end of the file (the header would end at byte " + std::to_string(8 + n) +
           ", the file has " + std::to_string(size) + " bytes)";
  }(0);
  (void)past_end;
  const auto cut = [&](std::size_t size) {
    return Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(size));
  };
  const auto header_past_end = [&](std::size_t size) {
    return prefix + "the header length " + std::to_string(n) +
           " runs past the end of the file (the header would end at byte " + std::to_string(8 + n) +
           ", the file has " + std::to_string(size) + " bytes)";
  };
  const auto short_buffer = [&](std::size_t size) {
    return prefix + "the buffer is " + std::to_string(size - 8 - n) + " bytes (file bytes " +
           std::to_string(8 + n) + " to " + std::to_string(size) +
           "), but the tensors end at byte 8 of it";
  };
  const std::vector<Case> cases = {
      {"nothing", cut(0),
       prefix + "the file is 0 bytes; a safetensors file starts with an 8-byte header length"},
      {"inside the length", cut(4),
       prefix + "the file is 4 bytes; a safetensors file starts with an 8-byte header length"},
      {"after the length", cut(8), header_past_end(8)},
      {"inside the header", cut(8 + n / 2), header_past_end(8 + n / 2)},
      {"one byte short of the header", cut(7 + n), header_past_end(7 + n)},
      {"after the header (no buffer)", cut(8 + n), short_buffer(8 + n)},
      {"inside the first value", cut(8 + n + 2), short_buffer(8 + n + 2)},
      {"after the first value", cut(8 + n + 4), short_buffer(8 + n + 4)},
      {"one byte short of the end", cut(good.size() - 1), short_buffer(good.size() - 1)},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK_THROWS_WITH(open_adapters(c.bytes), c.message);
  }
  CHECK_NOTHROW(open_adapters(good));
}

TEST_CASE("files: every broken rule of the glora adapter format has its own exact message") {
  const Bytes ad = f32({0.5f, -2.0f});
  const std::string fc_config =
      R"("glora.config":"{\"fc\":{\"A\":\"vector\",\"B\":\"none\",\"C\":\"none\",\"D\":\"none\",\"E\":\"none\"}}")";
  const auto with_config = [&](const std::string& json_text) {
    return safetensors(adapter_header(format + ",\"glora.config\":" + json_text + "," + shapes),
                       ad);
  };
  const std::vector<Case> cases = {
      {"no format", safetensors(adapter_header(config), ad),
       prefix + "not a glora adapter file: __metadata__ has no \"format\""},
      {"another format", safetensors(adapter_header(R"("format":"pt")"), ad),
       prefix + "not a glora adapter file: __metadata__ \"format\" is \"pt\", expected \"glora\""},
      {"no metadata",
       safetensors(R"({"fc.Ad":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}})", ad),
       prefix + "not a glora adapter file: __metadata__ has no \"format\""},
      {"no version",
       safetensors(adapter_header(R"("format":"glora")"
                                  "," +
                                  config),
                   ad),
       prefix + "__metadata__ has no \"glora.version\""},
      {"another version",
       safetensors(adapter_header(R"("format":"glora","glora.version":"2")"), ad),
       prefix + "glora.version \"2\" is not supported (this reader reads 1)"},
      {"no config", safetensors(adapter_header(format + "," + shapes), ad),
       prefix + "__metadata__ has no \"glora.config\""},
      {"config not JSON", with_config(R"("{\"fc\":")"),
       prefix + "__metadata__ \"glora.config\" is not valid UTF-8 JSON: parse error at line 1, "
                "column 7: syntax error while parsing value - unexpected end of input; expected "
                "'[', '{', or a literal"},
      {"config not an object", with_config(R"("[]")"),
       prefix + "__metadata__ \"glora.config\" is array, not a JSON object"},
      {"layer not an object", with_config(R"("{\"fc\":\"LoRA_4\"}")"),
       prefix + "__metadata__ \"glora.config\": layer \"fc\" is string, not an object of slots"},
      {"slot missing", with_config(R"("{\"fc\":{\"A\":\"vector\"}}")"),
       prefix + "__metadata__ \"glora.config\": layer \"fc\": slot B is missing (a "
                "config names all of A, B, C, D and E)"},
      {"rank zero",
       with_config(
           R"("{\"fc\":{\"A\":\"LoRA_0\",\"B\":\"none\",\"C\":\"none\",\"D\":\"none\",\"E\":\"none\"}}")"),
       prefix + "__metadata__ \"glora.config\": layer \"fc\": slot A: \"LoRA_0\" is not a LoRA "
                "rank (expected LoRA_<r> with r a positive integer of at most six digits, no "
                "leading zero)"},
      {"low rank in D",
       with_config(
           R"("{\"fc\":{\"A\":\"vector\",\"B\":\"none\",\"C\":\"none\",\"D\":\"LoRA_2\",\"E\":\"none\"}}")"),
       prefix + "__metadata__ \"glora.config\": layer \"fc\": slot D cannot be LoRA_2 (it takes "
                "vector, constant or none)"},
      {"unknown choice",
       with_config(
           R"("{\"fc\":{\"A\":\"matrix\",\"B\":\"none\",\"C\":\"none\",\"D\":\"none\",\"E\":\"none\"}}")"),
       prefix + "__metadata__ \"glora.config\": layer \"fc\": slot A: unknown choice \"matrix\" "
                "(it takes LoRA_<r>, vector, constant or none)"},
      {"shapes not [out, in]",
       safetensors(adapter_header(format + "," + fc_config + R"(,"glora.shapes":"{\"fc\":[2]}")"),
                   ad),
       prefix + "__metadata__ \"glora.shapes\": layer \"fc\" is not [out, in] (two non-negative "
                "integers)"},
      {"shapes of an unknown layer",
       safetensors(adapter_header(format + "," + fc_config +
                                  R"(,"glora.shapes":"{\"fc\":[2,3],\"x\":[1,1]}")"),
                   ad),
       prefix + "__metadata__ \"glora.shapes\" names layer \"x\", which glora.config does not"},
      {"shapes without a layer",
       safetensors(adapter_header(format + "," + fc_config + R"(,"glora.shapes":"{}")"), ad),
       prefix + "__metadata__ \"glora.shapes\" has no entry for layer \"fc\""},
      {"tensor missing", safetensors(adapter_header(good_metadata, "")),
       prefix + "tensor \"fc.Ad\" is missing (layer \"fc\", A = vector)"},
      {"tensor of the wrong rows",
       safetensors(adapter_header(good_metadata,
                                  R"("fc.Ad":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]})"),
                   ad),
       prefix + "tensor \"fc.Ad\" is [1, 2], expected [2, at least 1] (layer \"fc\", 2 x 3, A = "
                "vector)"},
      {"tensor of one dimension",
       safetensors(adapter_header(good_metadata,
                                  R"("fc.Ad":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})"),
                   ad),
       prefix +
           "tensor \"fc.Ad\" is [2], expected [2, at least 1] (layer \"fc\", 2 x 3, A = vector)"},
      {"tensor of integers",
       safetensors(adapter_header(good_metadata,
                                  R"("fc.Ad":{"dtype":"I32","shape":[2,1],"data_offsets":[0,8]})"),
                   ad),
       prefix +
           "tensor \"fc.Ad\" is I32, expected F16, BF16, F32 or F64 (layer \"fc\", A = vector)"},
      {"unused tensor of the wrong rank",
       safetensors(
           adapter_header(
               good_metadata,
               R"("fc.Ad":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"fc.D":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]})"),
           f32({0.5f, -2.0f, 1.0f})),
       prefix + "tensor \"fc.D\" is F32 [1, 1], expected a floating-point tensor of 1 dimension "
                "(layer \"fc\")"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK_THROWS_WITH(open_adapters(c.bytes), c.message);
  }
}

TEST_CASE("files: a value that is not finite is refused, naming the tensor and the element") {
  const auto file_with = [](float value) {
    return glora::io::AdapterFile(glora::io::SafetensorsFile::from_bytes(
        "broken.safetensors", safetensors(adapter_header(good_metadata), f32({0.5f, value}))));
  };
  CHECK_THROWS_WITH(file_with(std::numeric_limits<float>::quiet_NaN()).read<float>("fc"),
                    prefix +
                        "tensor \"fc.Ad\" holds nan at [1, 0] (values that are not finite are "
                        "refused unless allow_non_finite is set)");
  CHECK_THROWS_WITH(file_with(-std::numeric_limits<float>::infinity()).read<double>("fc"),
                    prefix +
                        "tensor \"fc.Ad\" holds -inf at [1, 0] (values that are not finite are "
                        "refused unless allow_non_finite is set)");
  // A finite F64 too large for float.
  glora_test::files::Bytes f64(16, 0);
  const double values[2] = {0.5, 1e300};
  std::memcpy(f64.data(), values, 16);
  const auto big = glora::io::SafetensorsFile::from_bytes(
      "broken.safetensors",
      safetensors(R"({"t":{"dtype":"F64","shape":[1,2],"data_offsets":[0,16]}})", f64));
  CHECK_THROWS_WITH(big.matrix<float>(big.at("t")),
                    prefix +
                        "tensor \"t\" holds 1e+300, which overflows float, at [0, 1] (values "
                        "that are not finite are refused unless allow_non_finite is set)");
  CHECK(big.matrix<double>(big.at("t"))(0, 1) == 1e300);
  const auto kept = file_with(std::numeric_limits<float>::infinity()).read<float>("fc", {true});
  CHECK(kept.Ad(1, 0) == std::numeric_limits<float>::infinity());
}

TEST_CASE("files: a file that cannot be opened names the path and the reason") {
  CHECK_THROWS_WITH(glora::io::SafetensorsFile("/nonexistent/a.safetensors"),
                    "/nonexistent/a.safetensors: cannot open the file: No such file or directory");
  CHECK_THROWS_WITH(glora::io::SafetensorsFile("/tmp"), "/tmp: is a directory, not a file");
}

TEST_CASE("files: a broken PEFT adapter folder names the file and what is wrong") {
  glora_test::files::TempDir dir("peft_broken");
  const std::string folder = dir.path().string();
  const auto config_with = [&](const std::string& json) {
    std::ofstream(folder + "/adapter_config.json") << json;
  };
  const std::string config_path = folder + "/adapter_config.json";
  // q: 2 x 3 with A = B = vector, C, D and E none.
  glora_test::files::write_file(
      folder + "/adapter_model.safetensors",
      safetensors(
          R"({"base_model.model.q.glora_A.A":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},)"
          R"("base_model.model.q.glora_B.B":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
          f32({1, 2, 3, 4})));
  const std::string good =
      R"({"peft_type":"GLORA","r":4,"config_A_B":"vector","config_C":"none","config_D_E":"none"})";
  config_with(good);
  CHECK_THROWS_WITH(glora::io::PeftAdapter(folder),
                    folder +
                        "/adapter_model.safetensors: tensor "
                        "\"base_model.model.q.glora_B.B\" is [2], expected [2, at least 1] "
                        "(layer \"q\", B = vector)");
  config_with(
      R"({"peft_type":"LORA","r":4,"config_A_B":"vector","config_C":"none","config_D_E":"none"})");
  CHECK_THROWS_WITH(glora::io::PeftAdapter(folder),
                    config_path + ": \"peft_type\" is \"LORA\", expected \"GLORA\"");
  config_with(
      R"({"peft_type":"GLORA","r":0,"config_A_B":"vector","config_C":"none","config_D_E":"none"})");
  CHECK_THROWS_WITH(glora::io::PeftAdapter(folder),
                    config_path + ": \"r\" is 0, expected a positive integer");
  config_with(
      R"({"peft_type":"GLORA","r":4,"config_A_B":"vector","config_C":"constant","config_D_E":"none"})");
  CHECK_THROWS_WITH(glora::io::PeftAdapter(folder),
                    config_path +
                        ": \"config_C\" is \"constant\" (it takes \"lora\", \"vector\", "
                        "\"none\")");
  config_with(R"({"peft_type":"GLORA","r":4,"config_A_B":"vector","config_C":"none"})");
  CHECK_THROWS_WITH(glora::io::PeftAdapter(folder), config_path + ": has no \"config_D_E\"");
  config_with("[]");
  CHECK_THROWS_WITH(glora::io::PeftAdapter(folder), config_path + ": is array, not a JSON object");
  std::filesystem::remove(config_path);
  CHECK_THROWS_WITH(glora::io::PeftAdapter(folder),
                    config_path + ": cannot open the file: No such file or directory");
}
