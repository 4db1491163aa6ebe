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
// - The R rows come from R bands of W (rows i, i + band, ..., block after
//   block), not R neighbours: each band is then one long sequential stream
//   through memory, R streams far apart, as the column-major kernel reads its
//   columns. R neighbouring rows are short runs a few kilobytes apart, which
//   the prefetchers serve worse: at 16384 x 768 (short rows, W from memory)
//   neighbours took 1.2-1.5x the column-major kernel's time, bands 0.92-1.09x.
// - R is as large as the registers allow (the R x K accumulators and the
//   smaller of R packets of W and K of S), larger still for an S that does not
//   fit in L1: every packet of S then comes from L2 once per block, and 5 rows
//   share it where 3 would leave room in the registers. The accumulators that
//   do not fit spill to L1, which costs less than the L2 loads it saves (4096 x
//   4096, K = 8: 3 rows 1.10-1.20x the column-major kernel, 5 rows 0.92-1.04x)
//   but more than it saves where S is in L1 (768 x 768, K = 8: 5 rows 1.0x, 3
//   rows 0.67-0.79x).
// - Whole rows, no column blocks: blocks short enough to keep S's slice in L1
//   (with the accumulators summed, or parked in memory, at each block's end)
//   ran slower than whole rows, by up to 20%: more work per block end, and
//   each row read in short runs.
// - Strides that are multiples of 4 KB put the same column of every row into
//   one L1 set; the R rows and K columns of S fit in its 12 ways: at 4096 x
//   4096, K = 8, rows 4096 floats apart took 5.2 ms, 4112 apart 5.1 ms (the
//   column-major kernel, which has its own rule for such strides, 5.4 and 6.4).

#include <glora/detail/unroll.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace glora::detail {

/// The widest S stream_row_major_add takes.
inline constexpr Eigen::Index max_stream_row_major_cols = 8;

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
/// of this file), for 32 vector registers (AVX-512) or 16 (SSE, AVX; measured
/// with AVX2 on the same host, and there 3 rows beat 1 or 2 by 10-45% at 4096
/// x 4096 from K = 5 up, spilled accumulators and all).
template <int K>
constexpr int row_major_rows_per_block(bool s_in_l1) {
  if constexpr (EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32) {
    return K <= 1 ? 8 : K <= 4 ? 6 : K <= 6 ? 5 : s_in_l1 ? 3 : 5;
  } else {
    return K <= 1 ? 8 : K <= 2 ? 6 : K <= 3 ? 4 : K <= 6 ? 3 : s_in_l1 ? 2 : 3;
  }
}

/// Whether S, of this many bytes, fits in L1 with room to spare for the rows
/// of W passing through.
inline bool row_major_s_in_l1(Eigen::Index bytes) { return bytes <= 32 * 1024; }

/// Z += W · S with S of exactly K columns. W is rows x cols, row-major (row i
/// at w + i ldw); S is cols x K and Z rows x K, both column-major (column k at
/// s + k lds, z + k ldz). Needs ldw >= cols, lds >= cols, ldz >= rows.
template <int K, typename T>
void stream_row_major_add_k(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols,
                            const T* s, Eigen::Index lds, T* z, Eigen::Index ldz) {
  constexpr int in_l1 = row_major_rows_per_block<K>(true);
  constexpr int from_l2 = row_major_rows_per_block<K>(false);
  if constexpr (in_l1 != from_l2) {
    if (row_major_s_in_l1(cols * K * Eigen::Index(sizeof(T)))) {
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
  if (K < 0 || K > max_stream_row_major_cols) {
    fail("S has " + str(K) + " columns, expected 0 to " + str(max_stream_row_major_cols));
  }
  if (ldw < cols)
    fail("W's row stride is " + str(ldw) + ", less than its " + str(cols) + " columns");
  if (lds < cols)
    fail("S's column stride is " + str(lds) + ", less than its " + str(cols) + " rows");
  if (ldz < rows)
    fail("Z's column stride is " + str(ldz) + ", less than its " + str(rows) + " rows");
}

/// Z += W · S for S of K <= max_stream_row_major_cols columns, the layout of
/// stream_row_major_add_k. Checks its arguments (check_stream_row_major)
/// before it reads or writes.
template <typename T>
void stream_row_major_add(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols,
                          const T* s, Eigen::Index lds, Eigen::Index K, T* z, Eigen::Index ldz) {
  check_stream_row_major(ldw, rows, cols, lds, K, ldz);
  unroll<int(max_stream_row_major_cols)>([&](auto k) {
    constexpr int width = decltype(k)::value + 1;
    if (K == width) stream_row_major_add_k<width>(w, ldw, rows, cols, s, lds, z, ldz);
  });
}

}  // namespace glora::detail
