#pragma once
// Walks over a set of trainable tensors (an Adapter, a Dense layer): visiting
// several sets side by side, zero copies, counting.
//
// A parameter set is a type with a static visit(f, sets...) that calls
// f(name, role, t...) once per tensor, t being that tensor of each set seen
// as an Eigen::Map of a matrix (see detail::as_matrix).

#include <glora/support.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>
#include <utility>

namespace glora {

namespace detail {
struct ignore_tensors {
  template <typename... Args>
  void operator()(Args&&...) const {}
};

template <typename P, typename = void>
struct has_visit : std::false_type {};
template <typename P>
struct has_visit<P, std::void_t<decltype(P::visit(ignore_tensors{}, std::declval<P&>()))>>
    : std::true_type {};
}  // namespace detail

/// True for the types the walks below accept (Adapter, Dense).
template <typename P>
inline constexpr bool is_parameter_set_v = detail::has_visit<std::remove_const_t<P>>::value;

/// Calls f(name, role, t, ts...) for every tensor of `params`, where ts are
/// the matching tensors of `others`: sets of the same kinds and shapes (the
/// scalar type may differ), e.g. parameters with their gradients. Each t is
/// writable unless its set is const.
template <typename F, typename Params, typename... Others>
std::enable_if_t<is_parameter_set_v<Params>> for_each_tensor(F&& f, Params& params,
                                                             Others&... others) {
  std::remove_const_t<Params>::visit(f, params, others...);
}

/// Zeroes every tensor of the set in place, keeping its shapes: clears
/// accumulated gradients between steps without allocating.
template <typename Params, typename = std::enable_if_t<is_parameter_set_v<Params>>>
void set_zero(Params& params) {
  for_each_tensor([](const char*, Role, auto t) { t.setZero(); }, params);
}

/// A set of the same type and shapes as `params` with every tensor zero: the
/// starting point for accumulating gradients.
template <typename Params, typename = std::enable_if_t<is_parameter_set_v<Params>>>
Params zeros_like(const Params& params) {
  Params zeros = params;
  set_zero(zeros);
  return zeros;
}

/// Trainable parameters of the set: the sum of its tensors' sizes. For an
/// adapter this is the count of docs/contract.md, "Trainable parameters"
/// (LowRank k: k(m + n) in A and B, k(n + 1) in C; Vector: m, or n in C;
/// Scalar: 1; None: 0).
template <typename Params, typename = std::enable_if_t<is_parameter_set_v<Params>>>
Eigen::Index parameter_count(const Params& params) {
  Eigen::Index count = 0;
  for_each_tensor([&count](const char*, Role, const auto& t) { count += t.size(); }, params);
  return count;
}

namespace detail {

/// The reference initialisation of a parameter set: downs, vectors and
/// scalars zero; each up (r x k) drawn from U(-a, a) with a = sqrt(6 / (k + r)).
/// The same seed gives the same tensors on every platform.
template <typename Params>
void initialize_tensors(Params& params, std::uint64_t seed) {
  using T = typename Params::scalar_type;
  std::mt19937_64 rng(seed);
  for_each_tensor(
      [&rng](const char*, Role role, auto t) {
        if (role != Role::up) {
          t.setZero();
          return;
        }
        const T bound = static_cast<T>(std::sqrt(6.0 / static_cast<double>(t.rows() + t.cols())));
        for (Eigen::Index j = 0; j < t.cols(); ++j) {
          for (Eigen::Index i = 0; i < t.rows(); ++i) {
            // 53 random bits -> [0, 1); std distributions differ between libraries.
            const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
            t(i, j) = static_cast<T>(2.0 * u - 1.0) * bound;
          }
        }
      },
      params);
}

/// Zeroes downs, vectors and scalars of a parameter set (ups are kept), so
/// that a layer equals its frozen base again.
template <typename Params>
void reset_to_identity(Params& params) {
  for_each_tensor(
      [](const char*, Role role, auto t) {
        if (role != Role::up) t.setZero();
      },
      params);
}

}  // namespace detail

}  // namespace glora
