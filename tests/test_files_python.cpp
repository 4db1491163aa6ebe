// Files written outside the library, by Python scripts that know only the formats: a glora
// adapter file and PEFT GLoRA folders with random tensors (F32, F64, F16, BF16, a supernet), and
// reference checkpoints converted by scripts/convert_reference_checkpoint.py. The layers loaded
// from them must give the outputs the scripts computed with NumPy from the GLoRA formula.
//
// ctest-python: numpy numpy files/write_test_files.py [numpy]
// ctest-python: converter numpy,torch files/make_reference_checkpoint.py [converter]
#include <glora/glora.hpp>
#include <glora/io.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

namespace {

std::string files_dir() {
  const char* dir = std::getenv("GLORA_TEST_FILES");
  REQUIRE(dir != nullptr);  // set by tests/files/run_with_files.py
  return dir;
}

// W0, b0, X and the expected Y of one layer, from reference.safetensors (all F64).
struct Reference {
  Eigen::MatrixXd W0, X, Y;
  Eigen::VectorXd b0;

  Reference(const glora::io::SafetensorsFile& file, const std::string& name)
      : W0(file.matrix<double>(file.at(name + ".W0"))),
        X(file.matrix<double>(file.at(name + ".X"))),
        Y(file.matrix<double>(file.at(name + ".Y"))) {
    if (const auto* b = file.find(name + ".b0")) b0 = file.matrix<double>(*b);
  }
};

// Largest |actual - expected| relative to 1 + |expected|.
double relative_error(const Eigen::MatrixXd& actual, const Eigen::MatrixXd& expected) {
  REQUIRE(actual.rows() == expected.rows());
  REQUIRE(actual.cols() == expected.cols());
  return ((actual - expected).array() / (1.0 + expected.array().abs())).abs().maxCoeff();
}

template <typename Layer>
double error_of(const Layer& layer, const Reference& r) {
  using T = typename Layer::scalar_type;
  const Eigen::MatrixXd Y = layer.forward(r.X.cast<T>()).template cast<double>();
  return relative_error(Y, r.Y);
}

}  // namespace

TEST_CASE("python: a glora adapter file written with NumPy loads and gives NumPy's outputs",
          "[numpy]") {
  const std::string dir = files_dir();
  const glora::io::SafetensorsFile reference(dir + "/reference.safetensors");
  const Reference qkv(reference, "blocks.0.attn.qkv"), fc1(reference, "blocks.0.mlp.fc1"),
      proj(reference, "blocks.1.attn.proj"), head(reference, "head");

  glora::Linear<float, glora::LowRank<4>, glora::Vector, glora::LowRank<4>, glora::Scalar,
                glora::Vector>
      l_qkv(qkv.W0.cast<float>(), qkv.b0.cast<float>());
  glora::Linear<double, glora::Scalar, glora::LowRank<2>, glora::Vector, glora::Vector,
                glora::Scalar>
      l_fc1(fc1.W0, fc1.b0);
  glora::Linear<float, glora::LowRank<2>, glora::LowRank<4>, glora::Vector, glora::Vector,
                glora::Scalar>
      l_proj(proj.W0.cast<float>(), proj.b0.cast<float>());
  glora::Linear<double, glora::Vector, glora::None, glora::None, glora::None, glora::Vector> l_head(
      head.W0);
  glora::io::AdapterSet set;
  set.add("blocks.0.attn.qkv", l_qkv)
      .add("blocks.0.mlp.fc1", l_fc1)
      .add("blocks.1.attn.proj", l_proj)
      .add("head", l_head);
  const glora::io::AdapterFile file(dir + "/py_adapters.safetensors");
  glora::io::load_adapters(file, set);

  CHECK(error_of(l_qkv, qkv) < 1e-5);     // F32 tensors, float layer
  CHECK(error_of(l_fc1, fc1) < 1e-12);    // F64 tensors, double layer
  CHECK(error_of(l_proj, proj) < 1e-5);   // F16 supernet tensors sliced, float layer
  CHECK(error_of(l_head, head) < 1e-12);  // BF16 tensors, double layer without a bias
  // The control: the frozen layers alone do not give these outputs.
  const Eigen::MatrixXd frozen = qkv.W0.lazyProduct(qkv.X).colwise() + qkv.b0;
  CHECK(relative_error(frozen, qkv.Y) > 1e-2);

  // Without glora.shapes the reader takes out and in from the tensors that fix them.
  CHECK(file.find("blocks.0.mlp.fc1")->out == 7);
  CHECK(file.find("blocks.0.mlp.fc1")->in == 6);
  CHECK(file.find("head")->out == 3);
  CHECK(file.find("head")->in == -1);  // only A = vector and E = vector: nothing fixes in
}

