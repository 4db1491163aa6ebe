#pragma once
// tile_row_major_add: Zᵀ += (W · S)ᵀ for a row-major tile W in cache and an S
// of a few packets of columns, given transposed: the tiled forward's product
// over a row-major W0, with no sums across the lanes of a packet.
//
// stream_row_major.hpp's kernel walks a row of W a packet at a time and so
// ends each row with one horizontal sum per column of S. From memory that is
// hidden behind the loads; on a tile in cache it is not (4096 x 11008, batch
// 16: on the formed tiles, that kernel took 1.27 times the samples of the
// column-major one). Here a packet holds P columns of S instead: row j of S
// (contiguous, S being given as Sᵀ) is one packet per P columns, each entry
// W(i, j) is broadcast and multiplied into it, and the accumulators are rows
// of Z (contiguous in Zᵀ), added to it once per pass over W's row. That is
// the column-major kernel with the roles of W and S exchanged, and it runs
// through that kernel's own loop (stream.hpp's stream_rows): per entry of W,
// one multiply-add per packet of columns, and no sums across lanes. The
// caller transposes S and Z, once per block of the batch and once per tile of
// the output: a sliver of the work at the widths it takes.

#include <glora/detail/stream.hpp>
#include <glora/detail/unroll.hpp>

#include <Eigen/Core>

#include <algorithm>

namespace glora::detail {

/// Rows of W per pass for KP packets of columns: as many as leave room in the
/// registers for the accumulators, KP packets of S and a broadcast, up to 8.
/// More rows read each row of S fewer times, but at 4096 x 11008, batch 16
/// (one packet), 12 and 16 rows took 1.13 and 1.05 times as long as 8, and 4
/// rows 1.28 times.
template <int KP>
constexpr int broadcast_rows_per_pass() {
  constexpr int rows = (EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS - 2 - KP) / KP;
  return rows > 8 ? 8 : rows < 1 ? 1 : rows;
}

/// Rows [0, rows) of W in passes of R rows, the rest in passes of R / 2, R / 4, ...
template <int R, int KP, typename T>
void broadcast_row_passes(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols,
                          const T* st, Eigen::Index ldst, T* zt, Eigen::Index ldzt) {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  constexpr Eigen::Index P = Eigen::internal::packet_traits<T>::size;
  Eigen::Index i = 0;
  for (; i + R <= rows; i += R) {
    // stream.hpp's kernel with the roles exchanged: Sᵀ streams by packets,
    // the R rows of W are broadcast.
    stream_rows<Packet, int(P), R, KP>(st, ldst, 0, cols, w + i * ldw, ldw, zt + i * ldzt, ldzt);
  }
  if constexpr (R > 1) {
    if (i < rows) {
      broadcast_row_passes<R / 2, KP>(w + i * ldw, ldw, rows - i, cols, st, ldst, zt + i * ldzt,
                                      ldzt);
    }
  }
}

/// Packets of columns per pass over W.
inline constexpr Eigen::Index tile_row_major_packets = 4;

/// Zᵀ += (W · S)ᵀ for a row-major W (rows x cols, row i at w + i ldw) and S
/// of `packets` packets of columns, given as Sᵀ (row j of S at st + j ldst), into
/// Zᵀ (row i of Z at zt + i ldzt).
template <typename T>
void tile_row_major_add(const T* w, Eigen::Index ldw, Eigen::Index rows, Eigen::Index cols,
                        const T* st, Eigen::Index ldst, Eigen::Index packets, T* zt,
                        Eigen::Index ldzt) {
  constexpr Eigen::Index P = Eigen::internal::packet_traits<T>::size;
  if (rows == 0 || cols == 0) return;  // nothing to add, and S or Z may have no storage
  for (Eigen::Index q = 0; q < packets; q += tile_row_major_packets) {
    const Eigen::Index KP = std::min(tile_row_major_packets, packets - q);
    unroll<int(tile_row_major_packets)>([&](auto k) {
      constexpr int width = decltype(k)::value + 1;
      if (KP == width) {
        broadcast_row_passes<broadcast_rows_per_pass<width>(), width>(
            w, ldw, rows, cols, st + q * P, ldst, zt + q * P, ldzt);
      }
    });
  }
}

}  // namespace glora::detail
