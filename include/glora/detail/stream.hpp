#pragma once
// stream_product_add: Z += W · S for a W with far more columns than S, reading W once.
//
// Eigen's GEMM packs W before using it and its GEMV takes one column of S at a
// time; either way W (the large, frozen weight) crosses the memory bus more
// than once. Here each W element is loaded once and multiplied into all K
// columns of S. Two loop orders, chosen by measurement on Zen 3:
// - register sweeps: a few rows of Z stay in registers while they walk across
//   a block of W's columns; used for one column of S, for three or more, and
//   for any number when W's column stride is a multiple of 4 KB (see
//   stream_col_block);
// - column sweeps: a few columns of W at a time run down the rows, adding into
//   Z in L1; they read W as a handful of long contiguous runs, which is
//   faster for two columns of S on other strides.

#include <glora/detail/unroll.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <type_traits>

namespace glora::detail {

/// The widest S the streaming kernel takes; wider ones go to GEMM.
inline constexpr Eigen::Index max_stream_cols = 8;

/// Rows [row, row + L · P) of Z(:, 0..K) += W(:, j0..j1) · S(j0..j1, 0..K), P
/// the size of Packet. Packet may be a plain scalar (Eigen's packet functions
/// accept one) for the last rows.
template <typename Packet, int P, int K, int L, typename T>
EIGEN_ALWAYS_INLINE void stream_rows(const T* w, Eigen::Index ldw, Eigen::Index j0, Eigen::Index j1,
                                     const T* s, Eigen::Index lds, T* z, Eigen::Index ldz) {
  using namespace Eigen::internal;
  Packet acc[std::size_t(K)][std::size_t(L)];
  unroll<K>(
      [&](auto k) { unroll<L>([&](auto l) { acc[k][l] = ploadu<Packet>(z + k * ldz + l * P); }); });
  for (Eigen::Index j = j0; j < j1; ++j) {
    Packet wj[std::size_t(L)];
    unroll<L>([&](auto l) { wj[l] = ploadu<Packet>(w + j * ldw + l * P); });
    unroll<K>([&](auto k) {
      const Packet sjk = pset1<Packet>(s[j + k * lds]);
      unroll<L>([&](auto l) { acc[k][l] = pmadd(wj[l], sjk, acc[k][l]); });
    });
  }
  unroll<K>([&](auto k) { unroll<L>([&](auto l) { pstoreu(z + k * ldz + l * P, acc[k][l]); }); });
}

/// Whether W's column stride is a multiple of 4 KB: then the same rows of
/// every column fall into one set of an 8-way L1 cache.
template <typename T>
bool aliasing_stride(Eigen::Index ldw) {
  return (ldw * Eigen::Index(sizeof(T))) % 4096 == 0;
}

/// Columns of W per register sweep. Each row chunk reads one short run from
/// every column of the sweep, so on an aliasing stride the sweep is kept
/// short; otherwise a longer sweep amortises loading and storing the
/// accumulators (measured: 6 for aliasing strides, 8 for one column of S, 16
/// for more).
template <int K, typename T>
Eigen::Index stream_col_block(Eigen::Index ldw) {
  return aliasing_stride<T>(ldw) ? 6 : K == 1 ? 8 : 16;
}

/// Z += W · S by register sweeps, S of exactly K columns.
template <int K, typename T>
void register_sweeps(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols, const T* s,
                     Eigen::Index lds, T* z, Eigen::Index ldz) {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  constexpr int P = Eigen::internal::packet_traits<T>::size;
  // Rows per chunk: as many packets as leave the K x L accumulators, the L
  // packets of W and one broadcast of S in 16 vector registers.
  constexpr int L = K <= 1 ? 8 : K <= 2 ? 6 : K <= 3 ? 4 : K <= 4 ? 3 : K <= 6 ? 2 : 1;
  const Eigen::Index col_block = stream_col_block<K, T>(ldw);
  for (Eigen::Index j0 = 0; j0 < cols; j0 += col_block) {
    const Eigen::Index j1 = std::min(cols, j0 + col_block);
    Eigen::Index i = 0;
    for (; i + L * P <= rows; i += L * P) {
      stream_rows<Packet, P, K, L>(w + i, ldw, j0, j1, s, lds, z + i, ldz);
    }
    for (; i + P <= rows; i += P)
      stream_rows<Packet, P, K, 1>(w + i, ldw, j0, j1, s, lds, z + i, ldz);
    for (; i < rows; ++i) stream_rows<T, 1, K, 1>(w + i, ldw, j0, j1, s, lds, z + i, ldz);
  }
}

/// Rows [i0, i1) of Z(:, 0..K) += W(:, j..j + J) · S(j..j + J, 0..K): the J
/// columns of W run down the rows with the J x K values of S in registers.
template <int K, int J, typename T>
EIGEN_ALWAYS_INLINE void column_sweep(const T* w, Eigen::Index ldw, Eigen::Index i0,
                                      Eigen::Index i1, Eigen::Index j, const T* s, Eigen::Index lds,
                                      T* z, Eigen::Index ldz) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<T>::type;
  constexpr int P = packet_traits<T>::size;
  Packet sv[std::size_t(J)][std::size_t(K)];
  unroll<J>(
      [&](auto c) { unroll<K>([&](auto k) { sv[c][k] = pset1<Packet>(s[j + c + k * lds]); }); });
  Eigen::Index i = i0;
  for (; i + P <= i1; i += P) {
    Packet wv[std::size_t(J)];
    unroll<J>([&](auto c) { wv[c] = ploadu<Packet>(w + (j + c) * ldw + i); });
    unroll<K>([&](auto k) {
      Packet acc = ploadu<Packet>(z + k * ldz + i);
      unroll<J>([&](auto c) { acc = pmadd(wv[c], sv[c][k], acc); });
      pstoreu(z + k * ldz + i, acc);
    });
  }
  for (; i < i1; ++i) {
    unroll<K>([&](auto k) {
      unroll<J>([&](auto c) { z[k * ldz + i] += w[(j + c) * ldw + i] * s[j + c + k * lds]; });
    });
  }
}

