#pragma once
// stream_row_major_add: Z += W · S for a row-major W (PyTorch's [out, in]
// layout, as safetensors files hold it) with far more columns than S, reading
// W once: the counterpart of stream.hpp's kernel for a W viewed in place.
//
// A row of W is contiguous, and so is a column of S: Z(i, k) is a dot product
// along both. The kernel walks R rows of W side by side from one end to the
// other, a packet at a time; each packet of W is loaded once and multiplied
// into the packets of all K columns of S at the same columns, into R x K
// packet accumulators that are summed across their lanes into Z once the rows
// are done. Choices, measured on an AVX-512 host (Intel Xeon, 48 KB 12-way L1,
// 2 MB L2) against stream.hpp's kernel on a column-major copy of W:
// - The R rows come from R bands of W (rows i, i + band, ...), not R
//   neighbours: each band is then one long sequential stream through memory,
//   R streams far apart, which the hardware prefetchers serve as they serve
//   the column-major kernel's columns. R neighbouring rows are R short runs a
//   few kilobytes apart: at 16384 x 768 and K = 8 they ran 1.4-1.6x slower
//   than the column-major kernel, the bands 0.97-1.07x.
// - R is as large as the registers allow (the K x R accumulators, and the
//   smaller of R packets of W and K of S), larger still for S that does not
//   fit in L1: every packet of S is then loaded from L2 once per block, and
//   a block of 5 rows shares it among 5 multiply-adds instead of 3. The
//   accumulators that do not fit in registers spill to L1, which costs less
//   than the loads from L2 saved (at 4096 x 4096, K = 8: 3 rows 1.10-1.20x
//   the column-major kernel, 5 rows 0.92-1.0x) but more than it saves where S
//   is in L1 (at 768 x 768: 5 rows 1.0x, 3 rows 0.67-0.78x).
// - Whole rows, no column blocks: blocks short enough to keep S's slice in L1
//   were slower (each block ends in R x K sums across lanes, or the
//   accumulators parked in memory, and each row is read in short runs).
// - Strides that are multiples of 4 KB put every row's packet at the same
//   column into one L1 set, as in the column-major kernel; with 12 ways the
//   R rows and K columns of S fit, and W padded to 4112 floats a row ran as
//   fast as at 4096.

#include <glora/detail/unroll.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace glora::detail {

/// acc[r][k] += W(r, j..j + P) ⊙ S(j..j + P, k) for r < R, k < K, P the size
/// of Packet; Packet may be a plain scalar (Eigen's packet functions accept
/// one) for the end of a row. The smaller of the R packets of W and the K of S
/// is loaded first and held, the other loaded as it is used: where the R x K
/// accumulators do not leave room for both, this spills fewer of them.
template <typename Packet, std::size_t R, std::size_t K, typename T>
EIGEN_ALWAYS_INLINE void row_major_step(Packet (&acc)[R][K], const T* w, Eigen::Index ldw,
                                        const T* s, Eigen::Index lds, Eigen::Index j) {
  using namespace Eigen::internal;
  if constexpr (R <= K) {
    Packet wr[R];
    unroll<int(R)>([&](auto r) { wr[r] = ploadu<Packet>(w + r * ldw + j); });
    unroll<int(K)>([&](auto k) {
      const Packet sk = ploadu<Packet>(s + k * lds + j);
      unroll<int(R)>([&](auto r) { acc[r][k] = pmadd(wr[r], sk, acc[r][k]); });
    });
  } else {
    Packet sk[K];
    unroll<int(K)>([&](auto k) { sk[k] = ploadu<Packet>(s + k * lds + j); });
    unroll<int(R)>([&](auto r) {
      const Packet wr = ploadu<Packet>(w + r * ldw + j);
      unroll<int(K)>([&](auto k) { acc[r][k] = pmadd(wr, sk[k], acc[r][k]); });
    });
  }
}

/// Z(r, k) += W(r, :) · S(:, k) for R rows of W, row r at w + r step and
/// r's row of Z at z + r z_step.
template <int R, int K, typename T>
EIGEN_ALWAYS_INLINE void row_major_rows(const T* w, Eigen::Index step, Eigen::Index cols,
                                        const T* s, Eigen::Index lds, T* z, Eigen::Index z_step,
                                        Eigen::Index ldz) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<T>::type;
  constexpr Eigen::Index P = packet_traits<T>::size;
  constexpr auto Rs = static_cast<std::size_t>(R);
  constexpr auto Ks = static_cast<std::size_t>(K);
  Packet acc[Rs][Ks];
  T tail[Rs][Ks];
  unroll<R>([&](auto r) {
    unroll<K>([&](auto k) {
      acc[r][k] = pset1<Packet>(T(0));
      tail[r][k] = T(0);
    });
  });
  Eigen::Index j = 0;
  for (; j + P <= cols; j += P) row_major_step(acc, w, step, s, lds, j);
  for (; j < cols; ++j) row_major_step(tail, w, step, s, lds, j);
  unroll<R>([&](auto r) {
    unroll<K>([&](auto k) { z[r * z_step + k * ldz] += predux(acc[r][k]) + tail[r][k]; });
  });
}

