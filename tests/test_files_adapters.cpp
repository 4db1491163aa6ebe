// glora adapter files and merged models written and read back by the library: every
// configuration of the paper's space bit for bit, compile-time layers, the checks a load makes
// and their messages, the supernet rule, the exact dtype conversions, and saves that fail.
#include "files/bytes.hpp"
#include "files/temp_dir.hpp"

#include <glora/glora.hpp>
#include <glora/io.hpp>

#include <catch2/catch.hpp>

#include <csignal>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>

using glora::Choice;
using glora::LayerConfig;
using glora_test::files::TempDir;

namespace {

// The paper's per-layer space with LoRA rank r: 4 * 4 * 3 * 3 * 3 = 432 configurations.
std::vector<LayerConfig> search_space(int r) {
  const std::vector<Choice> ab = {Choice::low_rank(r), Choice::vector(), Choice::scalar(),
                                  Choice::none()};
  const std::vector<Choice> c = {Choice::low_rank(r), Choice::vector(), Choice::none()};
  const std::vector<Choice> de = {Choice::scalar(), Choice::none(), Choice::vector()};
  std::vector<LayerConfig> all;
  for (const Choice a : ab)
    for (const Choice b : ab)
      for (const Choice cc : c)
        for (const Choice d : de)
          for (const Choice e : de) all.push_back({a, b, cc, d, e});
  return all;
}

template <typename T>
void fill_random(glora::DynamicAdapter<T>& a, std::mt19937& rng) {
  std::uniform_real_distribution<T> u(T(-1), T(1));
  glora::DynamicAdapter<T>::visit(
      [&](const char*, glora::Role, auto t) {
        for (Eigen::Index k = 0; k < t.size(); ++k) t.data()[k] = u(rng);
      },
      a);
}

// Equal bit for bit: same configuration, same shapes, same bytes.
template <typename T>
bool identical(const glora::DynamicAdapter<T>& x, const glora::DynamicAdapter<T>& y) {
  bool same = x.config == y.config;
  glora::DynamicAdapter<T>::visit(
      [&](const char*, glora::Role, auto a, auto b) {
        same = same && a.rows() == b.rows() && a.cols() == b.cols() &&
               (a.size() == 0 || std::memcmp(a.data(), b.data(),
                                             sizeof(T) * static_cast<std::size_t>(a.size())) == 0);
      },
      x, y);
  return same;
}

template <typename T>
void round_trip_search_space(const std::string& path) {
  const Eigen::Index out = 5, in = 4;
  std::mt19937 rng(42);
  const std::vector<LayerConfig> space = search_space(3);
  std::vector<glora::DynamicAdapter<T>> saved, loaded(space.size());
  glora::io::AdapterSet to_save, to_load;
  for (std::size_t k = 0; k < space.size(); ++k) {
    saved.emplace_back(space[k], out, in);
    fill_random(saved.back(), rng);
  }
  for (std::size_t k = 0; k < space.size(); ++k) {
    to_save.add("layer" + std::to_string(k), saved[k], out, in);
    to_load.add("layer" + std::to_string(k), loaded[k], out, in);
  }
  glora::io::save_adapters(path, to_save);
  glora::io::load_adapters(path, to_load);
  std::size_t exact = 0;
  for (std::size_t k = 0; k < space.size(); ++k) {
    if (identical(saved[k], loaded[k])) ++exact;
  }
  CHECK(exact == 432);
  // The file itself says what each layer is, in the reference's spelling.
  const glora::io::AdapterFile file(path);
  REQUIRE(file.layers().size() == 432);
  const glora::io::LayerTensors* first = file.find("layer0");
  REQUIRE(first != nullptr);
  CHECK(glora::to_string(first->config) ==
        R"({"A": "LoRA_3", "B": "LoRA_3", "C": "LoRA_3", "D": "constant", "E": "constant"})");
  CHECK(first->out == 5);
  CHECK(first->in == 4);
  CHECK(file.safetensors().at("layer0.Cd").shape == std::vector<std::uint64_t>{4, 3});
  CHECK(file.safetensors().at("layer0.Cu").shape == std::vector<std::uint64_t>{3, 1});
  CHECK(file.safetensors().at("layer0.D").shape == std::vector<std::uint64_t>{1});
  CHECK(file.safetensors().at("layer0.Ad").dtype == glora::io::dtype_of<T>());
}

using Qkv = glora::Linear<float, glora::LowRank<4>, glora::Vector, glora::None, glora::Scalar,
                          glora::Vector>;

}  // namespace

