// The adapter bank (include/glora/serving.hpp): a mixed batch gives, column by
// column, what the formula gives for that column's adapter (docs/contract.md,
// "The layer", evaluated plainly by reference_formula.hpp/.cpp) and what a Linear
// holding that adapter gives; adding, replacing and removing adapters, merging
// one on demand, memory accounting, and the errors, whole.
#include "reference_formula.hpp"

#include <glora/serving.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using glora::LowRank;
using glora::None;
using glora::Scalar;
using glora::Vector;
using glora_test::Index;
using glora_test::Real;
using glora_test::RealMatrix;
using glora_test::Reference;

/// The frozen base of a test: W0 (col-major copy, for the formula) and b0.
template <typename T>
struct Base {
  glora::MatrixX<T> W0;
  glora::VectorX<T> b0;
  bool with_bias;

  const glora::VectorX<T>* bias() const { return with_bias ? &b0 : nullptr; }
};

template <typename T>
Base<T> random_base(std::mt19937& rng, Index m, Index n, bool with_bias) {
  return {glora_test::random_matrix<T>(rng, m, n), glora_test::random_vector<T>(rng, m), with_bias};
}

/// The formula's layer for an adapter over `base`, exact and on magnitudes.
struct Expected {
  Reference exact, size;
};

template <typename T, typename Adapter>
Expected expected_layer(const Base<T>& base, const Adapter& adapter) {
  return {glora_test::reference_layer(base.W0, base.bias(), adapter),
          glora_test::reference_layer(base.W0, base.bias(), adapter, true)};
}

/// "" when every column j of Y is what the formula gives for x_j through
/// expected[keys[j]], else the first mismatch.
template <typename T, typename Key>
std::string batch_mismatch(const glora::MatrixX<T>& X, const glora::MatrixX<T>& Y,
                           const std::vector<Key>& keys, const std::map<Key, Expected>& expected) {
  for (Index j = 0; j < X.cols(); ++j) {
    const Expected& e = expected.at(keys[std::size_t(j)]);
    const RealMatrix x = glora_test::to_real(X.col(j));
    const RealMatrix x_size = glora_test::to_real(X.col(j), true);
    const std::string column = glora_test::mismatch(
        Y.col(j), e.exact.forward(x), e.size.forward(x_size), glora_test::tolerance<T>());
    if (!column.empty()) return "column " + std::to_string(j) + ": " + column;
  }
  return "";
}

/// The batches every configuration is checked on, by the keys of their
/// columns: one adapter for all, each column its own, base columns among
/// adapted ones, groups of different widths in one block, and random mixes
/// wide enough to cross the kernel's blocks.
std::vector<std::vector<std::string>> test_batches(const std::vector<std::string>& adapters,
                                                   std::mt19937& rng) {
  std::vector<std::vector<std::string>> batches;
  batches.push_back({adapters[0]});
  batches.push_back(std::vector<std::string>(7, adapters[1]));
  batches.push_back(std::vector<std::string>(300, adapters[2]));
  batches.push_back(adapters);  // every column its own adapter
  batches.push_back({"", adapters[0], "", "", adapters[3], adapters[0]});  // base columns
  batches.push_back(std::vector<std::string>(3, ""));                      // base only
  // In one block, a group too wide for the streaming kernel on a formed tile
  // (60 columns) beside a narrow one (20), interleaved.
  std::vector<std::string> wide_and_narrow;
  for (std::size_t j = 0; j < 80; ++j) {
    wide_and_narrow.push_back(j % 4 == 0 ? adapters.front() : adapters.back());
  }
  batches.push_back(wide_and_narrow);
  for (const Index N : {5, 40, 300}) {
    std::uniform_int_distribution<std::size_t> pick(0, adapters.size());  // the last: base
    std::vector<std::string> keys;
    for (Index j = 0; j < N; ++j) {
      const std::size_t k = pick(rng);
      keys.push_back(k == adapters.size() ? std::string() : adapters[k]);
    }
    batches.push_back(keys);
  }
  return batches;
}

