// Shapes that do not fit (docs/contract.md, "Errors"): every public entry point
// throws glora::shape_error, which is a std::invalid_argument, whose message
// names the type and call, the argument, and the actual and expected sizes;
// nothing is written before the check. Each message is checked whole, so that
// one that regresses fails.
#include "layer_checks.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>

using Catch::Matchers::Equals;
using glora::LowRank;
using glora::Scalar;
using glora::Vector;
using glora_test::Index;
using glora_test::random_matrix;
using glora_test::random_vector;
using glora_test::sentinel;

namespace {

constexpr Index out = 13;
constexpr Index in = 11;

// The message of the glora::shape_error that f throws ("" and a failure when
// f throws nothing or something else).
std::string shape_error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const glora::shape_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("threw something other than glora::shape_error: " << e.what());
  }
  FAIL("did not throw");
  return {};
}

template <class Derived>
bool all_sentinel(const Eigen::MatrixBase<Derived>& M) {
  using T = typename Derived::Scalar;
  return (M.array() == sentinel<T>()).all();
}

using Layer = glora::Linear<double, LowRank<2>, Vector, LowRank<1>, Vector, Scalar>;

Layer make_layer(std::mt19937& rng) {
  Layer layer(random_matrix<double>(rng, out, in), random_vector<double>(rng, out));
  glora_test::fill_random(layer.adapter(), out, in, rng);
  return layer;
}

}  // namespace

TEST_CASE("shape_error is a std::invalid_argument", "[errors]") {
  STATIC_REQUIRE(std::is_base_of_v<std::invalid_argument, glora::shape_error>);
  std::mt19937 rng(41);
  const Layer layer = make_layer(rng);
  const Eigen::MatrixXd X = Eigen::MatrixXd::Ones(in + 6, 2);
  CHECK_THROWS_AS(layer.forward(X), glora::shape_error);
  CHECK_THROWS_AS(layer.forward(X), std::invalid_argument);
}

TEST_CASE("Linear: b0 must have one entry per row of W0", "[errors]") {
  std::mt19937 rng(42);
  const Eigen::MatrixXd W0 = random_matrix<double>(rng, out, in);
  const Eigen::VectorXd b0 = random_vector<double>(rng, 12);
  CHECK_THAT(shape_error_message([&] { Layer layer(W0, b0); }),
             Equals("glora::Linear: b0 is 12 x 1, expected 13 x 1 (one entry per row of W0)"));

  CHECK_THAT(shape_error_message([&] {
               glora::Linear<float, Vector> layer(Eigen::MatrixXf::Ones(out, in),
                                                  Eigen::VectorXf::Ones(14));
             }),
             Equals("glora::Linear: b0 is 14 x 1, expected 13 x 1 (one entry per row of W0)"));
}

TEST_CASE("forward: X must have in_features rows", "[errors]") {
  std::mt19937 rng(43);
  const Layer layer = make_layer(rng);
  const Eigen::MatrixXd X = random_matrix<double>(rng, 17, 19);

  const char* expected = "glora::Linear::forward: X is 17 x 19, expected 11 rows (in_features)";
  CHECK_THAT(shape_error_message([&] { layer.forward(X); }), Equals(expected));

  Eigen::MatrixXd Y = Eigen::MatrixXd::Constant(out, 19, sentinel<double>());
  CHECK_THAT(shape_error_message([&] { layer.forward(X, Y); }), Equals(expected));
  CHECK(all_sentinel(Y));
}

TEST_CASE("forward: a batch with samples as rows is told to transpose", "[errors]") {
  std::mt19937 rng(50);
  const Layer layer = make_layer(rng);
  const Eigen::MatrixXd X = random_matrix<double>(rng, 19, in);
  CHECK_THAT(shape_error_message([&] { layer.forward(X); }),
             Equals("glora::Linear::forward: X is 19 x 11, expected 11 rows "
                    "(samples are columns: pass X.transpose() or a column-major view of the "
                    "batch)"));
}

