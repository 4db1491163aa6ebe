// The method end to end on a model of several run-time configured layers:
// supernet training steps (Supernet: reproducible uniform draws, set on the
// layers, gradient only where the draw reads), and deploying a searched
// configuration (set_configs, merge_all, assign into a compile-time layer,
// its C++ type). Expected values come from the layer's formula and the
// slicing rule written out in reference_formula.hpp and shared_tensors.hpp,
// from sample_configs with the same seed, and from the schedule written out
// here.
#include "shared_tensors.hpp"

#include <glora/glora.hpp>
#include <glora/search.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using glora::Choice;
using glora::DynamicLinear;
using glora::LayerConfig;
using glora::SearchLayer;
using glora::SearchSpace;
using glora::Slot;
using glora_test::Real;
using glora_test::RealMatrix;
using Matrix = glora::MatrixX<double>;
using Vector = glora::VectorX<double>;
using Configs = std::vector<LayerConfig>;

// A two-layer model (5 -> 7 -> 4) of run-time configured layers sized for `space`,
// every shared tensor filled with random nonzero values.
std::vector<DynamicLinear<double>> make_model(const SearchSpace& space, std::mt19937& rng) {
  std::vector<DynamicLinear<double>> layers;
  for (const auto& [out, in] : {std::pair<Eigen::Index, Eigen::Index>{7, 5}, {4, 7}}) {
    layers.emplace_back(glora_test::random_matrix<double>(rng, out, in),
                        glora_test::random_vector<double>(rng, out), space.capacity());
    glora_test::fill_shared(layers.back().adapter(), rng);
  }
  return layers;
}

Configs configs_of(const std::vector<DynamicLinear<double>>& layers) {
  Configs configs;
  for (const auto& layer : layers) configs.push_back(layer.config());
  return configs;
}

// The largest relative difference between a layer's forward and its formula
// under its own configuration.
Real forward_error(const DynamicLinear<double>& layer, const Matrix& X) {
  const Vector b0 = layer.bias();
  const Matrix W0 = layer.weight();
  const glora_test::Reference expected =
      glora_test::reference_layer(W0, &b0, layer.adapter(), layer.config());
  const RealMatrix Y = glora_test::to_real(layer.forward(X));
  const RealMatrix Y_expected = expected.forward(glora_test::to_real(X));
  return (Y - Y_expected).cwiseAbs().maxCoeff() / Y_expected.cwiseAbs().maxCoeff();
}

const LayerConfig kLoraVector = glora::parse_layer_config(
    R"({"A": "LoRA_2", "B": "vector", "C": "none", "D": "constant", "E": "vector"})");

}  // namespace

TEST_CASE("search_layers: each layer's shape with the space", "[supernet][model]") {
  std::mt19937 rng(1);
  const SearchSpace space = SearchSpace::reference({4, 2});
  std::vector<DynamicLinear<double>> layers = make_model(space, rng);
  const std::vector<SearchLayer> search = glora::search_layers(layers, space);
  REQUIRE(search.size() == 2);
  CHECK(search[0].out == 7);
  CHECK(search[0].in == 5);
  CHECK(search[1].out == 4);
  CHECK(search[1].in == 7);
  CHECK(search[0].space == space);
  CHECK(search[1].space == space);

  SECTION("a layer too small for the space is named") {
    CHECK_THROWS_WITH(glora::search_layers(layers, SearchSpace::reference({8, 2})),
                      "glora::search_layers: layers[0].adapter().Ad (slot A, LoRA_8) is 7 x 4, "
                      "expected 7 x at least 8");
  }
  SECTION("no layers") {
    const std::vector<DynamicLinear<double>> none;
    CHECK_THROWS_WITH(glora::search_layers(none, space), "glora::search_layers: no layers given");
  }
}

