#pragma once
// Merging one adapted layer into the output file, a block of rows at a time:
// row i of W = W0 + W0 ⊙ A + B and entry i of b = b0 + b0 ⊙ D + E + W0 c
// need only row i of W0 and the rows of A's and B's down tensors, D and E
// that belong to it, so memory stays bounded by one block whatever the
// layer's size.

#include "plan.hpp"
#include "progress.hpp"

#include <glora/dynamic_adapter.hpp>
#include <glora/io/safetensors_model.hpp>
#include <glora/io/safetensors_writer.hpp>

#include <cstddef>

namespace glora::cli {

/// Gives back the pages of the block [first, first + n) of the tensor that
/// starts at `tensor` in `file`, once the block is used. The kernel maps
/// pages around each fault (up to a large folio of the page cache), so a
/// fault in this block may have mapped the end of the one before again: the
/// range released reaches back up to 2 MB (not before the tensor), which
/// keeps what stays mapped bounded instead of growing with every block.
void release_block(const io::SafetensorsFile& file, const unsigned char* tensor,
                   const unsigned char* first, std::size_t n);

/// Writes the merged <module>.weight of `layer` (the next tensor of `out`)
/// and, when the output has one, its <module>.bias right after, in their
/// declared dtypes. T is float (F32, BF16 and F16 weights) or double (F64);
/// `adapter` is the layer's, as read from its file. W0 is read from the
/// base's memory map: viewed in place when it is stored as T; otherwise
/// converted a line at a time (a row's part in one merge tile) and merged in
/// cache when the adapter has no C and every low-rank slot is merged line by
/// line, else converted a block at a time. Each block's pages are released
/// once merged. At most `block_bytes` of W (as T) are merged at once (at
/// least one row).
template <typename T>
void merge_layer(const io::SafetensorsModel& base, const LayerPlan& layer,
                 const DynamicAdapter<T>& adapter, io::SafetensorsWriter& out, Progress& progress,
                 std::size_t block_bytes);

extern template void merge_layer<float>(const io::SafetensorsModel&, const LayerPlan&,
                                        const DynamicAdapter<float>&, io::SafetensorsWriter&,
                                        Progress&, std::size_t);
extern template void merge_layer<double>(const io::SafetensorsModel&, const LayerPlan&,
                                         const DynamicAdapter<double>&, io::SafetensorsWriter&,
                                         Progress&, std::size_t);

}  // namespace glora::cli
