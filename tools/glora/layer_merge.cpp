#include "layer_merge.hpp"

#include <glora/config.hpp>
#include <glora/detail/bias.hpp>
#include <glora/detail/gemm.hpp>
#include <glora/detail/merge.hpp>
#include <glora/detail/views.hpp>
#include <glora/io/convert.hpp>
#include <glora/io/dtype.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace glora::cli {

namespace {

/// Rows [i0, i0 + h) of a slot whose tensors are indexed by W's row (A's and
/// B's down tensors, D and E as vectors); any other slot as it is.
template <typename T>
detail::SlotView<const T> rows_of(const detail::SlotView<const T>& s, Eigen::Index i0,
                                  Eigen::Index h) {
  if (!s.is(Kind::low_rank) && !s.is(Kind::vector)) return s;
  return {s.kind,
          detail::matrix_map<const T>(s.down.data() + i0, h, s.down.cols(), s.down.outerStride()),
          s.up};
}

/// Merges rows [i0, i0 + h) of a weight stored in `dtype` (one not merged in
/// place: BF16, F16) into `encoded`, in the same dtype, a few values at a time:
/// each line (a row's part in one merge tile) is converted into `line`, merged
/// there and converted back, while the next is fetched, so that reading the
/// base from memory overlaps the merge's multiply-adds instead of preceding
/// them. Every slot but C must be merged_line_by_line, and C none: the tiles
/// then start where merge_weight's do and the values are merge_into's.
template <typename T>
void merge_rows_by_lines(const unsigned char* rows, io::DType dtype, Eigen::Index i0,
                         Eigen::Index h, Eigen::Index in, const detail::AdapterView<const T>& ad,
                         detail::PackedPositions<T> packed, VectorX<T>& line,
                         detail::MergeScratch<T>& scratch, unsigned char* encoded) {
  const auto size = static_cast<Eigen::Index>(io::dtype_size(dtype));
  const Eigen::Index positions = detail::merge_tile_positions;
  const auto fetch = [&](Eigen::Index l, Eigen::Index p0) {
    const unsigned char* first = rows + (l * in + p0) * size;
    const Eigen::Index bytes = std::min(positions, in - p0) * size;
    for (Eigen::Index byte = 0; byte < bytes; byte += 64) Eigen::internal::prefetch(first + byte);
    Eigen::internal::prefetch(first + bytes - 1);
  };
  // Terms merged line by line form no product: these buffers stay empty.
  detail::GemmBuffers<T> no_products;
  // One tile of positions at a time, then its rows: the tile's packed factors stay in cache.
  for (Eigen::Index p0 = 0; p0 < in; p0 += positions) {
    const Eigen::Index w = std::min(positions, in - p0);
    const detail::PackedPositions<T> tile{packed.A ? packed.A + p0 * ad.A.rank() : nullptr,
                                          packed.B ? packed.B + p0 * ad.B.rank() : nullptr};
    for (Eigen::Index l = 0; l < h; ++l) {
      if (l + 1 < h) {
        fetch(l + 1, p0);
      } else if (p0 + w < in) {
        fetch(0, p0 + w);
      }
      const Eigen::Index at = (l * in + p0) * size;
      io::decode_values(rows + at, dtype, static_cast<std::size_t>(w), line.data());
      detail::TileMap<T, Eigen::RowMajor> t(line.data(), 1, w, Eigen::OuterStride<>(w));
      detail::merge_tile<T, Eigen::RowMajor>(ad.A, ad.B, i0 + l, p0, t, t, scratch, no_products,
                                             tile);
      io::encode_values(line.data(), static_cast<std::size_t>(w), dtype, encoded + at);
    }
  }
}

}  // namespace

void release_block(const io::SafetensorsFile& file, const unsigned char* tensor,
                   const unsigned char* first, std::size_t n) {
  constexpr std::size_t behind = std::size_t(2) << 20;
  const std::size_t back = std::min<std::size_t>(behind, static_cast<std::size_t>(first - tensor));
  file.release(first - back, n + back);
}

