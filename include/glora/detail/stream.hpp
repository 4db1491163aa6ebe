#pragma once
// stream_product_add: Z += W · S for a W with far more columns than S, reading W once.
//
// Eigen's GEMM packs W before using it and its GEMV takes one column of S at a
// time; either way W (the large, frozen weight) crosses the memory bus more
// than once. Here each W element is loaded once and multiplied into all K
// columns of S while the K accumulators of a few rows stay in registers.

#include <glora/support.hpp>

#include <Eigen/Core>

#include <algorithm>

namespace glora::detail {

/// The widest S the streaming kernel takes; wider ones go to GEMM.
inline constexpr Eigen::Index max_stream_cols = 8;

/// Rows [row, row + L · size of Packet) of Z(:, 0..K) += W(:, j0..j1) · S(j0..j1, 0..K).
/// Packet may be a plain scalar (Eigen's packet functions accept one) for the last rows.
template <typename Packet, int P, int K, int L, typename T>
inline void stream_rows(const T* w, Eigen::Index ldw, Eigen::Index j0, Eigen::Index j1, const T* s,
                        Eigen::Index lds, T* z, Eigen::Index ldz) {
  using namespace Eigen::internal;
  Packet acc[K][L];
  for (int k = 0; k < K; ++k) {
    for (int l = 0; l < L; ++l) acc[k][l] = ploadu<Packet>(z + k * ldz + l * P);
  }
  for (Eigen::Index j = j0; j < j1; ++j) {
    Packet wj[L];
    for (int l = 0; l < L; ++l) wj[l] = ploadu<Packet>(w + j * ldw + l * P);
    for (int k = 0; k < K; ++k) {
      const Packet sjk = pset1<Packet>(s[j + k * lds]);
      for (int l = 0; l < L; ++l) acc[k][l] = pmadd(wj[l], sjk, acc[k][l]);
    }
  }
  for (int k = 0; k < K; ++k) {
    for (int l = 0; l < L; ++l) pstoreu(z + k * ldz + l * P, acc[k][l]);
  }
}

/// Z += W · S with S of exactly K columns. Columns of W are taken in blocks so
/// that the block's rows of W stream through cache in order (few pages and
/// streams at a time) while each row chunk walks across the block.
template <int K, typename T>
void stream_product_add_k(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols,
                          const T* s, Eigen::Index lds, T* z, Eigen::Index ldz) {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  constexpr int P = Eigen::internal::packet_traits<T>::size;
  // Rows per chunk: as many packets as leave the K x L accumulators, one
  // packet of W and one broadcast of S in 16 vector registers.
  constexpr int L = K <= 1 ? 8 : K <= 2 ? 6 : K <= 3 ? 4 : K <= 4 ? 3 : K <= 6 ? 2 : 1;
  // Columns per sweep: enough to amortise loading and storing the
  // accumulators, few enough that the hardware prefetcher follows every
  // column's stream (measured: 8 to 16 beat 4 and 32+).
  constexpr Eigen::Index col_block = 16;
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