TEST_CASE("files: all 432 configurations of the search space round-trip bit for bit, in one file") {
  TempDir dir("round_trip");
  round_trip_search_space<float>(dir / "float.safetensors");
  round_trip_search_space<double>(dir / "double.safetensors");
}

TEST_CASE("files: compile-time layers of different kinds round-trip through one file") {
  TempDir dir("layers");
  const std::string path = dir / "model.safetensors";
  Eigen::MatrixXf W1 = Eigen::MatrixXf::Random(6, 5), W2 = Eigen::MatrixXf::Random(3, 6);
  Eigen::VectorXf b1 = Eigen::VectorXf::Random(6);
  Qkv l1(W1, b1);
  glora::LinearView<float, glora::Scalar, glora::LowRank<2>, glora::LowRank<3>, glora::None,
                    glora::Scalar>
      l2(W2);
  glora::Adapter<double, glora::Vector, glora::None, glora::Vector, glora::Vector> a3(4, 2);
  for (auto* a : {&l1.adapter().A.down, &l1.adapter().A.up}) a->setRandom();
  l1.adapter().B.value.setRandom();
  l1.adapter().D.value = 0.25f;
  l1.adapter().E.value.setRandom();
  l2.adapter().initialize(5);
  l2.adapter().A.value = -0.5f;
  l2.adapter().B.down.setRandom();
  l2.adapter().C.down.setRandom();
  l2.adapter().E.value = 2.0f;
  a3.A.value.setRandom();
  a3.C.value.setRandom();
  a3.D.value.setRandom();
  glora::io::AdapterSet set;
  set.add("blocks.0.attn.qkv", l1).add("blocks.0.mlp.fc1", l2).add("head", a3, 4, 2);
  glora::io::save_adapters(path, set, {{{"trained_on", "unit test"}}});

  Qkv m1(W1, b1);
  glora::LinearView<float, glora::Scalar, glora::LowRank<2>, glora::LowRank<3>, glora::None,
                    glora::Scalar>
      m2(W2);
  glora::Adapter<double, glora::Vector, glora::None, glora::Vector, glora::Vector> m3(4, 2);
  glora::io::AdapterSet into;
  into.add("blocks.0.attn.qkv", m1).add("blocks.0.mlp.fc1", m2).add("head", m3, 4, 2);
  glora::io::load_adapters(path, into);
  CHECK(identical(glora::to_dynamic(m1.adapter()), glora::to_dynamic(l1.adapter())));
  CHECK(identical(glora::to_dynamic(m2.adapter()), glora::to_dynamic(l2.adapter())));
  CHECK(identical(glora::to_dynamic(m3), glora::to_dynamic(a3)));
  const Eigen::MatrixXf X = Eigen::MatrixXf::Random(5, 7);
  CHECK((m1.forward(X) - l1.forward(X)).cwiseAbs().maxCoeff() == 0.0f);

  const glora::io::SafetensorsFile raw(path);
  CHECK(*raw.find_metadata("trained_on") == "unit test");
  CHECK(*raw.find_metadata("glora.shapes") ==
        R"({"blocks.0.attn.qkv":[6,5],"blocks.0.mlp.fc1":[3,6],"head":[4,2]})");
  CHECK(raw.at("head.Ad").dtype == glora::io::DType::F64);
  CHECK(raw.at("blocks.0.attn.qkv.Au").shape == std::vector<std::uint64_t>{4, 5});
}

