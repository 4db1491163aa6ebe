#pragma once
// Optimisers that update a parameter set (an Adapter, a Dense layer) from its
// gradients, and a learning-rate schedule.
//
// The gradient rule: backward() adds to the gradients, step() consumes them.
// step(params, grads) updates params and then sets grads to zero, so the
// usual loop
//     forward; backward(X, dY, grads); optimiser.step(params, grads);
// needs no zeroing, and several backward() calls before one step add up
// (gradient accumulation: scale each micro-batch's loss by 1/k to average k).
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
#include <sstream>
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
          if (g.rows() != p.rows() || g.cols() != p.cols()) {  // the message only on failure
            check_shape(where, (std::string("gradient of ") + name).c_str(), g, p.rows(), p.cols());
          }
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

  /// Calls f(p, g, slots) for every tensor p of `params`, with its gradient g
  /// and its state, then zeroes g: the gradients are consumed. Call prepare() first.
  template <typename Params, typename F>
  void update(Params& params, Params& grads, F&& f) {
    std::size_t i = 0;
    for_each_tensor(
        [&](const char*, Role, auto p, auto g) {
          f(p, g, state_[i++]);
          g.setZero();
        },
        params, grads);
  }

 private:
  template <typename Tensor>
  void check_known(const char* where, const char* name, const Tensor& p, std::size_t i) const {
    if (i < state_.size() && p.rows() == state_[i][0].rows() && p.cols() == state_[i][0].cols()) {
      return;  // every step comes here: no message is made
    }
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

/// Where an optimiser's setting must lie: [0, ∞) or [0, 1).
enum class OptionRange { at_least_zero, zero_to_below_one };

/// Throws std::invalid_argument, naming the optimiser, the setting and its
/// range, unless `value` lies in `range` (NaN lies in none).
inline void check_option(const char* where, const char* name, double value, OptionRange range) {
  const bool in_range = value >= 0.0 && (range == OptionRange::at_least_zero || value < 1.0);
  if (in_range) return;
  std::ostringstream message;
  message << where << ": " << name << " is " << value << ", expected a value "
          << (range == OptionRange::at_least_zero ? ">= 0" : "in [0, 1)");
  throw std::invalid_argument(message.str());
}

}  // namespace detail

/// Adam with decoupled weight decay, step for step as torch.optim.AdamW:
///   p ← p − lr·wd·p;  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;
///   p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)   (t: steps so far).
///
/// \tparam T the scalar type of the parameters (float, double).
template <typename T>
class AdamW {
 public:
  /// The settings, each set by name and chainable:
  ///   glora::AdamW<float> adam(glora::AdamW<float>::Options().lr(1e-3f).weight_decay(0));
  /// The defaults are those the GLoRA reference trains with (lr 1e-4, betas
  /// 0.9 and 0.999, eps 1e-8, weight decay 1e-4); torch.optim.AdamW's own
  /// defaults differ (lr 1e-3, weight decay 1e-2).
  /// \throws std::invalid_argument from a setter given a value out of range
  ///         (lr, eps, weight_decay below 0; a beta outside [0, 1)).
  class Options {
   public:
    T lr() const { return lr_; }
    T beta1() const { return beta1_; }
    T beta2() const { return beta2_; }
    T eps() const { return eps_; }
    T weight_decay() const { return weight_decay_; }

    Options& lr(T value) { return set(lr_, "lr", value, Range::at_least_zero); }
    Options& beta1(T value) { return set(beta1_, "beta1", value, Range::zero_to_below_one); }
    Options& beta2(T value) { return set(beta2_, "beta2", value, Range::zero_to_below_one); }
    Options& eps(T value) { return set(eps_, "eps", value, Range::at_least_zero); }
    Options& weight_decay(T value) {
      return set(weight_decay_, "weight_decay", value, Range::at_least_zero);
    }

   private:
    using Range = detail::OptionRange;

    Options& set(T& option, const char* name, T value, Range range) {
      detail::check_option("glora::AdamW", name, static_cast<double>(value), range);
      option = value;
      return *this;
    }

    T lr_ = T(1e-4);
    T beta1_ = T(0.9);
    T beta2_ = T(0.999);
    T eps_ = T(1e-8);
    T weight_decay_ = T(1e-4);
  };