TEST_CASE("a view's messages name LinearView, a run-time layer's DynamicLinear", "[errors]") {
  std::mt19937 rng(51);
  Eigen::MatrixXd W0 = random_matrix<double>(rng, out, in);
  Eigen::VectorXd b0 = random_vector<double>(rng, out);
  const Eigen::MatrixXd X = random_matrix<double>(rng, 17, 19);
  const glora::LinearView<double, LowRank<2>, Vector> view(W0, b0);
  CHECK_THAT(shape_error_message([&] { view.forward(X); }),
             Equals("glora::LinearView::forward: X is 17 x 19, expected 11 rows (in_features)"));

  const glora::LayerConfig config = glora::parse_layer_config(
      R"({"A": "LoRA_2", "B": "vector", "C": "none", "D": "constant", "E": "vector"})");
  glora::DynamicLinear<double> dynamic(W0, b0, config);
  CHECK_THAT(shape_error_message([&] { dynamic.forward(X); }),
             Equals("glora::DynamicLinear::forward: X is 17 x 19, expected 11 rows (in_features)"));
  dynamic.adapter().Ad.resize(3, 3);
  CHECK_THAT(shape_error_message([&] { dynamic.merge(); }),
             Equals("glora::DynamicLinear::merge: adapter().Ad (slot A, LoRA_2) is 3 x 3, "
                    "expected 13 x at least 2"));
}

TEST_CASE("forward(X, Y): Y must be out_features x batch", "[errors]") {
  std::mt19937 rng(44);
  const Layer layer = make_layer(rng);
  const Eigen::MatrixXd X = random_matrix<double>(rng, in, 19);

  SECTION("wrong rows") {
    Eigen::MatrixXd Y = Eigen::MatrixXd::Constant(12, 19, sentinel<double>());
    CHECK_THAT(shape_error_message([&] { layer.forward(X, Y); }),
               Equals("glora::Linear::forward: Y is 12 x 19, expected 13 x 19"));
    CHECK(all_sentinel(Y));
  }
  SECTION("wrong columns") {
    Eigen::MatrixXd Y = Eigen::MatrixXd::Constant(out, 23, sentinel<double>());
    CHECK_THAT(shape_error_message([&] { layer.forward(X, Y); }),
               Equals("glora::Linear::forward: Y is 13 x 23, expected 13 x 19"));
    CHECK(all_sentinel(Y));
  }
}

TEST_CASE("merge_into: W must be out x in and b must have out entries", "[errors]") {
  std::mt19937 rng(45);
  const Layer layer = make_layer(rng);

  SECTION("W with the wrong number of columns") {
    Eigen::MatrixXd W = Eigen::MatrixXd::Constant(out, 12, sentinel<double>());
    Eigen::VectorXd b = Eigen::VectorXd::Constant(out, sentinel<double>());
    CHECK_THAT(shape_error_message([&] { layer.merge_into(W, b); }),
               Equals("glora::Linear::merge_into: W is 13 x 12, expected 13 x 11"));
    CHECK(all_sentinel(W));
    CHECK(all_sentinel(b));
  }
  SECTION("W with the wrong number of rows") {
    Eigen::MatrixXd W = Eigen::MatrixXd::Constant(14, in, sentinel<double>());
    Eigen::VectorXd b = Eigen::VectorXd::Constant(out, sentinel<double>());
    CHECK_THAT(shape_error_message([&] { layer.merge_into(W, b); }),
               Equals("glora::Linear::merge_into: W is 14 x 11, expected 13 x 11"));
    CHECK(all_sentinel(W));
    CHECK(all_sentinel(b));
  }
  SECTION("b of the wrong size") {
    Eigen::MatrixXd W = Eigen::MatrixXd::Constant(out, in, sentinel<double>());
    Eigen::VectorXd b = Eigen::VectorXd::Constant(14, sentinel<double>());
    CHECK_THAT(shape_error_message([&] { layer.merge_into(W, b); }),
               Equals("glora::Linear::merge_into: b is 14 x 1, expected 13 x 1"));
    CHECK(all_sentinel(W));
    CHECK(all_sentinel(b));
  }
}

TEST_CASE("LinearView: b0 must have one entry per row of W0", "[errors]") {
  std::mt19937 rng(46);
  Eigen::MatrixXd W0 = Eigen::MatrixXd::Constant(out, in, sentinel<double>());
  Eigen::VectorXd b0 = Eigen::VectorXd::Constant(12, sentinel<double>());
  using View = glora::LinearView<double, LowRank<2>, Vector, LowRank<1>, Vector, Scalar>;

  SECTION("over Eigen objects") {
    CHECK_THAT(
        shape_error_message([&] { View view(W0, b0); }),
        Equals("glora::LinearView: b0 is 12 x 1, expected 13 x 1 (one entry per row of W0)"));
  }
  SECTION("over Eigen maps") {
    CHECK_THAT(
        shape_error_message([&] {
          View view(Eigen::Map<Eigen::MatrixXd>(W0.data(), out, in),
                    Eigen::Map<Eigen::VectorXd>(b0.data(), 12));
        }),
        Equals("glora::LinearView: b0 is 12 x 1, expected 13 x 1 (one entry per row of W0)"));
  }
  CHECK(all_sentinel(W0));
  CHECK(all_sentinel(b0));
}