TEST_CASE("files: a load checks kinds, shapes and presence first, and changes nothing on error") {
  TempDir dir("load_checks");
  const std::string path = dir / "adapters.safetensors";
  glora::DynamicAdapter<float> vector_a(
      LayerConfig{Choice::vector(), Choice::vector(), Choice::none(), Choice::scalar(),
                  Choice::vector()},
      6, 5);
  glora::DynamicAdapter<float> fine(LayerConfig{Choice::low_rank(4), Choice::vector(),
                                                Choice::none(), Choice::scalar(), Choice::vector()},
                                    6, 5);
  std::mt19937 rng(1);
  fill_random(vector_a, rng);
  fill_random(fine, rng);
  glora::io::AdapterSet set;
  set.add("blocks.0.attn.qkv", vector_a, 6, 5).add("blocks.1.attn.qkv", fine, 6, 5);
  glora::io::save_adapters(path, set);

  Qkv first(Eigen::MatrixXf::Random(6, 5), Eigen::VectorXf::Random(6));
  Qkv second(Eigen::MatrixXf::Random(6, 5), Eigen::VectorXf::Random(6));
  first.adapter().initialize(3);
  second.adapter().initialize(4);
  const auto first_before = glora::to_dynamic(first.adapter());
  const auto second_before = glora::to_dynamic(second.adapter());
  const auto unchanged = [&] {
    return identical(glora::to_dynamic(first.adapter()), first_before) &&
           identical(glora::to_dynamic(second.adapter()), second_before);
  };

  SECTION("kinds that differ name the slot, the file's choice and the layer's kind") {
    glora::io::AdapterSet into;
    into.add("blocks.1.attn.qkv", second).add("blocks.0.attn.qkv", first);
    CHECK_THROWS_WITH(glora::io::load_adapters(path, into),
                      path +
                          ": layer \"blocks.0.attn.qkv\": the file has A = vector, the layer "
                          "has LowRank<4>");
    CHECK(unchanged());
  }
  SECTION("a layer of another shape") {
    Qkv wide(Eigen::MatrixXf::Random(6, 7), Eigen::VectorXf::Random(6));
    glora::io::AdapterSet into;
    into.add("blocks.1.attn.qkv", wide);
    CHECK_THROWS_WITH(glora::io::load_adapters(path, into),
                      path +
                          ": layer \"blocks.1.attn.qkv\": the file has 6 x 5 (out x in), the "
                          "layer has 6 x 7");
  }
  SECTION("a missing layer, unless partial loading is asked for") {
    glora::io::AdapterSet into;
    into.add("blocks.1.attn.qkv", second).add("blocks.2.attn.qkv", first);
    CHECK_THROWS_WITH(glora::io::load_adapters(path, into),
                      path +
                          ": layer \"blocks.2.attn.qkv\" is not in the file (set "
                          "LoadOptions::partial to skip missing layers)");
    CHECK(unchanged());
    glora::io::LoadOptions partial;
    partial.partial = true;
    glora::io::load_adapters(path, into, partial);
    CHECK(identical(glora::to_dynamic(second.adapter()), fine));
    CHECK(identical(glora::to_dynamic(first.adapter()), first_before));
  }
  SECTION("a const layer can be saved but not loaded") {
    const Qkv& read_only = first;
    glora::io::AdapterSet into;
    into.add("blocks.1.attn.qkv", read_only);
    CHECK_THROWS_WITH(glora::io::load_adapters(path, into),
                      "glora::io: layer \"blocks.1.attn.qkv\" was added to the set as const");
  }
}

