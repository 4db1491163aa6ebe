// The run-time configured layer in float: on each of the paper's 432
// configurations it computes exactly what the compile-time layer of the same
// kinds computes (see dynamic_layer_checks.hpp).
#include "dynamic_layer_checks.hpp"

#include <catch2/catch.hpp>

TEST_CASE("DynamicLinear, float: every configuration equals the compile-time layer",
          "[dynamic][search_space]") {
  CHECK(glora_test::dynamic::check_search_space<float>(5u) == 432);
}
