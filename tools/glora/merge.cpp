// glora merge: an adapter folded into its base model, written as a new model
// file (or shards) as it goes, with memory bounded by a block of rows.

#include "arguments.hpp"
#include "commands.hpp"
#include "failure.hpp"
#include "format.hpp"
#include "inputs.hpp"
#include "layer_merge.hpp"
#include "layout.hpp"
#include "output.hpp"
#include "plan.hpp"
#include "progress.hpp"

#include <glora/config.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/safetensors_model.hpp>
#include <glora/io/safetensors_writer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace glora::cli {

const char* const merge_help =
    "Usage: glora merge --base BASE --adapter ADAPTER --out OUT [options]\n"
    "\n"
    "Folds a GLoRA adapter into its base model: writes OUT, a model holding every tensor of\n"
    "BASE with each adapted layer's weight and bias replaced by the merged ones\n"
    "(W = W0 + W0*A + B, b = b0 + b0*D + E + W0 c), in BASE's dtypes and with its metadata.\n"
    "\n"
    "  --base BASE        a safetensors model file whose linear layers are <module>.weight\n"
    "                     [out, in] and <module>.bias [out], or a folder of shards with\n"
    "                     model.safetensors.index.json\n"
    "  --adapter ADAPTER  a PEFT GLoRA adapter folder (adapter_config.json,\n"
    "                     adapter_model.safetensors) or a glora adapter file\n"
    "  --out OUT          the merged model: a file, or a folder of shards with their index\n"
    "                     when BASE is sharded (written beside OUT, renamed at the end)\n"
    "  --prefix FROM[=TO] how adapter layer names become base module names: FROM is taken off\n"
    "                     the front of every name (which must start with it), TO put on\n"
    "                     (default: PEFT's base_model.model. is taken off where present)\n"
    "  --dry-run          check that every adapter layer finds its base tensors, write nothing\n"
    "  --force            replace OUT if it exists\n"
    "  --quiet            print nothing but errors\n"
    "  --block-size SIZE  merge at most SIZE bytes of a weight (as float; double for F64) at\n"
    "                     once (default 512K; K, M, G)\n"
    "\n"
    "F32 and F64 weights are merged in their own precision, BF16 and F16 weights in float and\n"
    "rounded once. A layer without a bias whose adapter adds one (C or E) gets <module>.bias.\n"
    "Progress is shown while stderr is a terminal.\n";

namespace {

constexpr std::size_t default_block_size = std::size_t(512) << 10;

/// "4M" -> 4194304: bytes, with an optional K, M or G (powers of 1024).
std::size_t parse_size(const std::optional<std::string>& text) {
  if (!text) return default_block_size;
  const auto bad = [&] {
    return Failure(Exit::usage, "merge: --block-size " + *text +
                                    ": expected a positive number of bytes, optionally with K, "
                                    "M or G (see glora merge --help)");
  };
  std::size_t digits = 0;
  while (digits < text->size() && (*text)[digits] >= '0' && (*text)[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12 || text->size() > digits + 1) throw bad();
  std::size_t value = std::stoull(text->substr(0, digits));
  const std::string unit = text->substr(digits);
  const int shift = unit == "" ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (shift < 0 || value == 0) throw bad();
  return value << shift;
}

/// "C = LoRA_4, E = vector": the slots that make a bias on a layer without one.
std::string bias_slots(const LayerConfig& config) {
  std::string slots;
  for (const Slot s : {Slot::C, Slot::E}) {
    if (config[s].kind == Kind::none) continue;
    slots += std::string(slots.empty() ? "" : ", ") + slot_letter(s) + " = " + to_string(config[s]);
  }
  return slots;
}

void note_added_biases(const std::vector<LayerPlan>& layers) {
  for (const LayerPlan& layer : layers) {
    if (!layer.adds_bias) continue;
    std::fprintf(stderr,
                 "glora: note: the base has no \"%s\"; the adapter adds a bias (%s), written as "
                 "the new tensor \"%s\" %s [%lld]\n",
                 layer.bias_name().c_str(), bias_slots(layer.config).c_str(),
                 layer.bias_name().c_str(), io::dtype_name(layer.bias_dtype()),
                 static_cast<long long>(layer.out));
  }
}

std::string tensor_text(const io::TensorInfo& t) {
  return std::string(io::dtype_name(t.dtype)) + " " + io::shape_string(t.shape);
}

void print_dry_run(const std::string& adapter, const std::string& base,
                   const std::vector<LayerPlan>& layers, const std::vector<OutputShard>& shards) {
  std::printf("%s into %s:\n", adapter.c_str(), base.c_str());
  for (const LayerPlan& layer : layers) {
    const std::string name =
        layer.layer == layer.module ? layer.layer : layer.layer + " -> " + layer.module;
    const std::string bias = layer.bias        ? "bias " + tensor_text(*layer.bias->tensor)
                             : layer.adds_bias ? std::string("bias added")
                                               : std::string("no bias");
    std::printf("  %s: weight %s, %s; %s\n", name.c_str(),
                tensor_text(*layer.weight.tensor).c_str(), bias.c_str(),
                to_short_string(layer.config).c_str());
  }
  std::printf(
      "dry run: all %zu adapter layers find their base tensors; the merged model would "
      "be %s in %zu %s (nothing written)\n",
      layers.size(), human_bytes(total_bytes(shards)).c_str(), shards.size(),
      shards.size() == 1 ? "file" : "files");
}

void copy_tensor(const io::SafetensorsFile& shard, const io::TensorInfo& t,
                 io::SafetensorsWriter& out, Progress& progress, std::size_t block_bytes) {
  const unsigned char* const bytes = shard.bytes(t).data;
  for (std::uint64_t done = 0; done < t.bytes();) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(block_bytes, t.bytes() - done));
    out.write(bytes + done, n);
    release_block(shard, bytes, bytes + done, n);
    progress.add_bytes(n);
    done += n;
  }
}