TEST_CASE("Dense: shapes are checked too", "[errors]") {
  std::mt19937 rng(47);
  glora::Dense<float> dense(random_matrix<float>(rng, out, in), random_vector<float>(rng, out));

  SECTION("X with the wrong number of rows") {
    const Eigen::MatrixXf X = random_matrix<float>(rng, 17, 19);
    const char* expected = "glora::Dense::forward: X is 17 x 19, expected 11 rows (in_features)";
    CHECK_THAT(shape_error_message([&] { dense.forward(X); }), Equals(expected));
    Eigen::MatrixXf Y = Eigen::MatrixXf::Constant(out, 19, sentinel<float>());
    CHECK_THAT(shape_error_message([&] { dense.forward(X, Y); }), Equals(expected));
    CHECK(all_sentinel(Y));
  }
  SECTION("Y of the wrong shape") {
    const Eigen::MatrixXf X = random_matrix<float>(rng, in, 19);
    Eigen::MatrixXf Y = Eigen::MatrixXf::Constant(out, 23, sentinel<float>());
    CHECK_THAT(shape_error_message([&] { dense.forward(X, Y); }),
               Equals("glora::Dense::forward: Y is 13 x 23, expected 13 x 19"));
    CHECK(all_sentinel(Y));
  }
  SECTION("a bias resized by the user") {
    dense.bias.resize(12);
    const Eigen::MatrixXf X = random_matrix<float>(rng, in, 19);
    Eigen::MatrixXf Y = Eigen::MatrixXf::Constant(out, 19, sentinel<float>());
    CHECK_THAT(shape_error_message([&] { dense.forward(X, Y); }),
               Equals("glora::Dense::forward: bias is 12 x 1, expected 13 x 1"));
    CHECK(all_sentinel(Y));
  }
}

TEST_CASE("an adapter tensor resized to the wrong shape is caught, not read out of bounds",
          "[errors]") {
  std::mt19937 rng(48);
  Layer layer = make_layer(rng);
  const Eigen::MatrixXd X = random_matrix<double>(rng, in, 19);
  Eigen::MatrixXd Y = Eigen::MatrixXd::Constant(out, 19, sentinel<double>());
  Eigen::MatrixXd W = Eigen::MatrixXd::Constant(out, in, sentinel<double>());
  Eigen::VectorXd b = Eigen::VectorXd::Constant(out, sentinel<double>());

  // Each case: the resize, and what every entry point must say after its "glora::Linear::<call>: ".
  auto check_every_entry_point = [&](const std::string& problem) {
    CHECK_THAT(shape_error_message([&] { layer.forward(X); }),
               Equals("glora::Linear::forward: " + problem));
    CHECK_THAT(shape_error_message([&] { layer.forward(X, Y); }),
               Equals("glora::Linear::forward: " + problem));
    CHECK_THAT(shape_error_message([&] { layer.merge(); }),
               Equals("glora::Linear::merge: " + problem));
    CHECK_THAT(shape_error_message([&] { layer.merge_into(W, b); }),
               Equals("glora::Linear::merge_into: " + problem));
    CHECK(all_sentinel(Y));
    CHECK(all_sentinel(W));
    CHECK(all_sentinel(b));
  };

  SECTION("Ad resized to 3 x 3 (expected 13 x 2)") {
    layer.adapter().A.down.resize(3, 3);
    check_every_entry_point("adapter().A.down (Ad) is 3 x 3, expected 13 x 2");
  }
  SECTION("Au with 17 columns (expected 11)") {
    layer.adapter().A.up.resize(2, 17);
    check_every_entry_point("adapter().A.up (Au) is 2 x 17, expected 2 x 11");
  }
  SECTION("B vector with 12 entries (expected 13)") {
    layer.adapter().B.value.resize(12);
    check_every_entry_point("adapter().B.value (Bd) is 12 x 1, expected 13 x 1");
  }
  SECTION("Cd with 13 rows (expected 11)") {
    layer.adapter().C.down.resize(13, 1);
    check_every_entry_point("adapter().C.down (Cd) is 13 x 1, expected 11 x 1");
  }
  SECTION("Cu with 19 columns (expected 1)") {
    layer.adapter().C.up.resize(1, 19);
    check_every_entry_point("adapter().C.up (Cu) is 1 x 19, expected 1 x 1");
  }
  SECTION("D vector with 14 entries (expected 13)") {
    layer.adapter().D.value.resize(14);
    check_every_entry_point("adapter().D.value (D) is 14 x 1, expected 13 x 1");
  }
}

