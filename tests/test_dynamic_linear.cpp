// The run-time configured layer on its own: backward against central finite
// differences on configurations that cover every choice of every slot,
// gradient exactly where the configuration reads the shared tensors and
// nowhere else, merges into either storage order against the formula, and
// the checks of set_config. (test_dynamic_linear_float/double compare it
// with the compile-time layer on the whole search space.)
#include "dynamic_formula.hpp"
#include "gradient_checks.hpp"
#include "layer_checks.hpp"

#include <glora/glora.hpp>
#include <glora/search.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using glora::SearchSpace;
using glora_test::LayerConfig;
using glora_test::Slot;
using Matrix = glora::MatrixX<double>;
using RowMatrix = glora::RowMajorMatrixX<double>;
using Vector = glora::VectorX<double>;

// The paper's {5, 3} supernet: LoRA_5 and LoRA_3 wherever the reference offers LoRA_r.
const SearchSpace kSpace = SearchSpace::reference({5, 3});

// Configurations that between them take every choice of every slot, then random ones.
std::vector<LayerConfig> covering_configs(std::mt19937_64& rng) {
  std::vector<LayerConfig> configs;
  for (std::size_t i = 0; i < 5; ++i) {
    LayerConfig config;
    for (const Slot s : glora::all_slots) {
      const auto& choices = kSpace.choices(s);
      config[s] = choices[(i + static_cast<std::size_t>(s)) % choices.size()];
    }
    configs.push_back(config);
  }
  for (int i = 0; i < 10; ++i) configs.push_back(kSpace.sample(rng));
  return configs;
}

}  // namespace

TEST_CASE("the covering configurations take every choice of every slot", "[dynamic]") {
  std::mt19937_64 rng(1);
  std::set<std::pair<Slot, std::string>> seen;
  for (const LayerConfig& config : covering_configs(rng)) {
    for (const Slot s : glora::all_slots) seen.insert({s, glora::to_string(config[s])});
  }
  CHECK(seen.size() == 5 + 5 + 4 + 3 + 3);
}

TEST_CASE("DynamicLinear backward matches finite differences, gradient only where it reads",
          "[dynamic][backward]") {
  std::mt19937 rng(2);
  std::mt19937_64 draws(3);
  for (const LayerConfig& config : covering_configs(draws)) {
    for (const bool with_bias : {true, false}) {
      for (const bool row_major : {false, true}) {
        INFO(glora::to_short_string(config) << (with_bias ? ", with bias" : ", without bias")
                                            << (row_major ? ", row-major W0" : ""));
        const Matrix W0 = glora_test::uniform_matrix(rng, 4, 6);
        const RowMatrix W0_row = W0;
        const Vector b0 = glora_test::uniform_matrix(rng, 4, 1);
        const Matrix X = glora_test::uniform_matrix(rng, 6, 2);
        const Matrix R = glora_test::uniform_matrix(rng, 4, 2);
        const auto check = [&](auto& layer) {
          glora_test::randomize(layer.adapter(), rng);
          layer.set_config(config);
          CHECK(glora_test::check_backward(layer, layer.adapter(), X, R) < 1e-6);

          // backward adds to the entries the configuration reads (random
          // tensors: their gradients are not zero) and leaves every other
          // entry exactly as it was.
          glora::DynamicAdapter<double> grads = layer.adapter();
          glora::for_each_tensor([](const char*, glora::Role, auto t) { t.setConstant(7.0); },
                                 grads);
          layer.backward(X, R, grads);
          const glora::DynamicAdapter<double> used =
              glora_test::used_entries(layer.adapter(), config);
          glora::for_each_tensor(
              [&](const char* name, glora::Role, const auto& g, const auto& mask) {
                INFO("tensor " << name);
                CHECK(((mask.array() == 0) <= (g.array() == 7.0)).all());
                // (Without a bias D has no effect: its gradient is zero.)
                if (with_bias || std::string(name) != "D") {
                  CHECK(((mask.array() != 0) <= (g.array() != 7.0)).all());
                }
              },
              grads, used);
        };
        if (row_major) {
          glora::DynamicLinearView<double> view =
              with_bias ? glora::DynamicLinearView<double>(W0_row, b0, kSpace.capacity())
                        : glora::DynamicLinearView<double>(W0_row, kSpace.capacity());
          check(view);
        } else {
          glora::DynamicLinear<double> layer =
              with_bias ? glora::DynamicLinear<double>(W0, b0, kSpace.capacity())
                        : glora::DynamicLinear<double>(W0, kSpace.capacity());
          check(layer);
        }
      }
    }
  }
}

