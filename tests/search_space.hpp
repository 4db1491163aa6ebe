// The per-layer search space of the GLoRA paper, as compile-time type lists:
//
//   A, B in {LoRA_r, vector, constant, none}
//   C    in {LoRA_r, vector, none}
//   D, E in {constant, none, vector}
//
// 4 * 4 * 3 * 3 * 3 = 432 configurations ('constant' is glora::Scalar,
// 'LoRA_r' is glora::LowRank<r>). The full product is split by the kind of
// slot A, so that the conformance checks of the 432 compile-time types can be
// compiled as four translation units of 108 configurations each.
#ifndef GLORA_TESTS_SEARCH_SPACE_HPP
#define GLORA_TESTS_SEARCH_SPACE_HPP

#include "reference_formula.hpp"

#include <glora/glora.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <type_traits>

namespace glora_test::search_space {

template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
};

template <class KA_, class KB_, class KC_, class KD_, class KE_>
struct config {
  using KA = KA_;
  using KB = KB_;
  using KC = KC_;
  using KD = KD_;
  using KE = KE_;
};

// ------------------------------------------------------------ type lists

template <class... Lists>
struct concat;
template <>
struct concat<> {
  using type = type_list<>;
};
template <class... Ts>
struct concat<type_list<Ts...>> {
  using type = type_list<Ts...>;
};
template <class... Ts, class... Us, class... Rest>
struct concat<type_list<Ts...>, type_list<Us...>, Rest...> {
  using type = typename concat<type_list<Ts..., Us...>, Rest...>::type;
};

// product<type_list<chosen kinds...>, type_list<remaining option lists...>>
// is the list of every config<...> that extends the chosen kinds.
template <class Chosen, class Remaining>
struct product;
template <class... Chosen>
struct product<type_list<Chosen...>, type_list<>> {
  using type = type_list<config<Chosen...>>;
};
template <class... Chosen, class... Options, class... Rest>
struct product<type_list<Chosen...>, type_list<type_list<Options...>, Rest...>> {
  using type = typename concat<
      typename product<type_list<Chosen..., Options>, type_list<Rest...>>::type...>::type;
};

// --------------------------------------------------------- the space

// The maximum rank of the supernet; LowRank<r> has no further effect on
// which code paths run, one rank is enough here.
constexpr int max_rank = 3;
using LoRA = glora::LowRank<max_rank>;

using a_kinds = type_list<LoRA, glora::Vector, glora::Scalar, glora::None>;
using b_kinds = type_list<LoRA, glora::Vector, glora::Scalar, glora::None>;
using c_kinds = type_list<LoRA, glora::Vector, glora::None>;
using d_kinds = type_list<glora::Scalar, glora::None, glora::Vector>;
using e_kinds = type_list<glora::Scalar, glora::None, glora::Vector>;

using all_configs =
    typename product<type_list<>, type_list<a_kinds, b_kinds, c_kinds, d_kinds, e_kinds>>::type;

template <class KA>
using configs_with_A =
    typename product<type_list<KA>, type_list<b_kinds, c_kinds, d_kinds, e_kinds>>::type;

static_assert(all_configs::size == 432, "the paper's space has 432 configurations");
static_assert(configs_with_A<LoRA>::size == 108);
static_assert(
    std::is_same_v<all_configs, typename concat<configs_with_A<LoRA>, configs_with_A<glora::Vector>,
                                                configs_with_A<glora::Scalar>,
                                                configs_with_A<glora::None>>::type>,
    "the four slices by A kind cover the space exactly");

// Calls f(config<...>{}) for every configuration of the list, in order, and
// returns how many calls were made.
template <class... Configs, class F>
std::size_t for_each_config(type_list<Configs...>, F&& f) {
  std::size_t visited = 0;
  // A braced list rather than a fold expression: compilers cap the nesting
  // depth of a fold (clang at 256), not the length of a list. Its elements
  // are evaluated in order.
  const std::initializer_list<int> calls{(f(Configs{}), ++visited, 0)...};
  static_cast<void>(calls);
  return visited;
}

}  // namespace glora_test::search_space

#endif  // GLORA_TESTS_SEARCH_SPACE_HPP
