// The paper's search space, slice A = Scalar (108 of the 432
// configurations): backward() matches central finite differences for every
// support tensor and for the input, with and without bias.
#include "gradient_checks.hpp"
#include "search_space.hpp"

#include <catch2/catch.hpp>

namespace ss = glora_test::search_space;

TEST_CASE("search space, A = Scalar: backward matches finite differences",
          "[search_space][backward]") {
  std::mt19937 rng(21);
  REQUIRE(glora_test::check_configs_backward(ss::configs_with_A<glora::Scalar>{}, rng) == 108);
}
