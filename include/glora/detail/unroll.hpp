#pragma once
// unroll<N>(f): a loop over compile-time indices, as straight-line code.

#include <Eigen/Core>

#include <type_traits>
#include <utility>

namespace glora::detail {

/// unroll's body: one call of f per index of the sequence.
template <typename F, int... I>
EIGEN_ALWAYS_INLINE void unroll_impl(F& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>()), ...);
}

/// Calls f(integral_constant<int, 0>) ... f(integral_constant<int, N - 1>) as
/// straight-line code. The kernels' accumulators must live in registers, which
/// needs every index known at compile time; GCC does not unroll the
/// equivalent loops at -O2.
template <int N, typename F>
EIGEN_ALWAYS_INLINE void unroll(F&& f) {
  unroll_impl(f, std::make_integer_sequence<int, N>());
}

}  // namespace glora::detail