/// Builds a bank of `count` random adapters of type Adapter over `base`
/// (owned, or viewed in `storage` when given) and checks every test batch
/// against the formula and against a Linear per adapter.
template <typename Bank, typename Layer, typename T>
void check_bank(Bank& bank, const Base<T>& base, std::mt19937& rng) {
  using Adapter = typename Bank::adapter_type;
  const Index m = base.W0.rows(), n = base.W0.cols();
  std::map<std::string, Expected> expected;
  std::map<std::string, Layer> layers;
  std::vector<std::string> names;
  expected.emplace("", expected_layer(base, Adapter(m, n)));  // the base alone
  for (int a = 0; a < 12; ++a) {
    Adapter adapter(m, n);
    glora_test::fill_random(adapter, m, n, rng);
    const std::string key = "tenant-" + std::to_string(a);
    bank.add(key, adapter);
    expected.emplace(key, expected_layer(base, adapter));
    Layer layer = base.with_bias ? Layer(base.W0, base.b0) : Layer(base.W0);
    layer.adapter() = adapter;
    layers.emplace(key, std::move(layer));
    names.push_back(key);
  }
  for (const auto& keys : test_batches(names, rng)) {
    const auto N = Index(keys.size());
    INFO("batch of " << N << " columns, first key \"" << keys[0] << "\"");
    const glora::MatrixX<T> X = glora_test::random_matrix<T>(rng, n, N);
    glora::MatrixX<T> Y = glora::MatrixX<T>::Constant(m, N, glora_test::sentinel<T>());
    bank.forward(X, keys, Y);
    CHECK(batch_mismatch(X, Y, keys, expected) == "");
    // The same columns through a Linear each (the base's through a zero adapter).
    for (Index j = 0; j < N; ++j) {
      const std::string& key = keys[std::size_t(j)];
      if (key.empty()) continue;
      const glora::MatrixX<T> y = layers.at(key).forward(X.col(j));
      const Real scale = Real(y.cwiseAbs().maxCoeff()) + 1;
      CHECK(Real((y - Y.col(j)).cwiseAbs().maxCoeff()) <= 64 * glora_test::tolerance<T>() * scale);
    }
    // The overload that returns Y, and a caller's workspace.
    glora::BankWorkspace<T> workspace;
    glora::MatrixX<T> Y2(m, N);
    bank.forward(X, keys, Y2, workspace);
    CHECK(Y2 == Y);
    CHECK(bank.forward(X, keys) == Y);
  }
}

