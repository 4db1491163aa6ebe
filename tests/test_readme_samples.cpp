// The README's sample messages are what the code prints. The README holds
// each sample once, on the line after a marker <!-- error-sample: NAME -->,
// between backticks; each case here makes the call that the sample describes
// and compares the whole message. When a message is reworded, the README's
// line is the one place to update.
// ctest-labels: docs
#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <exception>
#include <fstream>
#include <string>
#include <vector>

namespace {

// The text between the first pair of backticks on the line after the marker
// `<!-- error-sample: name -->`; "" (and a failure) when there is none.
std::string readme_sample(const std::string& name) {
  std::ifstream file(GLORA_README_PATH);
  REQUIRE(file.good());
  const std::string marker = "<!-- error-sample: " + name + " -->";
  std::string line;
  while (std::getline(file, line)) {
    if (line.find(marker) == std::string::npos) continue;
    std::getline(file, line);
    const auto open = line.find('`');
    const auto close = line.find('`', open + 1);
    if (open == std::string::npos || close == std::string::npos) break;
    return line.substr(open + 1, close - open - 1);
  }
  FAIL("README.md has no line `...` after the marker " << marker);
  return {};
}

template <typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  FAIL("did not throw");
  return {};
}

}  // namespace

TEST_CASE("README: the sample shape error is the message forward prints", "[docs]") {
  // The sample: forward of a batch with 5 rows (3 samples) through a layer of 4 inputs.
  glora::Linear<float, glora::LowRank<2>> layer(glora::MatrixX<float>::Zero(8, 4),
                                                glora::VectorX<float>::Zero(8));
  const glora::MatrixX<float> X = glora::MatrixX<float>::Zero(5, 3);
  CHECK(message_of([&] { layer.forward(X); }) == readme_sample("forward"));
}

TEST_CASE("README: the sample label error is the message the loss prints", "[docs]") {
  // The sample: 3 labels for logits of 4 columns.
  const glora::MatrixX<float> logits = glora::MatrixX<float>::Zero(10, 4);
  CHECK(message_of([&] {
          glora::softmax_cross_entropy(logits, std::vector<int>{1, 2, 3});
        }) == readme_sample("labels"));
}

TEST_CASE("README: the sample hint is the message forward prints for a batch of rows", "[docs]") {
  // The sample: 32 samples of 64 features as rows, through a view of a layer of 64 inputs.
  glora::MatrixX<float> W = glora::MatrixX<float>::Zero(16, 64);
  glora::LinearView<float, glora::LowRank<2>> view(W);
  const glora::MatrixX<float> X = glora::MatrixX<float>::Zero(32, 64);
  CHECK(message_of([&] { view.forward(X); }) == readme_sample("hint"));
}

TEST_CASE("README: the sample gradients error is the message backward prints", "[docs]") {
  // The sample: a default-constructed grads for a 128-output layer with a rank-4 A.
  using Layer = glora::Linear<float, glora::LowRank<4>>;
  const Layer layer(glora::MatrixX<float>::Zero(128, 8), glora::VectorX<float>::Zero(128));
  Layer::adapter_type grads;
  const glora::MatrixX<float> X = glora::MatrixX<float>::Zero(8, 2);
  const glora::MatrixX<float> dY = glora::MatrixX<float>::Zero(128, 2);
  CHECK(message_of([&] { layer.backward(X, dY, grads); }) == readme_sample("grads"));
}

TEST_CASE("README: the sample merge_in_place refusal is the message it prints", "[docs]") {
  // The sample: a view without a bias whose prompt C is not zero.
  glora::MatrixX<float> W = glora::MatrixX<float>::Zero(6, 5);
  glora::LinearView<float, glora::LowRank<2>, glora::None, glora::Vector> view(W);
  view.adapter().C.value.setOnes();
  CHECK(message_of([&] { view.merge_in_place(); }) == readme_sample("merge_in_place"));
}

TEST_CASE("README: the sample optimiser option error is the message it prints", "[docs]") {
  CHECK(message_of([] { glora::AdamW<float>::Options().beta1(1.5f); }) == readme_sample("adamw"));
}
