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
