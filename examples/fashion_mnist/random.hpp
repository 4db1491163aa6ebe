#pragma once
// Reproducible randomness for the Fashion-MNIST example.
//
// std::mt19937's output sequence is fixed by the C++ standard, but the
// std::*_distribution classes are not: libstdc++ and libc++ turn the same bits
// into different numbers. Everything random here therefore goes through the
// conversions below, so a seed gives the same run with every standard library.

#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace fmnist {

class Rng {
 public:
  explicit Rng(std::uint32_t seed) : engine_(seed) {}

  /// Uniform in [0, 1), from the top 24 bits (a float's full precision).
  float uniform() { return static_cast<float>(engine_() >> 8) * 0x1.0p-24f; }

  /// Standard normal, by the Box-Muller transform.
  float normal() {
    const double u1 = 1.0 - static_cast<double>(engine_()) * 0x1.0p-32;  // (0, 1]: log is finite
    const double u2 = static_cast<double>(engine_()) * 0x1.0p-32;
    const double pi = 3.14159265358979323846;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * pi * u2));
  }

  /// Uniform integer in [0, n), by multiply-and-shift. Its bias is below
  /// n / 2^32, far too small to matter for the sizes used here.
  std::size_t below(std::size_t n) {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(engine_()) * n) >> 32);
  }

  /// Fisher-Yates shuffle.
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::mt19937 engine_;
};

}  // namespace fmnist
