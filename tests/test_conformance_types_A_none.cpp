// The compile-time layers with slot A = None (108 of the 432 configurations of
// the paper's search space; one file per kind of A so that the slices compile in parallel)
// against the run-time layer: see conformance_types.hpp.
// Compiled at -O0 (tests/CMakeLists.txt says why).
#include "conformance_types.hpp"

#include <catch2/catch.hpp>

namespace ss = glora_test::search_space;

TEST_CASE("compile-time layers with A = None give what the run-time layer gives", "[conformance]") {
  REQUIRE(glora_test::compare_slice_with_run_time_layer<ss::configs_with_A<glora::None>>(11u) ==
          108);
}
