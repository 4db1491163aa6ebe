#pragma once
// Converting a tensor's raw bytes (little-endian, row-major) into float or
// double storage (column-major, as Eigen keeps matrices, or in storage order),
// float or double values back into a dtype's bytes, and the check that every
// value is finite.

#include <glora/io/dtype.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

namespace glora::io::detail {

/// dst(i, j) = src[i][j] for a row-major rows x cols source of dtype `From`
/// and a column-major destination. Square tiles keep both sides in cache.
template <typename From, typename T, typename Convert>
void transpose_copy(const unsigned char* src, std::size_t rows, std::size_t cols, T* dst,
                    Convert convert) {
  constexpr std::size_t tile = 64;
  for (std::size_t i0 = 0; i0 < rows; i0 += tile) {
    const std::size_t i1 = std::min(rows, i0 + tile);
    for (std::size_t j0 = 0; j0 < cols; j0 += tile) {
      const std::size_t j1 = std::min(cols, j0 + tile);
      for (std::size_t j = j0; j < j1; ++j) {
        for (std::size_t i = i0; i < i1; ++i) {
          From v;
          std::memcpy(&v, src + (i * cols + j) * sizeof(From), sizeof(From));
          dst[j * rows + i] = convert(v);
        }
      }
    }
  }
}

#if defined(__SSE2__)
/// The F32 -> float case, which loading an adapter file spends its time in:
/// 4 x 4 blocks transposed in registers inside 64 x 64 tiles, at about the
/// speed of a copy. Returns whether every value is finite, found on the way
/// (an all-ones exponent carries into the sign bit when its lowest bit is added).
inline bool transpose_copy_f32(const unsigned char* src, std::size_t rows, std::size_t cols,
                               float* dst) {
  constexpr std::size_t tile = 64;
  const __m128i exponent = _mm_set1_epi32(0x7f800000), carry = _mm_set1_epi32(0x00800000);
  __m128i any = _mm_setzero_si128();
  const auto flag = [&](__m128 r) {
    any = _mm_or_si128(any, _mm_add_epi32(_mm_and_si128(_mm_castps_si128(r), exponent), carry));
  };
  std::uint32_t edges = 0;
  const auto row = [src, cols](std::size_t i, std::size_t j) {
    return reinterpret_cast<const float*>(src + (i * cols + j) * sizeof(float));
  };
  for (std::size_t i0 = 0; i0 < rows; i0 += tile) {
    const std::size_t i1 = std::min(rows, i0 + tile);
    const std::size_t i4 = i0 + (i1 - i0) / 4 * 4;
    for (std::size_t j0 = 0; j0 < cols; j0 += tile) {
      const std::size_t j1 = std::min(cols, j0 + tile);
      const std::size_t j4 = j0 + (j1 - j0) / 4 * 4;
      for (std::size_t i = i0; i < i4; i += 4) {
        for (std::size_t j = j0; j < j4; j += 4) {
          __m128 r0 = _mm_loadu_ps(row(i, j)), r1 = _mm_loadu_ps(row(i + 1, j));
          __m128 r2 = _mm_loadu_ps(row(i + 2, j)), r3 = _mm_loadu_ps(row(i + 3, j));
          flag(r0);
          flag(r1);
          flag(r2);
          flag(r3);
          _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
          _mm_storeu_ps(dst + j * rows + i, r0);
          _mm_storeu_ps(dst + (j + 1) * rows + i, r1);
          _mm_storeu_ps(dst + (j + 2) * rows + i, r2);
          _mm_storeu_ps(dst + (j + 3) * rows + i, r3);
        }
      }
      for (std::size_t i = i0; i < i1; ++i) {  // the edges the 4 x 4 blocks leave
        for (std::size_t j = (i < i4 ? j4 : j0); j < j1; ++j) {
          std::uint32_t bits;
          std::memcpy(&bits, row(i, j), sizeof bits);
          edges |= (bits & 0x7f800000u) + 0x00800000u;
          std::memcpy(dst + j * rows + i, &bits, sizeof bits);
        }
      }
    }
  }
  return _mm_movemask_ps(_mm_castsi128_ps(any)) == 0 && (edges >> 31) == 0;
}
#endif

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

/// Returns true when the copy has already found every value finite (false: not checked).
template <typename From, typename T, typename Convert>
bool convert_as(const unsigned char* src, std::size_t rows, std::size_t cols, T* dst,
                Convert convert) {
  if (rows == 1 || cols == 1) {
    straight_copy<From>(src, rows * cols, dst, convert);  // a vector reads the same either way
    return false;
  }
#if defined(__SSE2__)
  if constexpr (std::is_same_v<From, float> && std::is_same_v<T, float>) {
    return transpose_copy_f32(src, rows, cols, dst);
  }
#endif
  transpose_copy<From>(src, rows, cols, dst, convert);
  return false;
}

/// Calls f(From{}, convert) with the storage type of `dtype` (F16, BF16, F32 or
/// F64) and the exact conversion of one stored value to T.
template <typename T, typename F>
decltype(auto) with_decoder(DType dtype, F&& f) {
  switch (dtype) {
    case DType::F32: return f(float{}, [](float v) { return static_cast<T>(v); });
    case DType::F64: return f(double{}, [](double v) { return static_cast<T>(v); });
    case DType::F16:
      return f(std::uint16_t{}, [](std::uint16_t h) { return static_cast<T>(half_to_float(h)); });
    default:
      return f(std::uint16_t{}, [](std::uint16_t b) { return static_cast<T>(bf16_to_float(b)); });
  }
}

/// Writes the row-major rows x cols tensor at `src` (dtype F16, BF16, F32 or
/// F64) into the column-major storage `dst` (rows x cols, leading dimension rows).
/// Returns true when every value was found finite on the way; false means
/// not checked (see first_non_finite).
template <typename T>
bool convert_to_column_major(const unsigned char* src, DType dtype, std::size_t rows,
                             std::size_t cols, T* dst) {
  return with_decoder<T>(dtype, [&](auto from, auto convert) {
    return convert_as<decltype(from)>(src, rows, cols, dst, convert);
  });
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

namespace glora::io {

/// dst[k] = the k-th of n values stored at `src` in `dtype` (F16, BF16, F32
/// or F64), in storage order: part of a tensor, as it lies in the file.
template <typename T>
void decode_values(const unsigned char* src, DType dtype, std::size_t n, T* dst) {
  detail::with_decoder<T>(dtype, [&](auto from, auto convert) {
    detail::straight_copy<decltype(from)>(src, n, dst, convert);
  });
}

/// Stores n values in `dtype` (F16, BF16, F32 or F64; F16 and BF16 rounded
/// to nearest even) at `dst`, little-endian: n times the dtype's size bytes.
template <typename T>
void encode_values(const T* values, std::size_t n, DType dtype, unsigned char* dst) {
  // One loop per dtype, so that each is a plain loop the compiler can vectorise.
  const auto store = [&](auto convert) {
    using To = decltype(convert(values[0]));
    if constexpr (std::is_same_v<To, T>) {
      if (n > 0) std::memcpy(dst, values, n * sizeof(T));
    } else {
      for (std::size_t k = 0; k < n; ++k) {
        const To v = convert(values[k]);
        std::memcpy(dst + k * sizeof(To), &v, sizeof(To));
      }
    }
  };
  switch (dtype) {
    case DType::F32: store([](T v) { return static_cast<float>(v); }); break;
    case DType::F64: store([](T v) { return static_cast<double>(v); }); break;
    case DType::F16: store([](T v) { return float_to_half(static_cast<float>(v)); }); break;
    default: store([](T v) { return float_to_bf16(static_cast<float>(v)); }); break;
  }
}

}  // namespace glora::io
