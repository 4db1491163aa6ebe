// Shapes that do not fit (docs/contract.md, "Errors"): every public entry point
// throws glora::shape_error, which is a std::invalid_argument, whose message
// names the expected and the actual sizes; nothing is written before the
// check. The sizes used here (13 x 11 layers, batch 19, ...) are chosen so
// that no size is a substring of another one.
#include "layer_checks.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>

using Catch::Matchers::Contains;
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
  const std::string msg = shape_error_message([&] { Layer layer(W0, b0); });
  CHECK_THAT(msg, Contains("12") && Contains("13"));

  const std::string msg_f = shape_error_message([&] {
    glora::Linear<float, Vector> layer(Eigen::MatrixXf::Ones(out, in), Eigen::VectorXf::Ones(14));
  });
  CHECK_THAT(msg_f, Contains("14") && Contains("13"));
}

TEST_CASE("forward: X must have in_features rows", "[errors]") {
  std::mt19937 rng(43);
  const Layer layer = make_layer(rng);
  const Eigen::MatrixXd X = random_matrix<double>(rng, 17, 19);

  CHECK_THAT(shape_error_message([&] { layer.forward(X); }), Contains("17") && Contains("11"));

  Eigen::MatrixXd Y = Eigen::MatrixXd::Constant(out, 19, sentinel<double>());
  CHECK_THAT(shape_error_message([&] { layer.forward(X, Y); }), Contains("17") && Contains("11"));
  CHECK(all_sentinel(Y));
}

TEST_CASE("forward(X, Y): Y must be out_features x batch", "[errors]") {
  std::mt19937 rng(44);
  const Layer layer = make_layer(rng);
  const Eigen::MatrixXd X = random_matrix<double>(rng, in, 19);

  SECTION("wrong rows") {
    Eigen::MatrixXd Y = Eigen::MatrixXd::Constant(12, 19, sentinel<double>());
    CHECK_THAT(shape_error_message([&] { layer.forward(X, Y); }), Contains("12") && Contains("13"));
    CHECK(all_sentinel(Y));
  }
  SECTION("wrong columns") {
    Eigen::MatrixXd Y = Eigen::MatrixXd::Constant(out, 23, sentinel<double>());
    CHECK_THAT(shape_error_message([&] { layer.forward(X, Y); }), Contains("23") && Contains("19"));
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
               Contains("12") && Contains("11"));
    CHECK(all_sentinel(W));
    CHECK(all_sentinel(b));
  }
  SECTION("W with the wrong number of rows") {
    Eigen::MatrixXd W = Eigen::MatrixXd::Constant(14, in, sentinel<double>());
    Eigen::VectorXd b = Eigen::VectorXd::Constant(out, sentinel<double>());
    CHECK_THAT(shape_error_message([&] { layer.merge_into(W, b); }),
               Contains("14") && Contains("13"));
    CHECK(all_sentinel(W));
    CHECK(all_sentinel(b));
  }
  SECTION("b of the wrong size") {
    Eigen::MatrixXd W = Eigen::MatrixXd::Constant(out, in, sentinel<double>());
    Eigen::VectorXd b = Eigen::VectorXd::Constant(14, sentinel<double>());
    CHECK_THAT(shape_error_message([&] { layer.merge_into(W, b); }),
               Contains("14") && Contains("13"));
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
    CHECK_THAT(shape_error_message([&] { View view(W0, b0); }), Contains("12") && Contains("13"));
  }
  SECTION("over Eigen maps") {
    CHECK_THAT(shape_error_message([&] {
                 View view(Eigen::Map<Eigen::MatrixXd>(W0.data(), out, in),
                           Eigen::Map<Eigen::VectorXd>(b0.data(), 12));
               }),
               Contains("12") && Contains("13"));
  }
  CHECK(all_sentinel(W0));
  CHECK(all_sentinel(b0));
}

TEST_CASE("Dense: shapes are checked too", "[errors]") {
  std::mt19937 rng(47);
  glora::Dense<float> dense(random_matrix<float>(rng, out, in), random_vector<float>(rng, out));

  SECTION("X with the wrong number of rows") {
    const Eigen::MatrixXf X = random_matrix<float>(rng, 17, 19);
    CHECK_THAT(shape_error_message([&] { dense.forward(X); }), Contains("17") && Contains("11"));
    Eigen::MatrixXf Y = Eigen::MatrixXf::Constant(out, 19, sentinel<float>());
    CHECK_THAT(shape_error_message([&] { dense.forward(X, Y); }), Contains("17") && Contains("11"));
    CHECK(all_sentinel(Y));
  }
  SECTION("Y of the wrong shape") {
    const Eigen::MatrixXf X = random_matrix<float>(rng, in, 19);
    Eigen::MatrixXf Y = Eigen::MatrixXf::Constant(out, 23, sentinel<float>());
    CHECK_THAT(shape_error_message([&] { dense.forward(X, Y); }), Contains("23") && Contains("19"));
    CHECK(all_sentinel(Y));
  }
  SECTION("a bias resized by the user") {
    dense.bias.resize(12);
    const Eigen::MatrixXf X = random_matrix<float>(rng, in, 19);
    Eigen::MatrixXf Y = Eigen::MatrixXf::Constant(out, 19, sentinel<float>());
    CHECK_THAT(shape_error_message([&] { dense.forward(X, Y); }), Contains("12") && Contains("13"));
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

  // Each case: the resize, and the sizes the message must name.
  auto check_every_entry_point = [&](const char* actual, const char* expected) {
    CHECK_THAT(shape_error_message([&] { layer.forward(X); }),
               Contains(actual) && Contains(expected));
    CHECK_THAT(shape_error_message([&] { layer.forward(X, Y); }),
               Contains(actual) && Contains(expected));
    CHECK_THAT(shape_error_message([&] { layer.merge(); }), Contains(actual) && Contains(expected));
    CHECK_THAT(shape_error_message([&] { layer.merge_into(W, b); }),
               Contains(actual) && Contains(expected));
    CHECK(all_sentinel(Y));
    CHECK(all_sentinel(W));
    CHECK(all_sentinel(b));
  };

  SECTION("Ad resized to 3 x 3 (expected 13 x 2)") {
    layer.adapter().A.down.resize(3, 3);
    check_every_entry_point("3 x 3", "13");
  }
  SECTION("Au with 17 columns (expected 11)") {
    layer.adapter().A.up.resize(2, 17);
    check_every_entry_point("17", "11");
  }
  SECTION("B vector with 12 entries (expected 13)") {
    layer.adapter().B.value.resize(12);
    check_every_entry_point("12", "13");
  }
  SECTION("Cd with 13 rows (expected 11)") {
    layer.adapter().C.down.resize(13, 1);
    check_every_entry_point("13", "11");
  }
  SECTION("Cu with 19 columns (expected 1)") {
    layer.adapter().C.up.resize(1, 19);
    check_every_entry_point("19", "1");
  }
  SECTION("D vector with 14 entries (expected 13)") {
    layer.adapter().D.value.resize(14);
    check_every_entry_point("14", "13");
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
  const std::string msg = shape_error_message([&] { view.merge_in_place(); });
  CHECK_THAT(msg, Contains("12") && Contains("13"));
  CHECK(weights == W0);
  CHECK(biases == b0);
  CHECK(view.adapter().A.down.norm() > 0);  // not reset either
}
