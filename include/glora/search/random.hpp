#pragma once
// Draws from a std::mt19937_64 that give the same numbers with every standard
// library: the engine's output is fixed by the C++ standard, the std::
// distributions are not (libstdc++ and libc++ turn the same bits into
// different integers), so the search does its own mapping.

#include <cstdint>
#include <random>

namespace glora {
namespace detail {

/// A uniform integer in [0, n), n > 0, without modulo bias: draws that fall
/// into the incomplete last block of n values are redrawn.
inline std::uint64_t uniform_index(std::mt19937_64& rng, std::uint64_t n) {
  // 2^64 mod n: the values below it are the surplus that would favour small results.
  const std::uint64_t surplus = (0 - n) % n;
  std::uint64_t x = rng();
  while (x < surplus) x = rng();
  return x % n;
}

/// A uniform double in [0, 1) from 53 random bits.
inline double uniform_unit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace detail
}  // namespace glora
