// The run-time configured layer on all 432 configurations of the paper's
// search space (docs/contract.md, "The paper's search space"), float and
// double, with and without bias, over column-major W0 (DynamicLinear) and
// row-major W0 (DynamicLinearView), its tensors larger than each
// configuration needs (capacity LoRA_5, configurations LoRA_3), against:
//
//   - the plain formula (reference_formula.hpp): forward(X), forward(X, Y),
//     merge(), merge().forward(X), merge_into in either storage order, and
//     merge_in_place (or its refusal, for a layer without a bias whose C or E
//     is nonzero);
//   - central differences (gradient_checks.hpp): backward's gradient of every
//     entry of every stored tensor (so the parts a configuration does not use
//     must get exactly zero) and of the input, in double; float's gradients
//     against double's (to 1e-3 of the largest entry: float's rounding), and
//     backward with no_input_gradient against backward with dX.
//
// test_conformance_types_*.cpp show that every compile-time layer type gives
// bit for bit what this layer gives, which carries these checks over to them.
#include "conformance.hpp"
#include "gradient_checks.hpp"

#include <catch2/catch.hpp>

namespace {

using glora::Choice;
using glora::LayerConfig;
using glora_test::Index;

constexpr int rank = 3;
const LayerConfig capacity = {Choice::low_rank(5), Choice::low_rank(5), Choice::low_rank(5),
                              Choice::vector(), Choice::vector()};

template <class T>
glora::DynamicAdapter<T> random_tensors(std::mt19937& rng, Index m, Index n) {
  glora::DynamicAdapter<T> a(capacity, m, n);
  glora::for_each_tensor([&](const char*, glora::Role,
                             auto t) { t = glora_test::random_matrix<T>(rng, t.rows(), t.cols()); },
                         a);
  return a;
}

/// The message merge_in_place gives a layer without a bias whose slot C or E
/// adds a nonzero bias; "" when it merges.
std::string expected_refusal(const char* type, const LayerConfig& config, bool with_bias) {
  if (with_bias) return {};
  const char* slot = config.C.kind != glora::Kind::none   ? "C"
                     : config.E.kind != glora::Kind::none ? "E"
                                                          : nullptr;
  if (slot == nullptr) return {};
  return std::string(type) + "::merge_in_place: the layer has no bias to hold what slot " + slot +
         " adds (" + slot + " is not zero); use merge() or merge_into(), or give the layer a bias";
}

/// A layer of either storage order over its own copy of the base, set to `config`.
template <class T>
struct Layers {
  glora::RowMajorMatrixX<T> rows;  // the row-major layer's storage
  glora::VectorX<T> rows_bias;
  glora::DynamicLinear<T> column_major;
  glora::DynamicLinearView<T> row_major;

