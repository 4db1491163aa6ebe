// The run-time configured layer in double: on each of the paper's 432
// configurations it computes exactly what the compile-time layer of the same
// kinds computes (see dynamic_layer_checks.hpp).
#include "dynamic_layer_checks.hpp"

#include <catch2/catch.hpp>

TEST_CASE("DynamicLinear, double: every configuration equals the compile-time layer",
          "[dynamic][search_space]") {
  CHECK(glora_test::dynamic::check_search_space<double>(6u) == 432);
}