TEST_CASE("DynamicLinearView over a row-major W0 merges into either storage order",
          "[dynamic][merge]") {
  std::mt19937 rng(4);
  std::mt19937_64 draws(5);
  for (const LayerConfig& config : covering_configs(draws)) {
    INFO(glora::to_short_string(config));
    const RowMatrix W0 = glora_test::random_matrix<double>(rng, 6, 4);
    const Vector b0 = glora_test::random_vector<double>(rng, 6);
    glora::DynamicLinearView<double> view(W0, b0, kSpace.capacity());
    glora_test::fill_shared(view.adapter(), rng);
    view.set_config(config);

    const Matrix W0_col = W0;
    const glora_test::Reference exact =
        glora_test::shared_reference(W0_col, &b0, view.adapter(), config);
    const glora_test::Reference size =
        glora_test::shared_reference(W0_col, &b0, view.adapter(), config, true);
    Matrix W = Matrix::Constant(6, 4, glora_test::sentinel<double>());
    RowMatrix W_row = RowMatrix::Constant(6, 4, glora_test::sentinel<double>());
    Vector b = Vector::Constant(6, glora_test::sentinel<double>());
    view.merge_into(W, b);
    CHECK(glora_test::mismatch(W, exact.W, size.W, 1e-12L) == "");
    CHECK(glora_test::mismatch(b, exact.b, size.b, 1e-12L) == "");
    b.setConstant(glora_test::sentinel<double>());
    view.merge_into(W_row, b);
    CHECK(glora_test::mismatch(W_row, exact.W, size.W, 1e-12L) == "");
    CHECK(glora_test::mismatch(b, exact.b, size.b, 1e-12L) == "");
    CHECK(view.weight() == W0);  // the viewed weights are not written
  }
}

TEST_CASE("set_config refuses what the tensors cannot hold, and changes nothing",
          "[dynamic][errors]") {
  const Matrix W0 = Matrix::Ones(4, 6);
  glora::DynamicLinear<double> layer(W0, SearchSpace::reference({3, 1}).capacity());
  const LayerConfig before = glora::parse_layer_config(
      R"({"A": "LoRA_1", "B": "vector", "C": "none", "D": "constant", "E": "vector"})");
  layer.set_config(before);

  LayerConfig too_large = before;
  too_large.B = glora::Choice::low_rank(4);
  CHECK_THROWS_AS(layer.set_config(too_large), glora::shape_error);
  CHECK_THROWS_WITH(layer.set_config(too_large),
                    "glora::DynamicLinear::set_config: adapter().Bd (slot B, LoRA_4) is 4 x 3, "
                    "expected 4 x at least 4");
  LayerConfig not_allowed = before;
  not_allowed.E = glora::Choice::low_rank(1);
  CHECK_THROWS_AS(layer.set_config(not_allowed), glora::config_error);
  CHECK_THROWS_WITH(layer.set_config(not_allowed),
                    "glora: slot E cannot be LoRA_1 (it takes vector, constant or none)");
  CHECK(layer.config() == before);

  // Gradients laid out for a smaller capacity than the configuration uses.
  glora::DynamicAdapter<double> small(SearchSpace::reference(1).capacity(), 4, 6);
  layer.set_config(SearchSpace::reference({3, 1}).capacity());
  CHECK_THROWS_WITH(layer.backward(Matrix::Ones(6, 2), Matrix::Ones(4, 2), small),
                    "glora::DynamicLinear::backward: grads.Ad (slot A, LoRA_3) is 4 x 1, expected "
                    "4 x at least 3");
  CHECK(small.Ad.isZero(0));
}