/// Writes one output file at `path`, committing it only when complete.
void write_shard(const io::SafetensorsModel& base, const AdapterSource& adapter,
                 const OutputShard& shard, const std::string& path, Progress& progress,
                 std::size_t block_bytes) {
  const io::SafetensorsFile& in = base.shards()[shard.shard];
  io::SafetensorsWriter out(path, shard.tensors, in.metadata());
  for (const OutputShard::Item& item : shard.items) {
    if (item.copy != nullptr) {
      copy_tensor(in, *item.copy, out, progress, block_bytes);
      continue;
    }
    const LayerPlan& layer = *item.layer;
    if (layer.in_double()) {
      merge_layer(base, layer, adapter.read<double>(layer.layer), out, progress, block_bytes);
    } else {
      merge_layer(base, layer, adapter.read<float>(layer.layer), out, progress, block_bytes);
    }
    progress.layer_done();
  }
  out.commit();
}

/// The index of the merged shards: the base's, with the new total size and
/// every tensor (biases included) mapped to the shard it is now in.
io::ShardIndex merged_index(const io::ShardIndex& base, const std::vector<OutputShard>& shards) {
  io::ShardIndex index;
  index.metadata = base.metadata;
  index.metadata["total_size"] = total_bytes(shards);
  for (const OutputShard& shard : shards) {
    for (const io::TensorSpec& t : shard.tensors) index.weight_map[t.name] = shard.name;
  }
  return index;
}

void write_output(const io::SafetensorsModel& base, const AdapterSource& adapter,
                  const std::vector<OutputShard>& shards, std::size_t layers,
                  const std::string& out, bool show_progress, std::size_t block_bytes) {
  Progress progress(show_progress, total_bytes(shards), layers);
  if (!base.sharded()) {
    try {
      write_shard(base, adapter, shards.front(), out, progress, block_bytes);
    } catch (const file_error& e) {
      throw Failure(Exit::write, e.what());
    }
    return;
  }
  AtomicFolder folder(out);
  try {
    for (const OutputShard& shard : shards) {
      write_shard(base, adapter, shard, folder.file(shard.name), progress, block_bytes);
    }
    io::write_shard_index(folder.file(io::shard_index_name), merged_index(*base.index(), shards));
  } catch (const file_error& e) {
    throw Failure(Exit::write, folder.as_final(e.what()));
  }
  folder.commit();
}

}  // namespace

int merge_command(const std::vector<std::string>& args) {
  const Arguments arguments("merge", args, {"dry-run", "force", "quiet"},
                            {"base", "adapter", "out", "prefix", "block-size"});
  arguments.expect_positional(0, "options only");
  const bool dry_run = arguments.flag("dry-run"), quiet = arguments.flag("quiet");
  const std::string base_path = arguments.required("base");
  const std::string adapter_path = arguments.required("adapter");
  const std::optional<std::string> out =
      dry_run ? arguments.option("out") : arguments.required("out");
  const NameMapping names = NameMapping::parse(arguments.option("prefix"));
  const std::size_t block_bytes = parse_size(arguments.option("block-size"));

  const auto start = std::chrono::steady_clock::now();
  const io::SafetensorsModel base = open_model("--base", base_path);
  const AdapterSource adapter("--adapter", adapter_path);
  if (out) check_output(*out, base.sharded(), arguments.flag("force"));
  const std::vector<LayerPlan> layers = plan_merge(base, adapter, names);
  const std::vector<OutputShard> shards = output_layout(base, layers);
  if (!dry_run) {
    write_output(base, adapter, shards, layers.size(), *out, Progress::wanted(quiet), block_bytes);
  }
  if (quiet) return 0;
  note_added_biases(layers);  // once it is done: a failure prints its one line alone
  if (dry_run) {
    print_dry_run(adapter_path, base_path, layers, shards);
  } else {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("merged %zu adapter layers into %s (%s) in %s\n", layers.size(), out->c_str(),
                human_bytes(total_bytes(shards)).c_str(), human_seconds(seconds).c_str());
  }
  return 0;
}

}  // namespace glora::cli