TEST_CASE("merge_in_place with a mis-sized adapter tensor leaves the viewed storage alone",
          "[errors]") {
  std::mt19937 rng(49);
  const Eigen::MatrixXd W0 = random_matrix<double>(rng, out, in);
  const Eigen::VectorXd b0 = random_vector<double>(rng, out);
  Eigen::MatrixXd weights = W0;
  Eigen::VectorXd biases = b0;
  glora::LinearView<double, LowRank<2>, Vector, LowRank<1>, Vector, Scalar> view(weights, biases);
  glora_test::fill_random(view.adapter(), out, in, rng);
  view.adapter().B.value.resize(12);
  CHECK_THAT(shape_error_message([&] { view.merge_in_place(); }),
             Equals("glora::LinearView::merge_in_place: adapter().B.value (Bd) is 12 x 1, "
                    "expected 13 x 1"));
  CHECK(weights == W0);
  CHECK(biases == b0);
  CHECK(view.adapter().A.down.norm() > 0);  // not reset either
}

TEST_CASE("backward with default-constructed grads names the call and the argument", "[errors]") {
  std::mt19937 rng(52);
  const Layer layer = make_layer(rng);
  const Eigen::MatrixXd X = random_matrix<double>(rng, in, 19);
  const Eigen::MatrixXd dY = random_matrix<double>(rng, out, 19);
  Layer::adapter_type grads;
  CHECK_THAT(shape_error_message([&] { layer.backward(X, dY, grads); }),
             Equals("glora::Linear::backward: grads.A.down (Ad) is 0 x 0, expected 13 x 2"));
}

// merge_in_place's refusals are std::logic_error: the shapes are right, the
// request is not.
namespace {
std::string logic_error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const glora::shape_error& e) {
    FAIL("threw a shape_error: " << e.what());
  } catch (const std::logic_error& e) {
    return e.what();
  }
  FAIL("did not throw");
  return {};
}
}  // namespace

TEST_CASE("merge_in_place says which slot has nowhere to go, and when storage is read-only",
          "[errors]") {
  std::mt19937 rng(53);
  Eigen::MatrixXd W0 = random_matrix<double>(rng, out, in);
  const Eigen::MatrixXd before = W0;

  SECTION("no bias, C nonzero") {
    glora::LinearView<double, LowRank<2>, Vector, Vector> view(W0);
    glora_test::fill_random(view.adapter(), out, in, rng);
    CHECK_THAT(logic_error_message([&] { view.merge_in_place(); }),
               Equals("glora::LinearView::merge_in_place: the layer has no bias to hold what "
                      "slot C adds (C is not zero); use merge() or merge_into(), or give the "
                      "layer a bias"));
  }
  SECTION("no bias, E nonzero") {
    glora::LinearView<double, LowRank<2>, Vector, glora::None, Vector, Scalar> view(W0);
    glora_test::fill_random(view.adapter(), out, in, rng);
    CHECK_THAT(logic_error_message([&] { view.merge_in_place(); }),
               Equals("glora::LinearView::merge_in_place: the layer has no bias to hold what "
                      "slot E adds (E is not zero); use merge() or merge_into(), or give the "
                      "layer a bias"));
  }
  SECTION("a view of const storage") {
    const Eigen::MatrixXd& read_only = W0;
    glora::LinearView<double, LowRank<2>> view(read_only);
    glora_test::fill_random(view.adapter(), out, in, rng);
    CHECK_THAT(logic_error_message([&] { view.merge_in_place(); }),
               Equals("glora::LinearView::merge_in_place: the layer views read-only (const) "
                      "storage; use merge() or merge_into()"));
  }
  CHECK(W0 == before);
}