/// Z += W · S by column sweeps, S of exactly K columns (used for two). Rows go
/// in blocks whose slice of Z stays in L1.
template <int K, typename T>
void column_sweeps(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols, const T* s,
                   Eigen::Index lds, T* z, Eigen::Index ldz) {
  constexpr int J = 6;  // columns of W per sweep: 6 x K broadcasts stay in registers
  constexpr Eigen::Index row_block = 2048;
  for (Eigen::Index i0 = 0; i0 < rows; i0 += row_block) {
    const Eigen::Index i1 = std::min(rows, i0 + row_block);
    Eigen::Index j = 0;
    for (; j + J <= cols; j += J) column_sweep<K, J>(w, ldw, i0, i1, j, s, lds, z, ldz);
    for (; j < cols; ++j) column_sweep<K, 1>(w, ldw, i0, i1, j, s, lds, z, ldz);
  }
}

/// Z += W · S with S of exactly K columns.
template <int K, typename T>
void stream_product_add_k(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols,
                          const T* s, Eigen::Index lds, T* z, Eigen::Index ldz) {
  if constexpr (K == 2) {
    if (!aliasing_stride<T>(ldw)) return column_sweeps<K>(w, ldw, rows, cols, s, lds, z, ldz);
  }
  register_sweeps<K>(w, ldw, rows, cols, s, lds, z, ldz);
}

/// Z += W · S for S with at most max_stream_cols columns.
template <typename T>
void stream_product_add(const Eigen::Ref<const MatrixX<T>>& W,
                        const Eigen::Ref<const MatrixX<T>>& S, Eigen::Ref<MatrixX<T>> Z) {
  const auto run = [&](auto k) {
    stream_product_add_k<decltype(k)::value>(W.data(), W.outerStride(), W.rows(), W.cols(),
                                             S.data(), S.outerStride(), Z.data(), Z.outerStride());
  };
  switch (S.cols()) {
    case 0: return;
    case 1: return run(std::integral_constant<int, 1>());
    case 2: return run(std::integral_constant<int, 2>());
    case 3: return run(std::integral_constant<int, 3>());
    case 4: return run(std::integral_constant<int, 4>());
    case 5: return run(std::integral_constant<int, 5>());
    case 6: return run(std::integral_constant<int, 6>());
    case 7: return run(std::integral_constant<int, 7>());
    case 8: return run(std::integral_constant<int, 8>());
    default: eigen_assert(false && "stream_product_add: S has too many columns");
  }
}

}  // namespace glora::detail
