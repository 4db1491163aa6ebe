#pragma once
// The bias side of the layer, shared by the unmerged forward and by merge:
// the prompt c of slot C, and b0 + b0 ⊙ D + E.

#include <glora/adapter.hpp>
#include <glora/kinds.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

namespace glora::detail {

/// True when a slot C of kind KC contributes the prompt term W0 c.
template <typename KC>
inline constexpr bool adds_prompt_v = !is_none_v<KC>;

/// True when the adapter's slot C contributes the prompt term W0 c.
template <typename Adapter>
inline constexpr bool has_prompt_v = adds_prompt_v<typename Adapter::kind_c>;

/// Writes entries [first, first + c.size()) of the prompt c.
template <typename T, typename K, typename Out>
void write_prompt_rows(const Support<T, Slot::C, K>& C, Eigen::Index first, Out&& c) {
  if constexpr (is_low_rank_v<K>) {
    c.noalias() = C.down.middleRows(first, c.size()) * C.up;
  } else if constexpr (std::is_same_v<K, Vector>) {
    c = C.value.segment(first, c.size());
  } else if constexpr (std::is_same_v<K, Scalar>) {
    c.setConstant(C.value);
  }
}

/// Writes the n entries of c that slot C produces.
template <typename T, typename K, typename Out>
void write_prompt(const Support<T, Slot::C, K>& C, Out&& c) {
  write_prompt_rows(C, 0, c);
}

/// True when the layer's bias can be nonzero: a frozen bias, or E or C active.
template <typename Adapter>
constexpr bool adds_bias(bool has_bias) {
  return has_bias || has_prompt_v<Adapter> || !is_none_v<typename Adapter::kind_e>;
}

/// b = b0 + b0 ⊙ D + E (without a frozen bias: b = E). The prompt term W0 c is
/// the caller's to add. Elementwise, so `b` may be b0's own storage.
template <typename T, typename B0, typename KD, typename KE, typename Out>
void write_bias_without_prompt(const B0& b0, bool has_bias, const Support<T, Slot::D, KD>& D,
                               const Support<T, Slot::E, KE>& E, Out&& b) {
  if (has_bias) {
    if constexpr (std::is_same_v<KD, Vector>) {
      b.array() = b0.array() * (T(1) + D.value.array());
    } else if constexpr (std::is_same_v<KD, Scalar>) {
      b = b0 * (T(1) + D.value);
    } else {
      b = b0;
    }
  } else {
    b.setZero();
  }
  if constexpr (std::is_same_v<KE, Vector>) {
    b += E.value;
  } else if constexpr (std::is_same_v<KE, Scalar>) {
    b.array() += E.value;
  }
}

}  // namespace glora::detail