TEST_CASE("files: a supernet's full tensors load into a fixed layer with the slicing rule") {
  TempDir dir("supernet");
  const std::string path = dir / "supernet.safetensors";
  const Eigen::Index out = 6, in = 5;
  glora::DynamicAdapter<double> supernet(
      LayerConfig{Choice::low_rank(4), Choice::low_rank(4), Choice::low_rank(4), Choice::vector(),
                  Choice::vector()},
      out, in);
  std::mt19937 rng(7);
  fill_random(supernet, rng);
  supernet.config = {Choice::low_rank(2), Choice::vector(), Choice::scalar(), Choice::scalar(),
                     Choice::vector()};
  glora::io::AdapterSet set;
  set.add("blocks.3.attn.proj", supernet, out, in);
  glora::io::save_adapters(path, set);

  glora::Adapter<double, glora::LowRank<2>, glora::Vector, glora::Scalar, glora::Scalar,
                 glora::Vector>
      fixed(out, in);
  glora::io::AdapterSet into;
  into.add("blocks.3.attn.proj", fixed, out, in);
  glora::io::load_adapters(path, into);
  CHECK(fixed.A.down == supernet.Ad.leftCols(2));
  CHECK(fixed.A.up == supernet.Au.topRows(2));
  CHECK(fixed.B.value == supernet.Bd.col(0));
  CHECK(fixed.C.value == supernet.Cd(0, 0));
  CHECK(fixed.D.value == supernet.D(0));
  CHECK(fixed.E.value == supernet.E);

  // A DynamicAdapter keeps the whole supernet.
  glora::DynamicAdapter<double> whole;
  glora::io::AdapterSet dynamic;
  dynamic.add("blocks.3.attn.proj", whole, out, in);
  glora::io::load_adapters(path, dynamic);
  CHECK(identical(whole, supernet));
}

TEST_CASE("files: a tensor too small for its choice names the tensor, the file and both shapes") {
  TempDir dir("small");
  const std::string path = dir / "small.safetensors";
  glora::DynamicAdapter<float> a(LayerConfig{Choice::low_rank(2), Choice::none(), Choice::none(),
                                             Choice::none(), Choice::none()},
                                 6, 5);
  glora::io::AdapterSet set;
  set.add("fc", a, 6, 5);
  glora::io::save_adapters(path, set);
  // Claim rank 4 in the metadata: rewrite the header's config text, same length.
  auto bytes = glora_test::files::read_file(path);
  const std::string from = "LoRA_2", to = "LoRA_4";
  auto at = std::search(bytes.begin(), bytes.end(), from.begin(), from.end());
  REQUIRE(at != bytes.end());
  std::copy(to.begin(), to.end(), at);
  glora_test::files::write_file(path, bytes);
  CHECK_THROWS_WITH(glora::io::AdapterFile(path),
                    path +
                        ": tensor \"fc.Ad\" is [6, 2], expected [6, at least 4] (layer \"fc\", "
                        "6 x 5, A = LoRA_4)");
}

TEST_CASE("files: merged layers are written as PyTorch weight [out, in] and bias [out]") {
  TempDir dir("merged");
  const std::string path = dir / "merged.safetensors";
  const Eigen::MatrixXf W0 = Eigen::MatrixXf::Random(3, 4);
  const Eigen::VectorXf b0 = Eigen::VectorXf::Random(3);
  glora::Linear<float, glora::LowRank<2>, glora::Vector, glora::Vector, glora::Scalar,
                glora::Vector>
      layer(W0, b0);
  auto& a = layer.adapter();
  a.initialize(9);
  a.A.down.setRandom();
  a.B.value.setRandom();
  a.C.value.setRandom();
  a.D.value = 0.5f;
  a.E.value.setRandom();
  glora::Dense<float> plain(Eigen::MatrixXf::Random(2, 3), Eigen::VectorXf::Random(2));
  glora::io::MergedSet<float> model;
  model.add("encoder.fc", layer).add("head", plain);
  glora::io::save_merged(path, model);

  const glora::io::SafetensorsFile file(path);
  const auto weight_bytes = file.bytes(file.at("encoder.fc.weight"));
  CHECK(file.at("encoder.fc.weight").shape == std::vector<std::uint64_t>{3, 4});
  CHECK(file.at("encoder.fc.bias").shape == std::vector<std::uint64_t>{3});
  // The formula written plainly, compared with the row-major bytes.
  for (int i = 0; i < 3; ++i) {
    float c_term = 0;
    for (int j = 0; j < 4; ++j) c_term += W0(i, j) * a.C.value(j);
    for (int j = 0; j < 4; ++j) {
      float A = 0;
      for (int k = 0; k < 2; ++k) A += a.A.down(i, k) * a.A.up(k, j);
      const float expected = W0(i, j) + W0(i, j) * A + a.B.value(i);
      float stored;
      std::memcpy(&stored, weight_bytes.data + 4 * (i * 4 + j), 4);
      CHECK(stored == Approx(expected).margin(1e-6));
    }
    const float bias = b0(i) + b0(i) * a.D.value + a.E.value(i) + c_term;
    CHECK(file.matrix<float>(file.at("encoder.fc.bias"))(i, 0) == Approx(bias).margin(1e-6));
  }
  CHECK(file.matrix<float>(file.at("head.weight")) == plain.weight);
  const auto head = file.bytes(file.at("head.weight"));
  float second;  // row-major: element [0, 1] comes second
  std::memcpy(&second, head.data + 4, 4);
  CHECK(second == plain.weight(0, 1));
}