/// Z += W · S in R bands: block i takes row i of every band (rows i,
/// i + band, ..., i + (R - 1) band), the rows that do not fill a band one at a
/// time.
template <int R, int K, typename T>
void row_major_bands(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols, const T* s,
                     Eigen::Index lds, T* z, Eigen::Index ldz) {
  const Eigen::Index band = rows / R;
  for (Eigen::Index i = 0; i < band; ++i) {
    row_major_rows<R, K>(w + i * ldw, band * ldw, cols, s, lds, z + i, band, ldz);
  }
  for (Eigen::Index i = R * band; i < rows; ++i) {
    row_major_rows<1, K>(w + i * ldw, ldw, cols, s, lds, z + i, 1, ldz);
  }
}

/// Rows per block for S of K columns, by whether S stays in L1 (see the top
/// of this file). 16 vector registers (SSE, AVX) or 32 (AVX-512).
template <int K>
constexpr int row_major_rows_per_block(bool s_in_l1) {
  if constexpr (EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32) {
    return K <= 1 ? 8 : K <= 4 ? 6 : K <= 6 ? 5 : s_in_l1 ? 3 : 5;
  } else {
    return K <= 1 ? 8 : K <= 2 ? 6 : K <= 3 ? 4 : K <= 6 ? 3 : s_in_l1 ? 2 : 3;
  }
}

/// Whether S (cols x K) fits in L1 with room to spare for the rows of W
/// passing through.
template <typename T>
bool row_major_s_in_l1(Eigen::Index cols, int K) {
  return cols * K * Eigen::Index(sizeof(T)) <= 32 * 1024;
}

/// Z += W · S with S of exactly K columns. W is rows x cols, row-major (row i
/// at w + i ldw); S is cols x K and Z rows x K, both column-major (column k at
/// s + k lds, z + k ldz). Needs ldw >= cols, lds >= cols, ldz >= rows.
template <int K, typename T>
void stream_row_major_add_k(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols,
                            const T* s, Eigen::Index lds, T* z, Eigen::Index ldz) {
  constexpr int in_l1 = row_major_rows_per_block<K>(true);
  constexpr int from_l2 = row_major_rows_per_block<K>(false);
  if constexpr (in_l1 != from_l2) {
    if (row_major_s_in_l1<T>(cols, K)) {
      return row_major_bands<in_l1, K>(w, ldw, rows, cols, s, lds, z, ldz);
    }
  }
  row_major_bands<from_l2, K>(w, ldw, rows, cols, s, lds, z, ldz);
}

/// Throws std::invalid_argument unless the arguments of stream_row_major_add
/// describe matrices it can read.
inline void check_stream_row_major(Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols,
                                   Eigen::Index lds, Eigen::Index K, Eigen::Index ldz) {
  const auto fail = [](const std::string& what) {
    throw std::invalid_argument("stream_row_major_add: " + what);
  };
  const auto str = [](Eigen::Index v) { return std::to_string(v); };
  if (rows < 0 || cols < 0) fail("W is " + str(rows) + " x " + str(cols) + ", a negative size");
  if (K < 0 || K > 8) fail("S has " + str(K) + " columns, expected 0 to 8");
  if (ldw < cols)
    fail("W's row stride is " + str(ldw) + ", less than its " + str(cols) + " columns");
  if (lds < cols)
    fail("S's column stride is " + str(lds) + ", less than its " + str(cols) + " rows");
  if (ldz < rows)
    fail("Z's column stride is " + str(ldz) + ", less than its " + str(rows) + " rows");
}

/// Z += W · S for S of K <= 8 columns, the layout of stream_row_major_add_k.
/// Checks its arguments (check_stream_row_major) before it reads or writes.
template <typename T>
void stream_row_major_add(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols,
                          const T* s, Eigen::Index lds, Eigen::Index K, T* z, Eigen::Index ldz) {
  check_stream_row_major(ldw, rows, cols, lds, K, ldz);
  const auto run = [&](auto k) {
    stream_row_major_add_k<decltype(k)::value>(w, ldw, rows, cols, s, lds, z, ldz);
  };
  switch (K) {
    case 1: return run(std::integral_constant<int, 1>());
    case 2: return run(std::integral_constant<int, 2>());
    case 3: return run(std::integral_constant<int, 3>());
    case 4: return run(std::integral_constant<int, 4>());
    case 5: return run(std::integral_constant<int, 5>());
    case 6: return run(std::integral_constant<int, 6>());
    case 7: return run(std::integral_constant<int, 7>());
    case 8: return run(std::integral_constant<int, 8>());
    default: return;  // K == 0: nothing to add
  }
}

}  // namespace glora::detail
