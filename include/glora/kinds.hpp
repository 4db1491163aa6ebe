#pragma once
// The kinds a support tensor can take, chosen per slot at compile time.

#include <type_traits>

namespace glora {

/// The slot contributes nothing and stores nothing.
struct None {};
/// One learnable number shared by the whole slot.
struct Scalar {};
/// One learnable number per output row (slots A, B, D, E) or per input (slot C).
struct Vector {};
/// A learnable product down · up of rank R.
template <int R>
struct LowRank {
  static_assert(R > 0, "glora::LowRank<R>: the rank R must be positive");
  static constexpr int rank = R;
};

/// The five support tensors of a GLoRA layer:
/// W = W0 + W0 ⊙ A + B,  b = b0 + b0 ⊙ D + E + W0 c.
enum class Slot { A, B, C, D, E };

/// The slots in order, for loops over a configuration.
inline constexpr Slot all_slots[] = {Slot::A, Slot::B, Slot::C, Slot::D, Slot::E};

/// The slot's letter: "A" .. "E".
constexpr const char* slot_letter(Slot s) {
  switch (s) {
    case Slot::A: return "A";
    case Slot::B: return "B";
    case Slot::C: return "C";
    case Slot::D: return "D";
    case Slot::E: return "E";
  }
  return "?";
}

template <typename K>
struct is_low_rank : std::false_type {};
template <int R>
struct is_low_rank<LowRank<R>> : std::true_type {};
template <typename K>
inline constexpr bool is_low_rank_v = is_low_rank<K>::value;

template <typename K>
inline constexpr bool is_kind_v = std::is_same_v<K, None> || std::is_same_v<K, Scalar> ||
                                  std::is_same_v<K, Vector> || is_low_rank_v<K>;

template <typename K>
inline constexpr bool is_none_v = std::is_same_v<K, None>;

/// False only for LowRank<R> with R <= 0 (a tag type is never completed, so
/// LowRank's own check does not fire by merely naming it).
template <typename K>
inline constexpr bool positive_rank_v = true;
template <int R>
inline constexpr bool positive_rank_v<LowRank<R>> = (R > 0);

/// The rank of a kind as it enters the arithmetic (0 for anything not LowRank).
template <typename K>
inline constexpr int rank_v = 0;
template <int R>
inline constexpr int rank_v<LowRank<R>> = R;

}  // namespace glora
