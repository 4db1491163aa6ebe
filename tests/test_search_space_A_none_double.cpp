// The paper's search space, slice A = None in double (108 of the 432
// configurations; search_space.hpp splits the space by the kind of A and the
// scalar type so that each slice compiles on its own): for every
// configuration, forward(X), forward(X, Y), merge() and merge_into(W, b)
// agree with the plain formula
//     W = W0 + W0 (.) A + B,  b = b0 + b0 (.) D + E + W0 c,  y = W x + b
// with and without bias, on 7 x 5 and 5 x 9 layers, batch 3.
#include "search_space.hpp"

#include <catch2/catch.hpp>

namespace ss = glora_test::search_space;

TEST_CASE("search space, A = None, double: forward and merges follow the formula",
          "[search_space]") {
  const std::size_t visited =
      ss::check_against_formula<double, ss::configs_with_A<glora::None>>(8u);
  REQUIRE(visited == 108);
}