  AdamW() : AdamW(Options()) {}
  explicit AdamW(const Options& options) : options_(options) {}

  /// One update of `params` (an Adapter, a Dense layer) from `grads`, a set
  /// of the same type and shapes, which it then sets to zero: a loop of
  /// forward, backward, step needs no zeroing, and several backward calls
  /// before one step add up (gradient accumulation).
  /// \throws shape_error, changing neither set, when the shapes differ or
  ///         `params` is not the set of the earlier steps.
  template <typename Params>
  void step(Params& params, Params& grads) {
    state_.prepare("glora::AdamW::step", params, grads);
    ++steps_;
    const T lr = options_.lr();
    const T beta1 = options_.beta1();
    const T beta2 = options_.beta2();
    const T eps = options_.eps();
    const T decay = T(1) - lr * options_.weight_decay();
    const T correction1 = T(1) - std::pow(beta1, static_cast<T>(steps_));
    const T sqrt_correction2 = std::sqrt(T(1) - std::pow(beta2, static_cast<T>(steps_)));
    const T step_size = lr / correction1;
    state_.update(params, grads, [&](auto p, auto g, auto& moments) {
      auto& m = moments[0];
      auto& v = moments[1];
      p *= decay;
      m = beta1 * m + (T(1) - beta1) * g;
      v.array() = beta2 * v.array() + (T(1) - beta2) * g.array().square();
      p.array() -= step_size * m.array() / (v.array().sqrt() / sqrt_correction2 + eps);
    });
  }

  const Options& options() const { return options_; }
  /// Changes lr alone, e.g. from a schedule at every step.
  void set_learning_rate(T lr) { options_.lr(lr); }
  T learning_rate() const { return options_.lr(); }

 private:
  Options options_;
  std::int64_t steps_ = 0;
  detail::TensorState<T, 2> state_;
};

/// Stochastic gradient descent with momentum, as torch.optim.SGD (no
/// dampening, no Nesterov):  d ← g + wd·p;  buf ← momentum·buf + d;  p ← p − lr·buf.
///
/// \tparam T the scalar type of the parameters (float, double).
template <typename T>
class SGD {
 public:
  /// The settings, each set by name and chainable:
  ///   glora::SGD<float> sgd(glora::SGD<float>::Options().lr(0.1f).momentum(0));
  /// Defaults: lr 1e-2, momentum 0.9, weight decay 0.
  /// \throws std::invalid_argument from a setter given a value below 0.
  class Options {
   public:
    T lr() const { return lr_; }
    T momentum() const { return momentum_; }
    T weight_decay() const { return weight_decay_; }

    Options& lr(T value) { return set(lr_, "lr", value); }
    Options& momentum(T value) { return set(momentum_, "momentum", value); }
    Options& weight_decay(T value) { return set(weight_decay_, "weight_decay", value); }

   private:
    Options& set(T& option, const char* name, T value) {
      detail::check_option("glora::SGD", name, static_cast<double>(value),
                           detail::OptionRange::at_least_zero);
      option = value;
      return *this;
    }

    T lr_ = T(1e-2);
    T momentum_ = T(0.9);
    T weight_decay_ = T(0);
  };

  SGD() : SGD(Options()) {}
  explicit SGD(const Options& options) : options_(options) {}

  /// One update of `params` from `grads`, which it then sets to zero; see AdamW::step.
  template <typename Params>
  void step(Params& params, Params& grads) {
    state_.prepare("glora::SGD::step", params, grads);
    const T lr = options_.lr();
    const T momentum = options_.momentum();
    const T weight_decay = options_.weight_decay();
    state_.update(params, grads, [&](auto p, auto g, auto& buffers) {
      // torch starts the buffer at d; from zero, momentum·0 + d is the same.
      auto& buf = buffers[0];
      buf = momentum * buf + g + weight_decay * p;
      p -= lr * buf;
    });
  }

  const Options& options() const { return options_; }
  /// Changes lr alone, e.g. from a schedule at every step.
  void set_learning_rate(T lr) { options_.lr(lr); }
  T learning_rate() const { return options_.lr(); }

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
