// The paper's per-layer search space (docs/contract.md, "The search space"):
// A, B in {LoRA_r, vector, constant, none}, C in {LoRA_r, vector,
// none}, D, E in {constant, none, vector}: 432 configurations, every one of
// which is a valid glora layer.
//
// This file visits all 432 and checks what each freshly built adapter stores:
// the shapes of the spec's table, zero-filled, with as many values as the
// spec's count of trainable parameters. The arithmetic of the 432
// configurations is checked by test_conformance.cpp (the run-time layer
// against the plain formula) and test_conformance_types_A_*.cpp (each
// compile-time layer type against the run-time layer).
#include "search_space.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace ss = glora_test::search_space;
using glora_test::Index;

namespace {

// Trainable parameters of one slot of an m x n layer, from the spec:
// LoRA_k in A or B: k(m + n); in C: k(n + 1); vector: m for A, B, D, E and
// n for C; constant: 1; none: 0.
template <class K>
Index spec_count(char slot, Index m, Index n) {
  if constexpr (glora_test::is_low_rank<K>) {
    const Index k = glora_test::rank_of<K>;
    return slot == 'C' ? k * (n + 1) : k * (m + n);
  } else if constexpr (glora_test::is_vector<K>) {
    return slot == 'C' ? n : m;
  } else if constexpr (glora_test::is_scalar<K>) {
    return 1;
  } else {
    return 0;
  }
}

// What a freshly built adapter of one configuration stores.
struct Fresh {
  std::string config;
  std::string shape_problem;  // "" when every tensor has the spec's shape
  bool zero_filled = false;
  Index stored = 0;    // values stored
  Index expected = 0;  // the spec's count of trainable parameters
};

template <class T, class KA, class KB, class KC, class KD, class KE>
GLORA_TEST_OUT_OF_LINE Fresh inspect_fresh_adapter(Index m, Index n) {
  const glora::Adapter<T, KA, KB, KC, KD, KE> ad(m, n);
  Fresh f;
  f.config = glora_test::config_name<KA, KB, KC, KD, KE>();
  try {
    glora_test::require_spec_shapes(ad, m, n);
  } catch (const std::logic_error& e) {
    f.shape_problem = e.what();
    return f;
  }
  f.zero_filled = glora_test::all_zero<KA>(ad.A) && glora_test::all_zero<KB>(ad.B) &&
                  glora_test::all_zero<KC>(ad.C) && glora_test::all_zero<KD>(ad.D) &&
                  glora_test::all_zero<KE>(ad.E);
  f.stored = glora_test::stored_count<KA>(ad.A) + glora_test::stored_count<KB>(ad.B) +
             glora_test::stored_count<KC>(ad.C) + glora_test::stored_count<KD>(ad.D) +
             glora_test::stored_count<KE>(ad.E);
  f.expected = spec_count<KA>('A', m, n) + spec_count<KB>('B', m, n) + spec_count<KC>('C', m, n) +
               spec_count<KD>('D', m, n) + spec_count<KE>('E', m, n);
  return f;
}

template <class T>
std::size_t check_fresh_adapters(Index m, Index n) {
  std::vector<Fresh> seen;
  ss::for_each_config(ss::all_configs{}, [&](auto cfg) {
    using C = decltype(cfg);
    seen.push_back(inspect_fresh_adapter<T, typename C::KA, typename C::KB, typename C::KC,
                                         typename C::KD, typename C::KE>(m, n));
  });
  for (const Fresh& f : seen) {
    INFO(glora_test::type_name<T>() << " " << f.config << " on " << m << " x " << n);
    CHECK(f.shape_problem == "");
    CHECK(f.zero_filled);
    CHECK(f.stored == f.expected);
  }
  return seen.size();
}

}  // namespace

TEST_CASE("the search space has exactly 432 configurations per layer", "[search_space]") {
  STATIC_REQUIRE(ss::a_kinds::size * ss::b_kinds::size * ss::c_kinds::size * ss::d_kinds::size *
                     ss::e_kinds::size ==
                 432);
  STATIC_REQUIRE(ss::all_configs::size == 432);
  std::size_t visited = 0;
  ss::for_each_config(ss::all_configs{}, [&](auto) { ++visited; });
  REQUIRE(visited == 432);
}

TEMPLATE_TEST_CASE(
    "every configuration of the search space stores the spec's "
    "zero-filled tensors",
    "[search_space]", float, double) {
  REQUIRE(check_fresh_adapters<TestType>(7, 5) == 432);
  REQUIRE(check_fresh_adapters<TestType>(5, 9) == 432);
}
