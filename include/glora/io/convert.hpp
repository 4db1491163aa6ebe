#pragma once
// Converting a tensor's raw bytes (little-endian, row-major) into float or
// double storage (column-major, as Eigen keeps matrices), and the check that
// every value is finite.

#include <glora/io/dtype.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace glora::io::detail {

/// dst(i, j) = src[i][j] for a row-major rows x cols source of dtype `From`
/// and a column-major destination. Square tiles keep both sides in cache.
template <typename From, typename T, typename Convert>
void transpose_copy(const unsigned char* src, std::size_t rows, std::size_t cols, T* dst,
                    Convert convert) {
  constexpr std::size_t tile = 16;
  for (std::size_t i0 = 0; i0 < rows; i0 += tile) {
    const std::size_t i1 = std::min(rows, i0 + tile);
    for (std::size_t j0 = 0; j0 < cols; j0 += tile) {
      const std::size_t j1 = std::min(cols, j0 + tile);
      for (std::size_t i = i0; i < i1; ++i) {
        for (std::size_t j = j0; j < j1; ++j) {
          From v;
          std::memcpy(&v, src + (i * cols + j) * sizeof(From), sizeof(From));
          dst[j * rows + i] = convert(v);
        }
      }
    }
  }
}

template <typename From, typename T, typename Convert>
void straight_copy(const unsigned char* src, std::size_t n, T* dst, Convert convert) {
  if constexpr (std::is_same_v<From, T>) {
    std::memcpy(dst, src, n * sizeof(T));
  } else {
    for (std::size_t k = 0; k < n; ++k) {
      From v;
      std::memcpy(&v, src + k * sizeof(From), sizeof(From));
      dst[k] = convert(v);
    }
  }
}

template <typename From, typename T, typename Convert>
void convert_as(const unsigned char* src, std::size_t rows, std::size_t cols, T* dst,
                Convert convert) {
  if (rows == 1 || cols == 1) {
    straight_copy<From>(src, rows * cols, dst, convert);  // a vector reads the same either way
  } else {
    transpose_copy<From>(src, rows, cols, dst, convert);
  }
}

/// Writes the row-major rows x cols tensor at `src` (dtype F16, BF16, F32 or
/// F64) into the column-major storage `dst` (rows x cols, leading dimension rows).
template <typename T>
void convert_to_column_major(const unsigned char* src, DType dtype, std::size_t rows,
                             std::size_t cols, T* dst) {
  const auto cast = [](auto v) { return static_cast<T>(v); };
  switch (dtype) {
    case DType::F32: convert_as<float>(src, rows, cols, dst, cast); break;
    case DType::F64: convert_as<double>(src, rows, cols, dst, cast); break;
    case DType::F16:
      convert_as<std::uint16_t>(src, rows, cols, dst,
                                [](std::uint16_t h) { return static_cast<T>(half_to_float(h)); });
      break;
    default:
      convert_as<std::uint16_t>(src, rows, cols, dst,
                                [](std::uint16_t b) { return static_cast<T>(bf16_to_float(b)); });
      break;
  }
}

/// Index of the first NaN or infinity among n values, or n. Tests the
/// exponent bits, so that the common all-finite case is one vectorisable pass.
template <typename T>
std::size_t first_non_finite(const T* values, std::size_t n) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr Bits exponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000u);
  constexpr Bits carry = exponent & ~(exponent - 1);  // lowest exponent bit
  constexpr std::size_t block = 1024;
  for (std::size_t start = 0; start < n; start += block) {
    const std::size_t stop = std::min(n, start + block);
    Bits any = 0;  // the top bit ends up set iff some exponent is all ones
    for (std::size_t k = start; k < stop; ++k) {
      Bits bits;
      std::memcpy(&bits, values + k, sizeof bits);
      any |= static_cast<Bits>((bits & exponent) + carry);
    }
    if ((any >> (sizeof(Bits) * 8 - 1)) == 0) continue;
    for (std::size_t k = start; k < stop; ++k) {
      if (!std::isfinite(values[k])) return k;
    }
  }
  return n;
}

}  // namespace glora::io::detail
