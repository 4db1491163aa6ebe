#pragma once
// Well-known parameter-efficient methods as GLoRA configurations.

#include <glora/kinds.hpp>
#include <glora/linear.hpp>

namespace glora {

/// LoRA: y = (W0 + down · up) x + b0, the low-rank update in slot B.
template <typename T, int R>
using LoRA = Linear<T, None, LowRank<R>>;

/// Scale and shift of the output, in the spirit of SSF:
/// y = γ ⊙ (W0 x + b0) + β, with A = D = γ − 1 (set both to the same vector)
/// and E = β.
template <typename T>
using ScaleShift = Linear<T, Vector, None, None, Vector, Vector>;

/// A learned prompt c added to the input: y = W0 (x + c) + b0, i.e. the
/// constant shift W0 c of the output (slot C).
template <typename T>
using Prompt = Linear<T, None, None, Vector>;

}  // namespace glora