TEST_CASE("files: F16 and BF16 convert exactly; writing rounds to nearest even") {
  using glora::io::bf16_to_float;
  using glora::io::half_to_float;
  CHECK(half_to_float(0x3c00) == 1.0f);
  CHECK(half_to_float(0xc000) == -2.0f);
  CHECK(half_to_float(0x7bff) == 65504.0f);
  CHECK(half_to_float(0x0001) == 0x1.0p-24f);    // smallest subnormal
  CHECK(half_to_float(0x03ff) == 0x1.ff8p-15f);  // largest subnormal
  CHECK(half_to_float(0x0400) == 0x1.0p-14f);    // smallest normal
  CHECK(half_to_float(0x3555) == 0x1.554p-2f);
  CHECK(std::isinf(half_to_float(0xfc00)));
  CHECK(std::isnan(half_to_float(0x7e00)));
  CHECK(std::signbit(half_to_float(0x8000)));
  CHECK(bf16_to_float(0x3f80) == 1.0f);
  CHECK(bf16_to_float(0xc2f7) == -123.5f);
  CHECK(bf16_to_float(0x0001) == 0x1.0p-133f);
  // Every one of the 65536 half values survives half -> float -> half.
  int exact = 0;
  for (unsigned h = 0; h < 65536; ++h) {
    const float f = half_to_float(static_cast<std::uint16_t>(h));
    exact += std::isnan(f) || glora::io::float_to_half(f) == h ? 1 : 0;
  }
  CHECK(exact == 65536);
  CHECK(glora::io::float_to_half(1.0f + 0x1.0p-11f) == 0x3c00);  // a tie rounds to even
  CHECK(glora::io::float_to_half(1.0f + 0x1.8p-11f) == 0x3c01);
  CHECK(glora::io::float_to_half(65520.0f) == 0x7c00);    // overflows to infinity
  CHECK(glora::io::float_to_half(0x1.0p-25f) == 0x0000);  // a tie at zero rounds to even
  CHECK(glora::io::float_to_half(0x1.8p-25f) == 0x0001);
  CHECK(glora::io::float_to_bf16(1.0f + 0x1.0p-8f) == 0x3f80);  // a tie rounds to even
  CHECK(glora::io::float_to_bf16(1.0f + 0x1.8p-8f) == 0x3f81);

  // A hand-made file of F16, BF16 and F64 tensors reads as exact floats and doubles.
  const glora_test::files::Bytes buffer = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00,  // F16 [3]
                                           0x80, 0x3f, 0xf7, 0xc2,              // BF16 [2]
                                           0,    0,    0,    0,    0,    0,
                                           0xf0, 0x3f};  // F64 [1]
  const auto file = glora::io::SafetensorsFile::from_bytes(
      "dtypes.safetensors",
      glora_test::files::safetensors(R"({"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},)"
                                     R"("b":{"dtype":"BF16","shape":[1,2],"data_offsets":[6,10]},)"
                                     R"("d":{"dtype":"F64","shape":[],"data_offsets":[10,18]}})",
                                     buffer));
  const Eigen::MatrixXd h = file.matrix<double>(file.at("h"));
  CHECK(h(0, 0) == 1.0);
  CHECK(h(1, 0) == -2.0);
  CHECK(h(2, 0) == 0x1.0p-24);
  const Eigen::MatrixXf b = file.matrix<float>(file.at("b"));
  CHECK(b.rows() == 1);
  CHECK(b(0, 1) == -123.5f);
  CHECK(file.matrix<float>(file.at("d"))(0, 0) == 1.0f);
}

