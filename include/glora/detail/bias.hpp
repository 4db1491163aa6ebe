#pragma once
// The bias side of the layer, shared by the unmerged forward and by merge:
// the prompt c of slot C, and b0 + b0 ⊙ D + E.

#include <glora/detail/views.hpp>

#include <Eigen/Core>

namespace glora::detail {

/// True when the layer's bias can be nonzero: a frozen bias, or E or C active.
template <typename S>
bool adds_bias(bool has_bias, const AdapterView<S>& ad) {
  return has_bias || ad.C.active() || ad.E.active();
}

/// Writes entries [first, first + c.size()) of the prompt c that slot C
/// produces (zeros when C is none).
template <typename T, typename Out>
void write_prompt(const SlotView<const T>& C, Eigen::Index first, Out&& c) {
  switch (C.kind) {
    case Kind::low_rank: c.noalias() = C.down.middleRows(first, c.size()) * C.up.col(0); break;
    case Kind::vector: c = C.vector().segment(first, c.size()); break;
    case Kind::scalar: c.setConstant(C.scalar()); break;
    case Kind::none: c.setZero(); break;
  }
}

/// b = b0 + b0 ⊙ D + E, or b = E for a layer without a frozen bias (b0
/// empty). The prompt term W0 c is the caller's to add. Elementwise, so `b`
/// may be b0's own storage.
template <typename T, typename B0, typename Out>
void write_bias_without_prompt(const B0& b0, const SlotView<const T>& D, const SlotView<const T>& E,
                               Out&& b) {
  if (b0.size() == 0) {
    b.setZero();
  } else if (D.is(Kind::vector)) {
    b.array() = b0.array() * (T(1) + D.vector().array());
  } else if (D.is(Kind::scalar)) {
    b = b0 * (T(1) + D.scalar());
  } else {
    b = b0;
  }
  if (E.is(Kind::vector)) {
    b += E.vector();
  } else if (E.is(Kind::scalar)) {
    b.array() += E.scalar();
  }
}

}  // namespace glora::detail