  Layers(const glora::MatrixX<T>& W0, const glora::VectorX<T>* b0,
         const glora::DynamicAdapter<T>& tensors, const LayerConfig& config)
      : rows(W0),
        rows_bias(b0 != nullptr ? *b0 : glora::VectorX<T>()),
        column_major(b0 != nullptr ? glora::DynamicLinear<T>(W0, *b0, capacity)
                                   : glora::DynamicLinear<T>(W0, capacity)),
        row_major(b0 != nullptr ? glora::DynamicLinearView<T>(rows, rows_bias, capacity)
                                : glora::DynamicLinearView<T>(rows, capacity)) {
    column_major.adapter() = tensors;
    row_major.adapter() = tensors;
    column_major.set_config(config);
    row_major.set_config(config);
  }
};

/// Checks both storage orders of one configuration against the formula on an
/// m x n layer at batch N.
template <class T>
void check_against_formula(const LayerConfig& config, std::mt19937& rng, Index m, Index n, Index N,
                           bool with_bias) {
  using glora_test::mismatch;
  const glora::MatrixX<T> W0 = glora_test::random_matrix<T>(rng, m, n);
  const glora::VectorX<T> b0 = glora_test::random_vector<T>(rng, m);
  const glora::MatrixX<T> X = glora_test::random_matrix<T>(rng, n, N);
  const glora::MatrixX<T> dY = glora_test::random_matrix<T>(rng, m, N);
  const glora::DynamicAdapter<T> tensors = random_tensors<T>(rng, m, n);
  const glora::VectorX<T>* bias = with_bias ? &b0 : nullptr;
  Layers<T> layers(W0, bias, tensors, config);

  const auto exact = glora_test::reference_layer(W0, bias, tensors, config);
  const auto size = glora_test::reference_layer(W0, bias, tensors, config, true);
  const glora_test::RealMatrix Y_exact = exact.forward(glora_test::to_real(X));
  const glora_test::RealMatrix Y_size = size.forward(glora_test::to_real(X, true));
  const glora_test::Real tol = glora_test::tolerance<T>();

  for (const bool row_major : {false, true}) {
    INFO((row_major ? "row-major" : "column-major") << " W0");
    const glora_test::Observed<T> got = row_major ? glora_test::observe(layers.row_major, X, dY)
                                                  : glora_test::observe(layers.column_major, X, dY);
    CHECK(mismatch(got.forward, Y_exact, Y_size, tol) == "");
    CHECK(mismatch(got.forward_into, Y_exact, Y_size, tol) == "");
    CHECK(mismatch(got.merged.weight, exact.W, size.W, tol) == "");
    CHECK(mismatch(got.merged.bias, exact.b, size.b, tol) == "");
    CHECK(mismatch(got.merged_forward, Y_exact, Y_size, tol) == "");
    CHECK(mismatch(got.merge_into_W, exact.W, size.W, tol) == "");
    CHECK(mismatch(got.merge_into_b, exact.b, size.b, tol) == "");
    CHECK(mismatch(got.merge_into_rows, exact.W, size.W, tol) == "");
    CHECK(mismatch(got.merge_into_rows_b, exact.b, size.b, tol) == "");
    CHECK(got.weight == W0);
    CHECK(got.bias == (with_bias ? b0 : glora::VectorX<T>()));
    // Skipping dX changes only which columns the products have (and so, at
    // most, the order in which a GEMM adds them up).
    CHECK(glora_test::adapter_mismatch(got.grads, got.grads_without_dx, double(tol)) == "");
  }

  for (const bool row_major : {false, true}) {
    INFO((row_major ? "row-major" : "column-major") << " W0, merge_in_place");
    const glora_test::InPlace<T> got = row_major
                                           ? glora_test::merge_in_place(layers.row_major, X)
                                           : glora_test::merge_in_place(layers.column_major, X);
    const std::string refusal = expected_refusal(
        row_major ? "glora::DynamicLinearView" : "glora::DynamicLinear", config, with_bias);
    CHECK(got.refused == refusal);
    if (refusal.empty()) {
      CHECK(mismatch(got.weight, exact.W, size.W, tol) == "");
      if (with_bias) CHECK(mismatch(got.bias, exact.b, size.b, tol) == "");
      CHECK(mismatch(got.forward, Y_exact, Y_size, tol) == "");
    } else {
      CHECK(got.weight == W0);  // refused: nothing written
    }
  }
}

/// backward against central differences (double), and float's gradients
/// against double's on the same values.
void check_backward(const LayerConfig& config, std::mt19937& rng, bool with_bias) {
  const Index m = 4, n = 3, N = 2;
  const glora::MatrixX<double> W0 = glora_test::random_matrix<double>(rng, m, n);
  const glora::VectorX<double> b0 = glora_test::random_vector<double>(rng, m);
  const glora::MatrixX<double> X = glora_test::random_matrix<double>(rng, n, N);
  const glora::MatrixX<double> R = glora_test::random_matrix<double>(rng, m, N);
  const glora::DynamicAdapter<double> tensors = random_tensors<double>(rng, m, n);
  Layers<double> layers(W0, with_bias ? &b0 : nullptr, tensors, config);
  INFO("column-major W0");
  glora_test::check_backward(layers.column_major, layers.column_major.adapter(), X, R);
  INFO("row-major W0");
  glora_test::check_backward(layers.row_major, layers.row_major.adapter(), X, R);

  const glora::VectorX<float> b0_single = b0.cast<float>();
  glora::DynamicAdapter<float> tensors_single(capacity, m, n);
  glora::for_each_tensor(
      [](const char*, glora::Role, auto f, auto d) { f = d.template cast<float>(); },
      tensors_single, tensors);
  Layers<float> single(W0.cast<float>(), with_bias ? &b0_single : nullptr, tensors_single, config);
  auto grads = glora::zeros_like(layers.column_major.adapter());
  const glora::MatrixX<double> dX = layers.column_major.backward(X, R, grads);
  auto check_single = [&](const auto& layer) {
    auto grads_single = glora::zeros_like(layer.adapter());
    const glora::MatrixX<float> dX_single =
        layer.backward(X.cast<float>(), R.cast<float>(), grads_single);
    CHECK(glora_test::relative_error(dX_single.cast<double>(), dX) < 1e-3);
    glora::for_each_tensor(
        [](const char* name, glora::Role, const auto& f, const auto& d) {
          INFO("float gradient of " << name);
          CHECK(glora_test::relative_error(f.template cast<double>(), d) < 1e-3);
        },
        grads_single, grads);
  };
  check_single(single.column_major);
  check_single(single.row_major);
}

}  // namespace

TEST_CASE(
    "the run-time layer follows the formula on all 432 configurations, in both storage orders",
    "[conformance]") {
  const std::vector<LayerConfig> configs = glora_test::reference_configs(rank);
  REQUIRE(configs.size() == 432);
  std::mt19937 rng(7);
  for (const LayerConfig& config : configs) {
    INFO(glora::to_string(config));
    for (const bool with_bias : {true, false}) {
      INFO((with_bias ? "with bias" : "without bias"));
      check_against_formula<float>(config, rng, 7, 5, 3, with_bias);
      check_against_formula<float>(config, rng, 5, 9, 3, with_bias);
      check_against_formula<double>(config, rng, 7, 5, 3, with_bias);
      check_against_formula<double>(config, rng, 5, 9, 3, with_bias);
    }
  }
}

TEST_CASE("the run-time layer's backward matches central differences on all 432 configurations",
          "[conformance][backward]") {
  const std::vector<LayerConfig> configs = glora_test::reference_configs(rank);
  std::mt19937 rng(21);
  for (const LayerConfig& config : configs) {
    INFO(glora::to_string(config));
    for (const bool with_bias : {true, false}) {
      INFO((with_bias ? "with bias" : "without bias"));
      check_backward(config, rng, with_bias);
    }
  }
}
