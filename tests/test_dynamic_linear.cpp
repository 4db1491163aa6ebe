// What the run-time configured layer promises beyond its arithmetic (which
// test_conformance*.cpp check on every configuration): backward writes only
// the entries of the shared tensors that the configuration reads, and
// set_config refuses what the tensors cannot hold, changing nothing.
#include "shared_tensors.hpp"

#include <glora/glora.hpp>
#include <glora/search.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using glora::LayerConfig;
using glora::SearchSpace;
using glora::Slot;
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

TEST_CASE("backward adds to the entries the configuration reads and leaves the others alone",
          "[dynamic][backward]") {
  std::mt19937 rng(2);
  std::mt19937_64 draws(3);
  for (const LayerConfig& config : covering_configs(draws)) {
    for (const bool with_bias : {true, false}) {
      for (const bool row_major : {false, true}) {
        INFO(glora::to_short_string(config) << (with_bias ? ", with bias" : ", without bias")
                                            << (row_major ? ", row-major W0" : ""));
        const Matrix W0 = glora_test::random_matrix<double>(rng, 4, 6);
        const RowMatrix W0_row = W0;
        const Vector b0 = glora_test::random_vector<double>(rng, 4);
        const Matrix X = glora_test::random_matrix<double>(rng, 6, 2);
        const Matrix dY = glora_test::random_matrix<double>(rng, 4, 2);
        const auto check = [&](auto& layer) {
          glora_test::fill_shared(layer.adapter(), rng);
          layer.set_config(config);
          glora::DynamicAdapter<double> grads = layer.adapter();
          glora::for_each_tensor([](const char*, glora::Role, auto t) { t.setConstant(7.0); },
                                 grads);
          layer.backward(X, dY, grads);
          const glora::DynamicAdapter<double> used =
              glora_test::used_entries(layer.adapter(), config);
          glora::for_each_tensor(
              [&](const char* name, glora::Role, const auto& g, const auto& mask) {
                INFO("tensor " << name);
                CHECK(((mask.array() == 0) <= (g.array() == 7.0)).all());
                // Random nonzero tensors: every entry read gets a gradient,
                // but D, which has no effect without a bias.
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