template <typename T, typename KA, typename KB, typename KC, typename KD, typename KE>
void check_configuration() {
  using Adapter = glora::Adapter<T, KA, KB, KC, KD, KE>;
  using Layer = glora::Linear<T, KA, KB, KC, KD, KE>;
  std::mt19937 rng(7);
  for (const bool with_bias : {true, false}) {
    INFO((std::is_same_v<T, float> ? "float " : "double ")
         << (glora_test::config_name<KA, KB, KC, KD, KE>())
         << (with_bias ? ", with bias" : ", without bias"));
    const Base<T> base = random_base<T>(rng, 70, 45, with_bias);
    SECTION("column-major W0, owned" + std::string(with_bias ? ", bias" : "")) {
      auto bank = with_bias ? std::make_unique<glora::AdapterBank<Adapter>>(base.W0, base.b0)
                            : std::make_unique<glora::AdapterBank<Adapter>>(base.W0);
      check_bank<glora::AdapterBank<Adapter>, Layer>(*bank, base, rng);
    }
    SECTION("row-major W0, viewed read-only" + std::string(with_bias ? ", bias" : "")) {
      const glora::RowMajorMatrixX<T> W0 = base.W0;
      const glora::VectorX<T>& b0 = base.b0;
      using View = glora::AdapterBankView<Adapter>;
      auto bank = with_bias ? std::make_unique<View>(W0, b0) : std::make_unique<View>(W0);
      check_bank<View, Layer>(*bank, base, rng);
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("a mixed batch gives each column its own adapter's output", "[serving]", float,
                   double) {
  using T = TestType;
  SECTION("full: low-rank A, B, C; vector D, E") {
    check_configuration<T, LowRank<2>, LowRank<3>, LowRank<2>, Vector, Vector>();
  }
  SECTION("vector A and C, low-rank B, scalar D, vector E") {
    check_configuration<T, Vector, LowRank<2>, Vector, Scalar, Vector>();
  }
  SECTION("LoRA: low-rank B") { check_configuration<T, None, LowRank<4>, None, None, None>(); }
  SECTION("scalar everywhere") { check_configuration<T, Scalar, Scalar, Scalar, Scalar, Scalar>(); }
  SECTION("low-rank A, vector B, low-rank C, no D and E") {
    check_configuration<T, LowRank<1>, Vector, LowRank<3>, None, None>();
  }
}

TEST_CASE("a bank of run-time configured adapters mixes configurations in one batch", "[serving]") {
  using T = double;
  std::mt19937 rng(11);
  const Base<T> base = random_base<T>(rng, 60, 50, true);
  glora::AdapterBank<glora::DynamicAdapter<T>> bank(base.W0, base.b0);
  std::map<std::string, Expected> expected;
  expected.emplace("", expected_layer(base, glora::Adapter<T>(60, 50)));
  // One configuration per key, each checked through the compile-time adapter of its kinds.
  const auto add = [&](const std::string& key, auto typed) {
    glora_test::fill_random(typed, 60, 50, rng);
    bank.add(key, glora::to_dynamic(typed));
    expected.emplace(key, expected_layer(base, typed));
  };
  add("full", glora::Adapter<T, LowRank<4>, LowRank<4>, LowRank<4>, Vector, Vector>(60, 50));
  add("cheap", glora::Adapter<T, Vector, LowRank<2>, Vector, Scalar, Vector>(60, 50));
  add("lora", glora::Adapter<T, None, LowRank<8>>(60, 50));
  add("scalar", glora::Adapter<T, Scalar, Scalar, Scalar, Scalar, Scalar>(60, 50));
  add("rank-1", glora::Adapter<T, LowRank<1>, None, Vector>(60, 50));
  const std::vector<std::string> names = {"full", "cheap", "lora", "scalar", "rank-1"};
  for (const auto& keys : test_batches(names, rng)) {
    INFO("batch of " << keys.size() << " columns, first key \"" << keys[0] << "\"");
    const glora::MatrixX<T> X = glora_test::random_matrix<T>(rng, 50, Index(keys.size()));
    const glora::MatrixX<T> Y = bank.forward(X, keys);
    CHECK(batch_mismatch(X, Y, keys, expected) == "");
  }
}

namespace {

using Full = glora::Adapter<float, LowRank<2>, LowRank<2>, Vector, Scalar, Vector>;
using FullLayer = glora::Linear<float, LowRank<2>, LowRank<2>, Vector, Scalar, Vector>;

Full random_adapter(std::mt19937& rng, Index m = 9, Index n = 6) {
  Full adapter(m, n);
  glora_test::fill_random(adapter, m, n, rng);
  return adapter;
}

/// Whether two adapters hold the same values.
bool same_values(const Full& a, const Full& b) {
  bool same = true;
  glora::for_each_tensor(
      [&](const char*, glora::Role, const auto& x, const auto& y) { same = same && x == y; }, a, b);
  return same;
}

}  // namespace

TEST_CASE("adapters are added, replaced and removed by key", "[serving]") {
  std::mt19937 rng(3);
  const glora::MatrixX<float> W0 = glora_test::random_matrix<float>(rng, 9, 6);
  const glora::VectorX<float> b0 = glora_test::random_vector<float>(rng, 9);
  glora::AdapterBank<Full> bank(W0, b0);
  const Full a = random_adapter(rng), b = random_adapter(rng), c = random_adapter(rng);
  CHECK(bank.size() == 0);
  CHECK_FALSE(bank.contains("a"));
  CHECK(bank.find("a") == nullptr);

  bank.add("a", a);
  bank.add("b", b);
  CHECK(bank.size() == 2);
  CHECK(bank.contains("a"));
  auto keys = bank.keys();
  std::sort(keys.begin(), keys.end());
  CHECK(keys == std::vector<std::string>{"a", "b"});
  CHECK(same_values(*bank.find("a"), a));
  CHECK(same_values(*bank.find("b"), b));

  const glora::MatrixX<float> X = glora_test::random_matrix<float>(rng, 6, 2);
  const std::vector<std::string> both = {"a", "a"};
  const glora::MatrixX<float> before = bank.forward(X, both);

  SECTION("replace swaps the adapter under a key; earlier pointers keep the old one") {
    const std::shared_ptr<const Full> old = bank.find("a");
    bank.replace("a", c);
    CHECK(same_values(*bank.find("a"), c));
    CHECK(same_values(*old, a));
    CHECK(bank.size() == 2);
    FullLayer layer(W0, b0);
    layer.adapter() = c;
    const glora::MatrixX<float> after = bank.forward(X, both);
    CHECK(after.isApprox(layer.forward(X), 1e-5F));
    CHECK_FALSE(after.isApprox(before, 1e-3F));
  }
  SECTION("remove drops the key; a key can be added again") {
    CHECK(bank.remove("a"));
    CHECK_FALSE(bank.remove("a"));
    CHECK_FALSE(bank.contains("a"));
    CHECK(bank.size() == 1);
    CHECK_THROWS_WITH(
        bank.forward(X, both),
        "glora::AdapterBank::forward: no adapter under the key \"a\" (column 0 of X)");
    bank.add("c", c);  // takes the removed adapter's slot
    bank.add("a", a);
    const std::vector<std::string> mixed = {"c", "a"};
    const glora::MatrixX<float> Y = bank.forward(X, mixed);
    FullLayer layer_a(W0, b0), layer_c(W0, b0);
    layer_a.adapter() = a;
    layer_c.adapter() = c;
    CHECK(Y.col(0).isApprox(layer_c.forward(X.col(0)), 1e-5F));
    CHECK(Y.col(1).isApprox(layer_a.forward(X.col(1)), 1e-5F));
    CHECK(Y.col(1).isApprox(before.col(1), 1e-5F));
  }
}

TEST_CASE("bank errors name the call, the key or the shapes, and change nothing", "[serving]") {
  std::mt19937 rng(5);
  const glora::MatrixX<float> W0 = glora_test::random_matrix<float>(rng, 9, 6);
  glora::AdapterBank<Full> bank(W0);
  bank.add("a", random_adapter(rng));
  const glora::MatrixX<float> X = glora_test::random_matrix<float>(rng, 6, 3);
  glora::MatrixX<float> Y = glora::MatrixX<float>::Constant(9, 3, glora_test::sentinel<float>());
  const glora::MatrixX<float> untouched = Y;

  SECTION("a key without an adapter, Y untouched") {
    const std::vector<std::string> keys = {"a", "", "tenant-9"};
    CHECK_THROWS_AS(bank.forward(X, keys, Y), glora::unknown_adapter);
    CHECK_THROWS_WITH(
        bank.forward(X, keys, Y),
        "glora::AdapterBank::forward: no adapter under the key \"tenant-9\" (column 2 of X)");
    CHECK(Y == untouched);
    // The call that failed released what it had found: the next one runs.
    const std::vector<std::string> good = {"a", "", "a"};
    bank.forward(X, good, Y);
    CHECK(Y != untouched);
  }
  SECTION("a key count that does not match X") {
    const std::vector<std::string> keys = {"a", "a"};
    CHECK_THROWS_AS(bank.forward(X, keys, Y), glora::shape_error);
    CHECK_THROWS_WITH(bank.forward(X, keys, Y),
                      "glora::AdapterBank::forward: keys has 2 entries, expected 3 (one per column "
                      "of X)");
    CHECK(Y == untouched);
  }
  SECTION("X and Y of the wrong shapes") {
    const std::vector<std::string> keys = {"a", "a", "a"};
    const glora::MatrixX<float> wrong = glora::MatrixX<float>::Zero(5, 3);
    CHECK_THROWS_WITH(bank.forward(wrong, keys, Y),
                      "glora::AdapterBank::forward: X is 5 x 3, expected 6 rows (in_features)");
    glora::MatrixX<float> Y_wrong(9, 2);
    CHECK_THROWS_WITH(bank.forward(X, keys, Y_wrong),
                      "glora::AdapterBank::forward: Y is 9 x 2, expected 9 x 3");
  }
  SECTION("adding under a taken key or the base key, replacing an absent one") {
    CHECK_THROWS_AS(bank.add("a", random_adapter(rng)), std::invalid_argument);
    CHECK_THROWS_WITH(bank.add("a", random_adapter(rng)),
                      "glora::AdapterBank::add: the key \"a\" already has an adapter; use "
                      "replace() to swap it");
    CHECK_THROWS_WITH(bank.add("", random_adapter(rng)),
                      "glora::AdapterBank::add: the key \"\" is the base key (its columns run "
                      "through the frozen base alone); pick another key");
    CHECK_THROWS_AS(bank.replace("b", random_adapter(rng)), glora::unknown_adapter);
    CHECK_THROWS_WITH(bank.replace("b", random_adapter(rng)),
                      "glora::AdapterBank::replace: no adapter under the key \"b\"");
    CHECK_THROWS_WITH(bank.merge("b"), "glora::AdapterBank::merge: no adapter under the key \"b\"");
    CHECK(bank.size() == 1);
    CHECK_FALSE(bank.contains("b"));
  }
  SECTION("an adapter shaped for another layer") {
    CHECK_THROWS_AS(bank.add("b", random_adapter(rng, 9, 7)), glora::shape_error);
    CHECK_THROWS_WITH(bank.add("b", random_adapter(rng, 9, 7)),
                      "glora::AdapterBank::add: adapter.A.up (Au) is 2 x 7, expected 2 x 6");
    CHECK_THROWS_WITH(bank.replace("a", random_adapter(rng, 8, 6)),
                      "glora::AdapterBank::replace: adapter.A.down (Ad) is 8 x 2, expected 9 x 2");
    CHECK(bank.size() == 1);
  }
  SECTION("a run-time adapter of an invalid configuration") {
    glora::AdapterBank<glora::DynamicAdapter<float>> dynamic(W0);
    glora::LayerConfig config;
    config.A = glora::Choice::low_rank(2);
    glora::DynamicAdapter<float> adapter(config, 9, 6);
    adapter.config.A = glora::Choice::low_rank(0);
    CHECK_THROWS_AS(dynamic.add("a", adapter), glora::config_error);
    CHECK(dynamic.size() == 0);
  }
}

TEST_CASE("keys of other types, and another base key", "[serving]") {
  std::mt19937 rng(9);
  const glora::MatrixX<float> W0 = glora_test::random_matrix<float>(rng, 9, 6);
  glora::AdapterBank<Full, int> bank(W0, /*base_key=*/-1);
  CHECK(bank.base_key() == -1);
  bank.add(0, random_adapter(rng));  // 0 is an ordinary key here
  const glora::MatrixX<float> X = glora_test::random_matrix<float>(rng, 6, 3);
  const std::vector<int> keys = {0, -1, 4};
  CHECK_THROWS_WITH(bank.forward(X, keys),
                    "glora::AdapterBank::forward: no adapter under the key 4 (column 2 of X)");
  const std::vector<int> base_only = {-1, -1, -1};
  CHECK(bank.forward(X, base_only).isApprox(W0.lazyProduct(X), 1e-6F));
}

TEST_CASE("merge on demand gives the adapter's merged layer and leaves the bank as it was",
          "[serving]") {
  std::mt19937 rng(13);
  const glora::MatrixX<float> W0 = glora_test::random_matrix<float>(rng, 9, 6);
  const glora::VectorX<float> b0 = glora_test::random_vector<float>(rng, 9);
  glora::AdapterBank<Full> bank(W0, b0);
  const Full a = random_adapter(rng);
  bank.add("a", a);
  FullLayer layer(W0, b0);
  layer.adapter() = a;
  const glora::Dense<float> merged = bank.merge("a");
  const glora::Dense<float> expected = layer.merge();
  CHECK(merged.weight == expected.weight);
  CHECK(merged.bias == expected.bias);
  // And against the formula.
  const Reference exact = glora_test::reference_layer(W0, &b0, a);
  const Reference size = glora_test::reference_layer(W0, &b0, a, true);
  CHECK(glora_test::mismatch(merged.weight, exact.W, size.W, glora_test::tolerance<float>()) == "");
  CHECK(glora_test::mismatch(merged.bias, exact.b, size.b, glora_test::tolerance<float>()) == "");
  // The base key merges nothing: W0 and b0 themselves.
  const glora::Dense<float> base = bank.merge("");
  CHECK(base.weight == W0);
  CHECK(base.bias == b0);
  CHECK(bank.size() == 1);
}

TEST_CASE("the base is never written, whatever the bank does", "[serving]") {
  std::mt19937 rng(17);
  const glora::MatrixX<float> W0 = glora_test::random_matrix<float>(rng, 300, 70);
  const glora::VectorX<float> b0 = glora_test::random_vector<float>(rng, 300);
  glora::RowMajorMatrixX<float> model_weight = W0;  // a model's own storage, viewed
  glora::VectorX<float> model_bias = b0;
  const glora::RowMajorMatrixX<float> model_before = model_weight;
  glora::AdapterBank<Full> owned(W0, b0);
  glora::AdapterBankView<Full> viewed(glora::row_major, model_weight.data(), 300, 70,
                                      model_bias.data());
  const glora::MatrixX<float> X = glora_test::random_matrix<float>(rng, 70, 280);
  for (int step = 0; step < 3; ++step) {
    for (const std::string key : {"a", "b", "c"}) {
      const Full adapter = random_adapter(rng, 300, 70);
      if (owned.contains(key)) {
        owned.replace(key, adapter);
        viewed.replace(key, adapter);
      } else {
        owned.add(key, adapter);
        viewed.add(key, adapter);
      }
    }
    std::vector<std::string> keys(280, "a");
    for (std::size_t j = 0; j < keys.size(); j += 3) keys[j] = j % 2 ? "b" : "c";
    keys[5] = "";
    const glora::MatrixX<float> Y = owned.forward(X, keys);
    CHECK(viewed.forward(X, keys).isApprox(Y, 1e-5F));  // W0 in the other storage order
    static_cast<void>(owned.merge("b"));
    static_cast<void>(viewed.merge("c"));
    owned.remove("b");
    viewed.remove("b");
  }
  CHECK(std::memcmp(owned.weight().data(), W0.data(), sizeof(float) * 300 * 70) == 0);
  CHECK(std::memcmp(owned.bias().data(), b0.data(), sizeof(float) * 300) == 0);
  CHECK(std::memcmp(model_weight.data(), model_before.data(), sizeof(float) * 300 * 70) == 0);
  CHECK(std::memcmp(model_bias.data(), b0.data(), sizeof(float) * 300) == 0);
}

TEST_CASE("the bank counts the base once and each adapter's tensors", "[serving]") {
  std::mt19937 rng(19);
  const glora::MatrixX<float> W0 = glora_test::random_matrix<float>(rng, 9, 6);
  const glora::VectorX<float> b0 = glora_test::random_vector<float>(rng, 9);
  glora::AdapterBank<Full> bank(W0, b0);
  // Full on 9 x 6: A and B rank 2 (9 x 2 and 2 x 6 each), C vector (6), D scalar, E vector (9).
  const std::size_t adapter_values = 2 * (9 * 2 + 2 * 6) + 6 + 1 + 9;
  CHECK(bank.memory().base == (9 * 6 + 9) * sizeof(float));
  CHECK(bank.memory().adapters == 0);
  bank.add("a", random_adapter(rng));
  bank.add("b", random_adapter(rng));
  const glora::BankMemory memory = bank.memory();
  CHECK(memory.count == 2);
  CHECK(memory.adapters == 2 * adapter_values * sizeof(float));
  CHECK(memory.total() == memory.base + memory.adapters);
  bank.remove("a");
  CHECK(bank.memory().adapters == adapter_values * sizeof(float));
  // A viewed base without a bias: W0 alone.
  glora::AdapterBankView<Full> view(W0);
  CHECK(view.memory().base == 9 * 6 * sizeof(float));
}