template <typename T>
void merge_layer(const io::SafetensorsModel& base, const LayerPlan& layer,
                 const DynamicAdapter<T>& adapter, io::SafetensorsWriter& out, Progress& progress,
                 std::size_t block_bytes) {
  const io::SafetensorsFile& shard = base.shards()[layer.weight.shard];
  const io::TensorInfo& w0 = *layer.weight.tensor;
  const unsigned char* const stored = shard.bytes(w0).data;
  const std::size_t in = static_cast<std::size_t>(layer.in);
  const std::size_t stored_size = io::dtype_size(w0.dtype);
  // A weight stored as T is merged straight from the map; any other is converted (see below).
  const bool in_place =
      w0.dtype == io::dtype_of<T>() && reinterpret_cast<std::uintptr_t>(stored) % alignof(T) == 0;

  VectorX<T> b0;
  if (layer.bias) {
    b0.resize(layer.out);
    base.shards()[layer.bias->shard].read_into(*layer.bias->tensor, b0.data(),
                                               io::ReadOptions{true});
  }
  VectorX<T> bias(layer.out);

  // merge_into's kernels, called a block of rows at a time with what every block shares (C's
  // prompt, A's and B's packed position factors) made once per layer. The merge of rows
  // [i0, i0 + h) takes those rows of A's and B's down tensors, D and E, and all of the rest.
  const detail::AdapterView<const T> ad = detail::adapter_view(adapter, adapter.config);
  VectorX<T> c;
  if (ad.C.active()) {
    c.resize(layer.in);
    detail::write_prompt<T>(ad.C, 0, c);
  }
  detail::MergeScratch<T> scratch;
  const detail::PackedPositions<T> packed =
      detail::pack_line_positions<Eigen::RowMajor>(ad.A, ad.B, 0, 0, layer.in, scratch);

  const Eigen::Index rows_per_block = static_cast<Eigen::Index>(
      std::max<std::size_t>(1, block_bytes / std::max<std::size_t>(1, in * sizeof(T))));
  const Eigen::Index block = std::min(rows_per_block, std::max<Eigen::Index>(layer.out, 1));
  // One block of rows: the merge of rows read straight from the map; or, for a weight not
  // merged in place, rows merged a line at a time into its dtype when the adapter allows it,
  // else rows converted to T and then merged where they lie (the merge may write over the W0
  // it reads).
  const bool by_lines = !in_place && detail::merged_line_by_line(ad.A) &&
                        detail::merged_line_by_line(ad.B) && !ad.C.active();
  VectorX<T> merged(by_lines ? 0 : block * layer.in);
  std::vector<unsigned char> encoded(by_lines ? static_cast<std::size_t>(block) * in * stored_size
                                              : 0);
  VectorX<T> line(by_lines ? std::min(detail::merge_tile_positions, layer.in) : 0);

  for (Eigen::Index i0 = 0; i0 < layer.out; i0 += block) {
    const Eigen::Index h = std::min(block, layer.out - i0);
    const std::size_t values = static_cast<std::size_t>(h) * in;
    const unsigned char* const rows = stored + static_cast<std::size_t>(i0) * in * stored_size;
    auto b = bias.segment(i0, h);
    detail::write_bias_without_prompt<T>(b0.segment(layer.bias ? i0 : 0, layer.bias ? h : 0),
                                         rows_of(ad.D, i0, h), rows_of(ad.E, i0, h), b);
    if (by_lines) {
      merge_rows_by_lines(rows, w0.dtype, i0, h, layer.in, ad, packed, line, scratch,
                          encoded.data());
      out.write(encoded.data(), values * stored_size);
    } else {
      const T* W0 = reinterpret_cast<const T*>(rows);
      if (!in_place) {
        io::decode_values(rows, w0.dtype, values, merged.data());
        W0 = merged.data();
      }
      detail::merge_weight<T, Eigen::RowMajor>(
          detail::OrderedMap<T, Eigen::RowMajor>(W0, h, layer.in, Eigen::OuterStride<>(layer.in)),
          rows_of(ad.A, i0, h), rows_of(ad.B, i0, h), c,
          detail::MergeTarget<T>{merged.data(), layer.in, true}, b, packed);
      out.write_values(merged.data(), values);
    }
    release_block(shard, stored, rows, values * stored_size);
    progress.add_bytes(values * stored_size);  // the output keeps the base's dtype
  }
  if (layer.writes_bias()) {
    out.write_values(bias.data(), static_cast<std::size_t>(bias.size()));
    progress.add_bytes(static_cast<std::uint64_t>(bias.size()) *
                       io::dtype_size(layer.bias_dtype()));
  }
}

template void merge_layer<float>(const io::SafetensorsModel&, const LayerPlan&,
                                 const DynamicAdapter<float>&, io::SafetensorsWriter&, Progress&,
                                 std::size_t);
template void merge_layer<double>(const io::SafetensorsModel&, const LayerPlan&,
                                  const DynamicAdapter<double>&, io::SafetensorsWriter&, Progress&,
                                  std::size_t);

}  // namespace glora::cli