TEST_CASE("files: a save that fails leaves the previous file whole and no temporary behind") {
  TempDir dir("atomic");
  const std::string path = dir / "adapters.safetensors";
  glora::DynamicAdapter<float> small(
      LayerConfig{Choice::vector(), Choice::none(), Choice::none(), Choice::none(), Choice::none()},
      4, 3);
  glora::io::AdapterSet set;
  set.add("fc", small, 4, 3);
  glora::io::save_adapters(path, set);
  const auto before = glora_test::files::read_file(path);
  REQUIRE(before.size() > 100);

  SECTION("the write fails midway (a file size limit)") {
    glora::DynamicAdapter<float> big(LayerConfig{Choice::low_rank(64), Choice::none(),
                                                 Choice::none(), Choice::none(), Choice::none()},
                                     256, 256);
    glora::io::AdapterSet large;
    large.add("fc", big, 256, 256);
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal
    rlimit limited = old;
    limited.rlim_cur = 65536;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &limited) == 0);
    std::string message;
    try {
      glora::io::save_adapters(path, large);
    } catch (const glora::file_error& e) {
      message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    CHECK(message == path + ": writing failed after 65536 bytes: File too large");
  }
  SECTION("the target is a directory") {
    const std::string folder = dir / "folder.safetensors";
    std::filesystem::create_directory(folder);
    glora_test::files::write_file(folder + "/inside", before);
    CHECK_THROWS_WITH(glora::io::save_adapters(folder, set),
                      folder + ": cannot replace the target: Is a directory");
    CHECK(glora_test::files::read_file(folder + "/inside") == before);
    std::filesystem::remove_all(folder);
  }
  SECTION("the folder does not exist") {
    const std::string missing = dir / "missing/adapters.safetensors";
    CHECK_THROWS_WITH(glora::io::save_adapters(missing, set),
                      missing +
                          ": cannot create a temporary file in its folder: No such file or "
                          "directory");
  }
  SECTION("an adapter that does not fit its layer is refused before anything is written") {
    glora::DynamicAdapter<float> wrong = small;
    wrong.Ad.resize(3, 1);
    glora::io::AdapterSet bad;
    bad.add("fc", wrong, 4, 3);
    CHECK_THROWS_WITH(glora::io::save_adapters(path, bad),
                      "glora::io::save_adapters: layer \"fc\": Ad (slot A, vector) is 3 x 1, "
                      "expected 4 x at least 1");
  }
  CHECK(glora_test::files::read_file(path) == before);
  CHECK(dir.entries() == std::vector<std::string>{"adapters.safetensors"});
}

TEST_CASE(
    "files: F32 tensors of every small shape read transposed exactly; a NaN anywhere is found") {
  // Shapes around the 4 x 4 blocks and 64 x 64 tiles of the copy, written by hand (row-major).
  const std::vector<std::pair<int, int>> shapes = {{1, 1}, {2, 3},  {4, 4},  {5, 7},
                                                   {8, 9}, {3, 70}, {67, 5}, {66, 130}};
  for (const auto& [rows, cols] : shapes) {
    for (const bool with_nan : {false, true}) {
      const int nan_at = (rows * cols * 7) / 11;  // some element, block or edge by shape
      std::vector<float> values;
      for (int i = 0; i < rows; ++i) {
        for (int j = 0; j < cols; ++j) {
          const bool poisoned = with_nan && i * cols + j == nan_at;
          values.push_back(poisoned ? std::numeric_limits<float>::quiet_NaN()
                                    : static_cast<float>(1000 * i + j));
        }
      }
      glora_test::files::Bytes buffer(values.size() * 4);
      std::memcpy(buffer.data(), values.data(), buffer.size());
      const std::string header = R"({"t":{"dtype":"F32","shape":[)" + std::to_string(rows) + "," +
                                 std::to_string(cols) + R"(],"data_offsets":[0,)" +
                                 std::to_string(buffer.size()) + "]}}";
      const auto file = glora::io::SafetensorsFile::from_bytes(
          "shapes.safetensors", glora_test::files::safetensors(header, buffer));
      INFO(rows << " x " << cols << (with_nan ? " with a NaN" : ""));
      if (with_nan) {
        const std::string at =
            "[" + std::to_string(nan_at / cols) + ", " + std::to_string(nan_at % cols) + "]";
        CHECK_THROWS_WITH(file.matrix<float>(file.at("t")),
                          "shapes.safetensors: tensor \"t\" holds nan at " + at +
                              " (values that are not finite are refused unless "
                              "allow_non_finite is set)");
        continue;
      }
      const Eigen::MatrixXf m = file.matrix<float>(file.at("t"));
      int exact = 0;
      for (int i = 0; i < rows; ++i) {
        for (int j = 0; j < cols; ++j) exact += m(i, j) == static_cast<float>(1000 * i + j) ? 1 : 0;
      }
      CHECK(exact == rows * cols);
    }
  }
}

