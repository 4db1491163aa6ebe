#pragma once
// Optimisers that update a parameter set (an Adapter, a Dense layer) from its
// gradients, and a learning-rate schedule.
//
// An optimiser instance belongs to one parameter set: it keeps per-tensor
// state (made zero on the first step, reused after, so later steps allocate
// nothing) and refuses a set whose tensors do not match that state.

#include <glora/errors.hpp>
#include <glora/parameters.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace glora {

namespace detail {

/// K state matrices per tensor of one parameter set, in visiting order.
template <typename T, std::size_t K>
class TensorState {
 public:
  using Slots = std::array<MatrixX<T>, K>;

  /// Throws shape_error unless `grads` matches `params` and, after the first
  /// call, `params` matches the state; makes the state on the first call.
  template <typename Params>
  void prepare(const char* where, const Params& params, const Params& grads) {
    std::size_t tensors = 0;
    for_each_tensor(
        [&](const char* name, Role, const auto& p, const auto& g) {
          check_shape(where, (std::string("gradient of ") + name).c_str(), g, p.rows(), p.cols());
          if (!state_.empty()) check_known(where, name, p, tensors);
          ++tensors;
        },
        params, grads);
    if (state_.empty()) {
      make(params);
    } else if (tensors != state_.size()) {
      throw shape_error(std::string(where) + ": the parameter set has " + std::to_string(tensors) +
                        " tensors, expected " + std::to_string(state_.size()) +
                        " (one optimiser per parameter set)");
    }
  }

  /// Calls update(p, g, slots) for every tensor p of `params`, with its
  /// gradient g and its state. Call prepare() first.
  template <typename Params, typename F>
  void update(Params& params, const Params& grads, F&& f) {
    std::size_t i = 0;
    for_each_tensor([&](const char*, Role, auto p, auto g) { f(p, g, state_[i++]); }, params,
                    grads);
  }

 private:
  template <typename Tensor>
  void check_known(const char* where, const char* name, const Tensor& p, std::size_t i) const {
    const std::string what = std::string("tensor ") + name + " (one optimiser per parameter set)";
    if (i >= state_.size()) {
      throw shape_error(std::string(where) + ": " + what + " has no state; expected " +
                        std::to_string(state_.size()) + " tensors");
    }
    check_shape(where, what.c_str(), p, state_[i][0].rows(), state_[i][0].cols());
  }

  template <typename Params>
  void make(const Params& params) {
    for_each_tensor(
        [&](const char*, Role, const auto& p) {
          Slots slots;
          for (auto& s : slots) s.setZero(p.rows(), p.cols());
          state_.push_back(std::move(slots));
        },
        params);
  }

  std::vector<Slots> state_;
};

}  // namespace detail

/// Adam with decoupled weight decay, step for step as torch.optim.AdamW:
///   p ← p − lr·wd·p;  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;
///   p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)   (t: steps so far).
template <typename T>
class AdamW {
 public:
  struct Options {
    T lr = T(1e-4);
    T beta1 = T(0.9);
    T beta2 = T(0.999);
    T eps = T(1e-8);
    T weight_decay = T(1e-4);
  };

  AdamW() : AdamW(Options()) {}
  explicit AdamW(Options options) : options_(options) {}

  /// One update of `params` (an Adapter, a Dense layer) from `grads`, a set
  /// of the same type and shapes. Throws shape_error, changing nothing, when
  /// the shapes differ or `params` is not the set of the earlier steps.
  template <typename Params>
  void step(Params& params, const Params& grads) {
    state_.prepare("glora::AdamW::step", params, grads);
    ++steps_;
    const Options& o = options_;
    const T correction1 = T(1) - std::pow(o.beta1, static_cast<T>(steps_));
    const T sqrt_correction2 = std::sqrt(T(1) - std::pow(o.beta2, static_cast<T>(steps_)));
    const T step_size = o.lr / correction1;
    state_.update(params, grads, [&](auto p, auto g, auto& moments) {
      auto& m = moments[0];
      auto& v = moments[1];
      p *= T(1) - o.lr * o.weight_decay;
      m = o.beta1 * m + (T(1) - o.beta1) * g;
      v.array() = o.beta2 * v.array() + (T(1) - o.beta2) * g.array().square();
      p.array() -= step_size * m.array() / (v.array().sqrt() / sqrt_correction2 + o.eps);
    });
  }

  void set_learning_rate(T lr) { options_.lr = lr; }
  T learning_rate() const { return options_.lr; }

 private:
  Options options_;
  std::int64_t steps_ = 0;
  detail::TensorState<T, 2> state_;
};

/// Stochastic gradient descent with momentum, as torch.optim.SGD (no
/// dampening, no Nesterov):  d ← g + wd·p;  buf ← momentum·buf + d;  p ← p − lr·buf.
template <typename T>
class SGD {
 public:
  struct Options {
    T lr = T(1e-2);
    T momentum = T(0.9);
    T weight_decay = T(0);
  };

  SGD() : SGD(Options()) {}
  explicit SGD(Options options) : options_(options) {}

  /// One update of `params` from `grads`; see AdamW::step.
  template <typename Params>
  void step(Params& params, const Params& grads) {
    state_.prepare("glora::SGD::step", params, grads);
    const Options& o = options_;
    state_.update(params, grads, [&](auto p, auto g, auto& buffers) {
      // torch starts the buffer at d; from zero, momentum·0 + d is the same.
      auto& buf = buffers[0];
      buf = o.momentum * buf + g + o.weight_decay * p;
      p -= o.lr * buf;
    });
  }

  void set_learning_rate(T lr) { options_.lr = lr; }
  T learning_rate() const { return options_.lr; }

 private:
  Options options_;
  detail::TensorState<T, 1> state_;
};

/// The learning rate at `step` (counted from 0) of a run of `total_steps`:
/// a linear warm-up from 0 to base_lr over the first `warmup_steps`, then half
/// a cosine from base_lr down to 0 at `total_steps` (and 0 after). Throws
/// std::invalid_argument unless 0 <= step and 0 <= warmup_steps <= total_steps.
template <typename T>
T cosine_schedule(std::int64_t step, std::int64_t total_steps, std::int64_t warmup_steps,
                  T base_lr) {
  if (step < 0 || warmup_steps < 0 || warmup_steps > total_steps) {
    throw std::invalid_argument(
        "glora::cosine_schedule: needs 0 <= step and 0 <= warmup_steps <= total_steps");
  }
  if (step < warmup_steps) return base_lr * static_cast<T>(step) / static_cast<T>(warmup_steps);
  if (step >= total_steps) return T(0);
  const double pi = 3.14159265358979323846;
  const double progress =
      static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
  return base_lr * static_cast<T>(0.5 * (1.0 + std::cos(pi * progress)));
}

}  // namespace glora