TEST_CASE("python: PEFT GLoRA folders load by module name, with and without a bias", "[numpy]") {
  const std::string dir = files_dir();
  const glora::io::SafetensorsFile reference(dir + "/reference.safetensors");
  const Reference q(reference, "peft_lora/model.layers.0.self_attn.q_proj"),
      v(reference, "peft_lora/model.layers.0.self_attn.v_proj"),
      fc(reference, "peft_named/encoder.fc");

  glora::Linear<float, glora::LowRank<4>, glora::LowRank<4>, glora::Vector, glora::Scalar,
                glora::Scalar>
      l_q(q.W0.cast<float>(), q.b0.cast<float>());
  glora::Linear<float, glora::LowRank<4>, glora::LowRank<4>> l_v(v.W0.cast<float>());
  glora::io::AdapterSet set;
  set.add("q", l_q).add("v", l_v);
  const auto module_of = [](const std::string& layer) {
    return "model.layers.0.self_attn." + layer + "_proj";
  };
  glora::io::load_peft(dir + "/peft_lora", set, {}, module_of);
  CHECK(error_of(l_q, q) < 1e-5);
  CHECK(error_of(l_v, v) < 1e-5);

  glora::Linear<double, glora::Vector, glora::Vector, glora::LowRank<2>, glora::Vector,
                glora::Vector>
      l_fc(fc.W0, fc.b0);
  glora::io::AdapterSet named;
  named.add("encoder.fc", l_fc);
  glora::io::load_peft(dir + "/peft_named", named);
  CHECK(error_of(l_fc, fc) < 1e-12);  // F16 tensors under the adapter name "default"

  // For tools: every module as a DynamicAdapter, its config in the reference's spelling.
  const glora::io::PeftAdapter adapter(dir + "/peft_lora");
  REQUIRE(adapter.modules().size() == 2);
  CHECK(adapter.modules()[0].name == "model.layers.0.self_attn.q_proj");
  CHECK(glora::to_short_string(adapter.modules()[0].config) ==
        "A=LoRA_4 B=LoRA_4 C=vector D=constant E=constant");
  CHECK(glora::to_short_string(adapter.modules()[1].config) ==
        "A=LoRA_4 B=LoRA_4 C=none D=none E=none");
  const auto dynamic = adapter.read<double>("model.layers.0.self_attn.v_proj");
  CHECK(dynamic.Ad.rows() == 4);
  CHECK(dynamic.Au.cols() == 5);

  // A layer whose kinds cannot hold the adapter's configuration.
  glora::Linear<float, glora::Vector, glora::LowRank<4>, glora::Vector, glora::Scalar,
                glora::Scalar>
      wrong(q.W0.cast<float>(), q.b0.cast<float>());
  glora::io::AdapterSet bad;
  bad.add("q", wrong);
  CHECK_THROWS_WITH(glora::io::load_peft(adapter, bad, {}, module_of),
                    dir +
                        "/peft_lora/adapter_model.safetensors: layer \"q\" "
                        "(\"model.layers.0.self_attn.q_proj\" in the file): the file has A = "
                        "LoRA_4, the layer has Vector");
}

TEST_CASE("python: a reference checkpoint converted by the script gives the reference's outputs",
          "[converter]") {
  const std::string dir = files_dir();
  const glora::io::SafetensorsFile reference(dir + "/reference.safetensors");
  const Reference qkv(reference, "blocks.0.attn.qkv"), fc1(reference, "blocks.0.mlp.fc1"),
      fc2(reference, "blocks.0.mlp.fc2");
  for (const char* file : {"/converted.safetensors", "/trimmed.safetensors"}) {
    INFO(file);
    glora::Linear<float, glora::LowRank<2>, glora::Vector, glora::None, glora::Scalar,
                  glora::Vector>
        l_qkv(qkv.W0.cast<float>(), qkv.b0.cast<float>());
    glora::Linear<float, glora::Scalar, glora::LowRank<4>, glora::LowRank<4>, glora::Vector,
                  glora::None>
        l_fc1(fc1.W0.cast<float>(), fc1.b0.cast<float>());
    glora::Linear<double, glora::None, glora::None, glora::Vector, glora::None, glora::Scalar>
        l_fc2(fc2.W0, fc2.b0);
    glora::io::AdapterSet set;
    set.add("blocks.0.attn.qkv", l_qkv)
        .add("blocks.0.mlp.fc1", l_fc1)
        .add("blocks.0.mlp.fc2", l_fc2);
    glora::io::load_adapters(dir + file, set);
    CHECK(error_of(l_qkv, qkv) < 1e-5);
    CHECK(error_of(l_fc1, fc1) < 1e-5);
    CHECK(error_of(l_fc2, fc2) < 1e-12);
  }
  // The untrimmed file keeps the whole supernet: every tensor at rank 4.
  const glora::io::AdapterFile converted(dir + "/converted.safetensors");
  CHECK(converted.safetensors().at("blocks.0.attn.qkv.Ad").shape ==
        std::vector<std::uint64_t>{6, 4});
  CHECK(glora::to_short_string(converted.find("blocks.0.mlp.fc2")->config) ==
        "A=none B=none C=vector D=none E=constant");
  const glora::io::AdapterFile trimmed(dir + "/trimmed.safetensors");
  CHECK(trimmed.safetensors().at("blocks.0.attn.qkv.Ad").shape == std::vector<std::uint64_t>{6, 2});
  CHECK(trimmed.safetensors().find("blocks.0.mlp.fc2.Ad") == nullptr);
}