TEST_CASE("files: SafetensorsWriter streams declared tensors one at a time, in any dtype") {
  TempDir dir("writer");
  const std::string path = dir / "model.safetensors";
  using glora::io::DType;
  Eigen::MatrixXf w(2, 3);
  w << 1, 2, 3, 4, 5, 6;
  {
    glora::io::SafetensorsWriter writer(path,
                                        {{"w", DType::BF16, {2, 3}},
                                         {"empty", DType::F32, {0, 4}},
                                         {"ids", DType::I64, {2}},
                                         {"b", DType::F16, {3}}},
                                        {{"source", "test"}});
    writer.write_matrix(w);
    writer.write_matrix(Eigen::MatrixXf(0, 4));
    const std::int64_t ids[2] = {7, -1};
    writer.write(ids, sizeof ids);  // raw bytes pass through: what a merge copies unchanged
    CHECK_THROWS_WITH(writer.write_matrix(Eigen::VectorXd::Ones(4)),
                      "glora::io::SafetensorsWriter::write_matrix: " + path +
                          ": the matrix is not the next declared tensor (4 x 1 values)");
    writer.write_matrix(Eigen::VectorXd::Constant(3, 0.5));
    CHECK_THROWS_WITH(writer.write(ids, 1), "glora::io::SafetensorsWriter: " + path +
                                                ": 1 bytes would run past the declared tensors");
    writer.commit();
  }
  const glora::io::SafetensorsFile file(path);
  CHECK(file.header().length % 8 == 0);  // padded with spaces
  // BF16 [2, 3], F32 [0, 4], I64 [2], F16 [3]: 12 + 0 + 16 + 6 bytes after the header.
  CHECK(glora_test::files::read_file(path).size() == 8 + file.header().length + 34);
  CHECK(*file.find_metadata("source") == "test");
  CHECK(file.matrix<float>(file.at("w")) == w);  // small integers are exact in BF16
  CHECK(file.at("empty").bytes() == 0);
  std::int64_t second;
  std::memcpy(&second, file.bytes(file.at("ids")).data + 8, 8);
  CHECK(second == -1);
  CHECK(file.matrix<double>(file.at("b")) == Eigen::MatrixXd::Constant(3, 1, 0.5));

  // Without commit() nothing appears; a missing tensor makes commit() refuse.
  {
    glora::io::SafetensorsWriter unfinished(dir / "unfinished.safetensors",
                                            {{"x", DType::F32, {2}}});
    CHECK_THROWS_WITH(unfinished.commit(),
                      "glora::io::SafetensorsWriter::commit: " + (dir / "unfinished.safetensors") +
                          ": 8 bytes of the declared tensors were not written");
  }
  CHECK_THROWS_WITH(glora::io::SafetensorsWriter(dir / "twice.safetensors",
                                                 {{"x", DType::F32, {1}}, {"x", DType::F32, {1}}}),
                    "glora::io::SafetensorsWriter: " + (dir / "twice.safetensors") +
                        ": the tensor name \"x\" is used twice");
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
}
