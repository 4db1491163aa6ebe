#pragma once
// Well-known parameter-efficient methods as GLoRA configurations, each in two
// spellings: over a base the layer owns (Linear: LoRA, ScaleShift, Prompt)
// and over weights a model already owns (LinearView: LoRAView,
// ScaleShiftView, PromptView), where merge_in_place() writes the merged layer
// back into the model.

#include <glora/kinds.hpp>
#include <glora/linear.hpp>

namespace glora {

/// LoRA: y = (W0 + down · up) x + b0, the low-rank update in slot B
/// (B.down is out x R, B.up is R x in: PEFT's lora_B and lora_A).
template <typename T, int R>
using LoRA = Linear<T, None, LowRank<R>>;
/// LoRA over a model's own W0 and b0.
template <typename T, int R>
using LoRAView = LinearView<T, None, LowRank<R>>;

/// Scale and shift of the output, in the spirit of SSF:
/// y = γ ⊙ (W0 x + b0) + β, with A = D = γ − 1 (set both to the same vector)
/// and E = β.
template <typename T>
using ScaleShift = Linear<T, Vector, None, None, Vector, Vector>;
/// ScaleShift over a model's own W0 and b0.
template <typename T>
using ScaleShiftView = LinearView<T, Vector, None, None, Vector, Vector>;

/// A learned prompt c added to the input: y = W0 (x + c) + b0, i.e. the
/// constant shift W0 c of the output (slot C).
template <typename T>
using Prompt = Linear<T, None, None, Vector>;
/// Prompt over a model's own W0 and b0.
template <typename T>
using PromptView = LinearView<T, None, None, Vector>;

}  // namespace glora
