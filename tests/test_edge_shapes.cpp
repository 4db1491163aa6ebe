// Degenerate and awkward shapes: a single weight, a single output, a single
// input, a rank larger than the layer, a single sample, an empty batch, and
// a layer of several hundred rows. Every path (forward, merge, merge_into)
// must still follow the plain formula (docs/contract.md, "The layer").
#include "layer_checks.hpp"

#include <glora/glora.hpp>

#include <catch2/catch.hpp>

#include <random>

using glora::LowRank;
using glora::None;
using glora::Scalar;
using glora::Vector;
using glora_test::check_layer_against_formula;
using glora_test::Index;

namespace {

// Every slot active, three different ranks.
template <class T>
void check_rich_configs(std::mt19937& rng, Index m, Index n, Index batch) {
  for (const bool with_bias : {true, false}) {
    check_layer_against_formula<T, LowRank<2>, LowRank<3>, LowRank<1>, Vector, Scalar>(
        rng, m, n, batch, with_bias);
    check_layer_against_formula<T, Vector, Scalar, Vector, Scalar, Vector>(rng, m, n, batch,
                                                                           with_bias);
    check_layer_against_formula<T, Scalar, Vector, LowRank<2>, Vector, Vector>(rng, m, n, batch,
                                                                               with_bias);
    // Slot C as a Scalar is an extension of the reference space: c[j] = s.
    check_layer_against_formula<T, LowRank<1>, LowRank<1>, Scalar, Scalar, Scalar>(rng, m, n, batch,
                                                                                   with_bias);
  }
}

}  // namespace

TEMPLATE_TEST_CASE("a 1 x 1 layer", "[edge]", float, double) {
  std::mt19937 rng(11);
  for (const Index batch : {1, 4}) {
    check_rich_configs<TestType>(rng, 1, 1, batch);
  }
}

TEMPLATE_TEST_CASE("a layer with one output (1 x n)", "[edge]", float, double) {
  std::mt19937 rng(12);
  for (const Index batch : {1, 5}) {
    check_rich_configs<TestType>(rng, 1, 6, batch);
  }
}

TEMPLATE_TEST_CASE("a layer with one input (m x 1)", "[edge]", float, double) {
  std::mt19937 rng(13);
  for (const Index batch : {1, 5}) {
    check_rich_configs<TestType>(rng, 6, 1, batch);
  }
}

TEMPLATE_TEST_CASE("ranks larger than min(m, n)", "[edge]", float, double) {
  using T = TestType;
  std::mt19937 rng(14);
  for (const Index batch : {1, 3}) {
    for (const bool with_bias : {true, false}) {
      // LowRank<6> on 3 x 2: down 3 x 6, up 6 x 2 (A, B); down 2 x 6, up 6 x 1 (C).
      check_layer_against_formula<T, LowRank<6>, LowRank<6>, LowRank<6>, Vector, Vector>(
          rng, 3, 2, batch, with_bias);
      check_layer_against_formula<T, LowRank<6>, Vector, LowRank<6>, Scalar, None>(rng, 2, 3, batch,
                                                                                   with_bias);
      check_layer_against_formula<T, LowRank<4>, LowRank<5>, LowRank<3>, Vector, Scalar>(
          rng, 1, 1, batch, with_bias);
    }
  }
}

TEMPLATE_TEST_CASE("an empty batch gives an out x 0 result", "[edge]", float, double) {
  std::mt19937 rng(15);
  check_rich_configs<TestType>(rng, 4, 3, 0);
}

TEMPLATE_TEST_CASE("a layer of several hundred rows and columns", "[edge]", float, double) {
  using T = TestType;
  std::mt19937 rng(16);
  check_layer_against_formula<T, LowRank<3>, LowRank<2>, LowRank<2>, Vector, Scalar>(rng, 300, 150,
                                                                                     2, true);
  check_layer_against_formula<T, Vector, LowRank<2>, Vector, None, Vector>(rng, 150, 300, 2, false);
}