TEST_CASE("set_configs sets configs[i] on layers[i], all or nothing", "[supernet][model]") {
  std::mt19937 rng(2);
  const SearchSpace space = SearchSpace::reference({4, 2});
  std::vector<DynamicLinear<double>> layers = make_model(space, rng);
  const Matrix X = glora_test::random_matrix<double>(rng, 5, 3);
  const Configs chosen = {kLoraVector, space.at(17)};

  glora::set_configs(layers, chosen);
  CHECK(configs_of(layers) == chosen);
  CHECK(forward_error(layers[0], X) < 1e-13);

  SECTION("through pointers, raw or owning") {
    std::vector<DynamicLinear<double>*> raw = {&layers[1], &layers[0]};
    glora::set_configs(raw, {space.at(3), space.at(4)});
    CHECK(layers[1].config() == space.at(3));
    CHECK(layers[0].config() == space.at(4));

    std::vector<std::unique_ptr<DynamicLinear<double>>> owned;
    owned.push_back(std::make_unique<DynamicLinear<double>>(layers[0]));
    glora::set_configs(owned, {kLoraVector});
    CHECK(owned[0]->config() == kLoraVector);
  }

  SECTION("a list that does not fit changes no layer") {
    LayerConfig too_large = kLoraVector;
    too_large.C = Choice::low_rank(8);
    LayerConfig not_allowed = kLoraVector;
    not_allowed.D = Choice::low_rank(2);
    CHECK_THROWS_WITH(glora::set_configs(layers, {kLoraVector}),
                      "glora::set_configs: 1 configurations for 2 layers (one per layer expected)");
    CHECK_THROWS_AS(glora::set_configs(layers, {space.at(0), too_large}), glora::shape_error);
    CHECK_THROWS_WITH(glora::set_configs(layers, {space.at(0), too_large}),
                      "glora::set_configs: layers[1].adapter().Cd (slot C, LoRA_8) is 7 x 4, "
                      "expected 7 x at least 8");
    CHECK_THROWS_AS(glora::set_configs(layers, {space.at(0), not_allowed}), glora::config_error);
    CHECK_THROWS_WITH(glora::set_configs(layers, {space.at(0), not_allowed}),
                      "glora::set_configs: layers[1]: slot D cannot be LoRA_2 (it takes vector, "
                      "constant or none)");
    CHECK(configs_of(layers) == chosen);
  }
}

TEST_CASE("deploying a searched configuration: merged, as a compile-time layer, its type",
          "[supernet][model]") {
  std::mt19937 rng(3);
  const SearchSpace space = SearchSpace::reference({4, 2});
  std::vector<DynamicLinear<double>> layers = make_model(space, rng);
  const LayerConfig second = glora::parse_layer_config(
      R"({"A": "none", "B": "LoRA_4", "C": "vector", "D": "none", "E": "constant"})");
  glora::set_configs(layers, {kLoraVector, second});

  // merge_all: each layer's W and b as the formula gives them.
  const std::vector<glora::Dense<double>> merged = glora::merge_all(layers);
  REQUIRE(merged.size() == 2);
  for (std::size_t l = 0; l < 2; ++l) {
    const Vector b0 = layers[l].bias();
    const glora_test::Reference expected = glora_test::reference_layer(
        Matrix(layers[l].weight()), &b0, layers[l].adapter(), layers[l].config());
    const glora_test::Reference size = glora_test::reference_layer(
        Matrix(layers[l].weight()), &b0, layers[l].adapter(), layers[l].config(), true);
    CHECK(glora_test::mismatch(merged[l].weight, expected.W, size.W, 1e-12L) == "");
    CHECK(glora_test::mismatch(merged[l].bias, expected.b, size.b, 1e-12L) == "");
  }

  // The C++ types to write in a program that deploys the searched model unmerged.
  CHECK(glora::cpp_type(layers[0].config()) ==
        "glora::Linear<float, glora::LowRank<2>, glora::Vector, glora::None, glora::Scalar, "
        "glora::Vector>");
  CHECK(glora::cpp_type(layers[1].config(), "double") ==
        "glora::Linear<double, glora::None, glora::LowRank<4>, glora::Vector, glora::None, "
        "glora::Scalar>");

  // A compile-time layer of those kinds, filled from the supernet's tensors,
  // computes what the run-time layer computes.
  glora::Linear<double, glora::LowRank<2>, glora::Vector, glora::None, glora::Scalar, glora::Vector>
      fixed(Matrix(layers[0].weight()), Vector(layers[0].bias()));
  glora::assign(fixed.adapter(), layers[0].adapter(), 7, 5);
  const Matrix X = glora_test::random_matrix<double>(rng, 5, 4);
  CHECK(fixed.forward(X) == layers[0].forward(X));
  CHECK(fixed.adapter().A.down == layers[0].adapter().Ad.leftCols(2));
  CHECK(fixed.adapter().D.value == layers[0].adapter().D(0));

  // ... and one of other kinds is refused, unchanged.
  glora::Linear<double, glora::LowRank<2>, glora::Vector> other(Matrix(layers[0].weight()));
  CHECK_THROWS_WITH(glora::assign(other.adapter(), layers[0].adapter(), 7, 5),
                    "glora::assign: slot D is constant, the adapter has None");
  CHECK(other.adapter().A.down.isZero(0));
}

