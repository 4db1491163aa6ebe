#include "layer_merge.hpp"

#include <glora/config.hpp>
#include <glora/detail/frozen.hpp>
#include <glora/dynamic_linear.hpp>
#include <glora/io/convert.hpp>
#include <glora/io/dtype.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace glora::cli {

namespace {

bool indexed_by_row(Choice c) { return c.kind == Kind::vector || c.kind == Kind::low_rank; }

/// The part of each tensor that the configuration uses (the supernet rule:
/// the first k columns of a down tensor and rows of an up tensor for LoRA_k,
/// column 0 for vector, element 0 for constant), with exactly the shapes it
/// needs: a supernet's unused columns are not carried from block to block.
template <typename T>
void keep_used_part(DynamicAdapter<T>& a) {
  for (const Slot s : {Slot::A, Slot::B, Slot::C}) {
    const Choice c = a.config[s];
    MatrixX<T>& down = DynamicAdapter<T>::down(a, s);
    MatrixX<T>& up = DynamicAdapter<T>::up(a, s);
    const Eigen::Index rank = c.kind == Kind::low_rank ? c.rank : 1;
    if (c.kind == Kind::none) down.resize(0, 0);
    if (c.kind == Kind::scalar) down = down.topLeftCorner(1, 1).eval();
    if (indexed_by_row(c)) down = down.leftCols(rank).eval();
    if (c.kind == Kind::low_rank) {
      up = up.topRows(rank).eval();
    } else {
      up.resize(0, 0);
    }
  }
  for (const Slot s : {Slot::D, Slot::E}) {
    VectorX<T>& v = DynamicAdapter<T>::value(a, s);
    if (a.config[s].kind == Kind::none) v.resize(0);
    if (a.config[s].kind == Kind::scalar) v = v.head(1).eval();
  }
}

/// Moves out of `full` what every block of rows shares (the up tensors, C's
/// tensors, the constants), leaving in `full` what is taken a block at a time.
template <typename T>
DynamicAdapter<T> shared_part(DynamicAdapter<T>& full) {
  DynamicAdapter<T> part;
  part.config = full.config;
  part.Au = std::move(full.Au);
  part.Bu = std::move(full.Bu);
  part.Cd = std::move(full.Cd);
  part.Cu = std::move(full.Cu);
  if (!indexed_by_row(full.config.A)) part.Ad = full.Ad;
  if (!indexed_by_row(full.config.B)) part.Bd = full.Bd;
  if (full.config.D.kind != Kind::vector) part.D = full.D;
  if (full.config.E.kind != Kind::vector) part.E = full.E;
  return part;
}

/// Sets the row-indexed tensors of `part` to rows [i0, i0 + h) of `full`'s.
template <typename T>
void take_rows(const DynamicAdapter<T>& full, Eigen::Index i0, Eigen::Index h,
               DynamicAdapter<T>& part) {
  if (indexed_by_row(full.config.A)) part.Ad = full.Ad.middleRows(i0, h);
  if (indexed_by_row(full.config.B)) part.Bd = full.Bd.middleRows(i0, h);
  if (full.config.D.kind == Kind::vector) part.D = full.D.segment(i0, h);
  if (full.config.E.kind == Kind::vector) part.E = full.E.segment(i0, h);
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
                 DynamicAdapter<T> adapter, io::SafetensorsWriter& out, Progress& progress,
                 std::size_t block_bytes) {
  const io::SafetensorsFile& shard = base.shards()[layer.weight.shard];
  const io::TensorInfo& w0 = *layer.weight.tensor;
  const unsigned char* const stored = shard.bytes(w0).data;
  const std::size_t in = static_cast<std::size_t>(layer.in);
  const std::size_t stored_size = io::dtype_size(w0.dtype);
  // A weight stored as T is merged straight from the map; any other is converted a block at a time.
  const bool in_place =
      w0.dtype == io::dtype_of<T>() && reinterpret_cast<std::uintptr_t>(stored) % alignof(T) == 0;

  VectorX<T> b0;
  if (layer.bias) {
    b0.resize(layer.out);
    base.shards()[layer.bias->shard].read_into(*layer.bias->tensor, b0.data(),
                                               io::ReadOptions{true});
  }
  VectorX<T> bias = VectorX<T>::Zero(layer.out);

  keep_used_part(adapter);
  DynamicAdapter<T> part = shared_part(adapter);
  const LayerConfig nothing{};  // the views' own adapters are replaced by `part`
  const Eigen::Index rows_per_block = static_cast<Eigen::Index>(
      std::max<std::size_t>(1, block_bytes / std::max<std::size_t>(1, in * sizeof(T))));
  const Eigen::Index block = std::min(rows_per_block, std::max<Eigen::Index>(layer.out, 1));
  // One block of rows: the merge of rows read straight from the map, or rows converted to T and
  // then merged where they lie (merge_into may write over the W0 it reads).
  VectorX<T> merged(block * layer.in);

  for (Eigen::Index i0 = 0; i0 < layer.out; i0 += block) {
    const Eigen::Index h = std::min(block, layer.out - i0);
    const std::size_t values = static_cast<std::size_t>(h) * in;
    const unsigned char* const rows = stored + static_cast<std::size_t>(i0) * in * stored_size;
    const T* W0 = reinterpret_cast<const T*>(rows);
    if (!in_place) {
      io::decode_values(rows, w0.dtype, values, merged.data());
      W0 = merged.data();
    }
    take_rows(adapter, i0, h, part);
    DynamicLinearView<T> view(row_major, W0, h, layer.in, layer.bias ? b0.data() + i0 : nullptr,
                              nothing);
    view.adapter() = std::move(part);
    Eigen::Map<RowMajorMatrixX<T>> W(merged.data(), h, layer.in);
    view.merge_into(W, Eigen::Map<VectorX<T>>(bias.data() + i0, h));
    part = std::move(view.adapter());
    out.write_values(merged.data(), values);
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
                                 DynamicAdapter<float>, io::SafetensorsWriter&, Progress&,
                                 std::size_t);
template void merge_layer<double>(const io::SafetensorsModel&, const LayerPlan&,
                                  DynamicAdapter<double>, io::SafetensorsWriter&, Progress&,
                                  std::size_t);

}  // namespace glora::cli