TEST_CASE("Supernet::sample draws as sample_configs with the seed, and sets the draw",
          "[supernet]") {
  std::mt19937 rng(4);
  const SearchSpace space = SearchSpace::reference({4, 2});
  std::vector<DynamicLinear<double>> layers = make_model(space, rng);
  glora::SupernetSettings settings;
  settings.seed = 11;
  glora::Supernet supernet(glora::search_layers(layers, space), 100, settings);
  glora::Supernet twin(glora::search_layers(layers, space), 100, settings);
  settings.seed = 12;
  glora::Supernet other(glora::search_layers(layers, space), 100, settings);
  CHECK(supernet.configs().empty());

  std::mt19937_64 expected_rng(11);
  std::vector<DynamicLinear<double>> twin_layers = layers, other_layers = layers;
  int differing = 0;
  for (int step = 0; step < 200; ++step) {
    const Configs expected = glora::sample_configs(supernet.layers(), expected_rng);
    const Configs drawn = supernet.sample(layers);
    REQUIRE(drawn == expected);
    REQUIRE(supernet.configs() == drawn);
    REQUIRE(configs_of(layers) == drawn);  // set on the layers
    REQUIRE(twin.sample(twin_layers) == drawn);
    differing += other.sample(other_layers) != drawn;
  }
  CHECK(differing > 190);  // another seed, other draws

  SECTION("a model that is not the supernet's is refused before any draw") {
    std::vector<DynamicLinear<double>> one(layers.begin(), layers.begin() + 1);
    CHECK_THROWS_WITH(supernet.sample(one),
                      "glora::Supernet::sample: 1 layers given, expected 2 (those the supernet "
                      "was made for)");
    std::vector<DynamicLinear<double>> swapped = {layers[1], layers[0]};
    CHECK_THROWS_WITH(supernet.sample(swapped),
                      "glora::Supernet::sample: layers[0] is 4 x 7, expected 7 x 5 (the shape "
                      "the supernet was made for)");
    std::vector<DynamicLinear<double>> small;
    for (const auto& layer : layers) {
      small.emplace_back(Matrix(layer.weight()), Vector(layer.bias()),
                         SearchSpace::reference(2).capacity());
    }
    CHECK_THROWS_WITH(supernet.sample(small),
                      "glora::Supernet::sample: layers[0].adapter().Ad (slot A, LoRA_4) is 7 x 2, "
                      "expected 7 x at least 4");
    // The generator did not move: the next draw is still the expected one.
    CHECK(supernet.sample(layers) == glora::sample_configs(supernet.layers(), expected_rng));
  }
}

TEST_CASE("a supernet step computes with the draw and gives gradient only where it reads",
          "[supernet]") {
  std::mt19937 rng(5);
  const SearchSpace space = SearchSpace::reference({3, 1});
  std::vector<DynamicLinear<double>> layers = make_model(space, rng);
  glora::Supernet supernet(glora::search_layers(layers, space), 1);
  const Matrix X = glora_test::random_matrix<double>(rng, 5, 3);
  const Matrix dY = glora_test::random_matrix<double>(rng, 7, 3);
  std::set<std::pair<Slot, std::string>> seen;  // every choice of every slot comes up
  for (int step = 0; step < 300; ++step) {
    const LayerConfig config = supernet.sample(layers)[0];
    for (const Slot s : glora::all_slots) seen.insert({s, glora::to_string(config[s])});
    INFO(glora::to_string(config));
    REQUIRE(forward_error(layers[0], X) < 1e-13);

    glora::DynamicAdapter<double> grads = glora::zeros_like(layers[0].adapter());
    layers[0].backward(X, dY, grads);
    const glora::DynamicAdapter<double> used =
        glora_test::used_entries(layers[0].adapter(), config);
    glora::for_each_tensor(
        [&](const char* name, glora::Role, const auto& g, const auto& mask) {
          INFO("tensor " << name);
          // Exactly zero where the configuration does not read ...
          REQUIRE(((mask.array() == 0) <= (g.array() == 0)).all());
          // ... and a gradient where it does (random nonzero tensors: no accidental zeros).
          REQUIRE(((mask.array() != 0) <= (g.array() != 0)).all());
        },
        grads, used);
  }
  CHECK(seen.size() == 5 + 5 + 4 + 3 + 3);  // LoRA_3, LoRA_1 and the rest, per slot
}

TEST_CASE("supernet training: the reference's optimiser and warmed-up cosine schedule",
          "[supernet]") {
  const std::vector<SearchLayer> layers = {{SearchSpace::reference(4), 8, 6}};
  const glora::Supernet supernet(layers, 1000);
  CHECK(supernet.optimiser_options<float>().lr() == 1e-4f);
  CHECK(supernet.optimiser_options<float>().weight_decay() == 1e-4f);
  CHECK(supernet.optimiser_options<double>().beta1() == 0.9);
  CHECK(supernet.warmup_steps() == 20);  // 10 of the reference's 500 epochs: 2 %
  const double pi = std::acos(-1.0);
  for (const std::int64_t step : {0, 1, 10, 19, 20, 21, 500, 999, 1000}) {
    const double expected =
        step < 20 ? 1e-4 * static_cast<double>(step) / 20.0
                  : 0.5e-4 * (1.0 + std::cos(pi * static_cast<double>(step - 20) / 980.0));
    INFO("step " << step);
    CHECK(supernet.learning_rate<double>(step) == Approx(expected).margin(1e-18));
  }

  glora::SupernetSettings settings;
  settings.learning_rate = 5e-3;
  settings.weight_decay = 0;
  settings.warmup_fraction = 0.1;
  const glora::Supernet tuned(layers, 55, settings);
  CHECK(tuned.warmup_steps() == 5);
  CHECK(tuned.learning_rate<float>(5) == 5e-3f);
  CHECK(tuned.optimiser_options<float>().weight_decay() == 0.0f);

  settings.warmup_fraction = 1.5;
  CHECK_THROWS_WITH(glora::Supernet(layers, 10, settings),
                    "glora::Supernet: warmup_fraction is 1.5, expected within [0, 1]");
  CHECK_THROWS_WITH(glora::Supernet(layers, 0), "glora::Supernet: steps is 0, expected at least 1");
  settings = {};
  settings.learning_rate = -1;
  CHECK_THROWS_WITH(glora::Supernet(layers, 10, settings),
                    "glora::Supernet: learning_rate is -1, expected at least 0");
  CHECK_THROWS_WITH(glora::Supernet({}, 10), "glora::Supernet: no layers given");
}

TEST_CASE("a supernet trains every configuration through the shared tensors", "[supernet]") {
  // A teacher layer of one configuration makes the targets; the supernet
  // learns them with uniform draws. Afterwards a configuration that can
  // express the teacher's (drawn in few of the steps: 1 in 432) fits the
  // targets far better than at the start, since the shared tensors carry what
  // the other draws learnt, and the space as a whole fits them better.
  std::mt19937 rng(6);
  const SearchSpace space = SearchSpace::reference(2);
  const Matrix W0 = glora_test::random_matrix<double>(rng, 6, 4);
  const Vector b0 = glora_test::random_vector<double>(rng, 6);
  DynamicLinear<double> teacher(W0, b0, space.capacity());
  glora_test::fill_shared(teacher.adapter(), rng);
  teacher.adapter().Ad *= 0.3;
  teacher.set_config(glora::parse_layer_config(
      R"({"A": "vector", "B": "vector", "C": "none", "D": "none", "E": "vector"})"));
  const Matrix X = glora_test::random_matrix<double>(rng, 4, 64);
  const Matrix target = teacher.forward(X);

  std::vector<DynamicLinear<double>> student = {DynamicLinear<double>(W0, b0, space.capacity())};
  student[0].adapter().initialize(7);
  const auto loss_of = [&](const LayerConfig& config) {
    student[0].set_config(config);
    return glora::mean_squared_error(student[0].forward(X), target).loss;
  };
  const LayerConfig richer = glora::parse_layer_config(
      R"({"A": "LoRA_2", "B": "vector", "C": "vector", "D": "constant", "E": "vector"})");
  const double before = loss_of(richer);

  const std::int64_t steps = 3000;
  glora::SupernetSettings settings;
  settings.learning_rate = 2e-2;
  glora::Supernet supernet(glora::search_layers(student, space), steps, settings);
  glora::AdamW<double> adam(supernet.optimiser_options<double>());
  glora::DynamicAdapter<double> grads = glora::zeros_like(student[0].adapter());
  Matrix Y(6, 64), dY(6, 64);
  for (std::int64_t step = 0; step < steps; ++step) {
    supernet.sample(student);
    student[0].forward(X, Y);
    glora::mean_squared_error(Y, target, dY);
    student[0].backward(X, dY, grads, glora::no_input_gradient);
    adam.set_learning_rate(supernet.learning_rate<double>(step));
    adam.step(student[0].adapter(), grads);
  }
  const double after = loss_of(richer);
  double mean_after = 0;  // before training every configuration computes the frozen layer
  for (const LayerConfig& config : space.enumerate()) mean_after += loss_of(config) / 432;
  INFO("loss before " << before << ", after " << after << ", over the space " << mean_after);
  CHECK(after < 0.2 * before);       // measured: 0.12
  CHECK(mean_after < 0.6 * before);  // measured: 0.43
}
