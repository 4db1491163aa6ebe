"""Merges with the glora tool, checked against the GLoRA formula evaluated in NumPy: glora adapter
files and PEFT adapter folders, into F32, BF16, F16 and F64 bases, single files and shards, layers
with and without a bias (one of them gaining one), blocks of a few rows and whole layers, rows wider than a merge tile, a
--prefix mapping. Every tensor the adapter does not touch must come out byte for byte, the
metadata kept, the shards' index updated.

Writes cases.json in OUTPUT_FOLDER for test_files_tool, which then compares every merged layer
with the library's merge().

Usage: merge_cases.py OUTPUT_FOLDER   (the tool: the environment variable GLORA_TOOL)"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tool_files as tf  # noqa: E402

rng = np.random.default_rng(7)

# The layers the adapters of write_test_files.py were made for: module -> (out, in, has a bias).
GLORA_LAYERS = {"blocks.0.attn.qkv": (6, 5, True), "blocks.0.mlp.fc1": (7, 6, True),
                "blocks.1.attn.proj": (6, 6, True), "head": (3, 7, False)}
PEFT_LORA_LAYERS = {"model.layers.0.self_attn.q_proj": (6, 5, True),
                    "model.layers.0.self_attn.v_proj": (4, 5, False)}
PEFT_NAMED_LAYERS = {"encoder.fc": (5, 4, True)}
PEFT_WIDE_LAYERS = {"model.layers.1.mlp.up_proj": (20, 600, True), "model.layers.1.mlp.down_proj": (9, 37, False)}

CASES = [
    # name, adapter, its layers, base dtype, sharded, --prefix, --block-size
    ("glora_f32_blocks", "py_adapters.safetensors", GLORA_LAYERS, "F32", False, None, "40"),
    ("glora_bf16", "py_adapters.safetensors", GLORA_LAYERS, "BF16", False, None, None),
    ("glora_f64_prefix", "py_adapters.safetensors", GLORA_LAYERS, "F64", False, "=vit.", None),
    ("glora_bf16_sharded", "py_adapters.safetensors", GLORA_LAYERS, "BF16", True, None, "30"),
    ("peft_f32_sharded", "peft_lora", PEFT_LORA_LAYERS, "F32", True, None, None),
    ("peft_f16", "peft_named", PEFT_NAMED_LAYERS, "F16", False, None, "8"),
    ("peft_bf16_wide", "peft_wide", PEFT_WIDE_LAYERS, "BF16", False, None, "2400"),
    ("peft_f16_wide_sharded", "peft_wide", PEFT_WIDE_LAYERS, "F16", True, None, "7200"),
]


def base_tensors(layers, dtype, add):
    """A model around the adapted layers (module names prefixed with `add`): an embedding, position
    ids (I64), a norm and an empty tensor the merge must copy as they are, and each layer's weight
    and bias."""
    tensors = {"embed.weight": (dtype, rng.uniform(-1, 1, (10, 6))),
               "position_ids": ("I64", np.arange(7).reshape(1, 7))}
    for module, (out, inp, has_bias) in layers.items():
        tensors[f"{add}{module}.weight"] = (dtype, rng.uniform(-1, 1, (out, inp)))
    for module, (out, inp, has_bias) in layers.items():
        if has_bias:
            tensors[f"{add}{module}.bias"] = (dtype, rng.uniform(-1, 1, (out,)))
    tensors["norm.weight"] = (dtype, rng.uniform(-1, 1, (6,)))
    tensors["empty"] = (dtype, np.zeros((0, 3)))
    return tensors


def check_case(folder, name, adapter, layers, dtype, sharded, prefix, block):
    base = os.path.join(folder, name + "_base" + ("" if sharded else ".safetensors"))
    out = os.path.join(folder, name + "_merged" + ("" if sharded else ".safetensors"))
    add = prefix.split("=", 1)[1] if prefix else ""
    tensors = base_tensors(layers, dtype, add)
    names = list(tensors)
    # Shards: the weights in the first, every bias in the second (the merge moves them).
    shards = [[n for n in names if not n.endswith(".bias") and n != "norm.weight"],
              [n for n in names if n.endswith(".bias") or n == "norm.weight"]] if sharded else None
    tf.write_model(base, tensors, shards, index_metadata={"note": "kept"})
    args = ["merge", "--base", base, "--adapter", os.path.join(folder, adapter), "--out", out]
    args += ["--prefix", prefix] if prefix else []
    args += ["--block-size", block] if block else []
    status, stdout, stderr = tf.run(*args)
    assert status == 0, f"{name}: exit status {status}: {stderr}"
    assert stdout.startswith(f"merged {len(layers)} adapter layers into {out} ("), stdout
    add = prefix.split("=", 1)[1] if prefix else ""
    # The glora file's head has E and no bias; PEFT makes C, D and E none on such layers.
    expected_notes = [f'glora: note: the base has no "{add}{m}.bias"; the adapter adds a bias (E = vector), '
                      f'written as the new tensor "{add}{m}.bias" {dtype} [{o}]'
                      for m, (o, i, has_bias) in layers.items() if not has_bias and adapter.endswith(".safetensors")]
    assert stderr.splitlines() == expected_notes, f"{name}: stderr {stderr!r}"
    assert tf.leftovers(folder, os.path.basename(out)) == [], os.listdir(folder)

    base_raw, base_metadata, base_index = tf.read_model(base)
    out_raw, out_metadata, out_index = tf.read_model(out)
    assert out_metadata == base_metadata, f"{name}: metadata {out_metadata} != {base_metadata}"
    adapted = {}
    for stored, config, adapter_tensors in tf.adapter_layers(os.path.join(folder, adapter)):
        module = add + stored.removeprefix("base_model.model.")
        adapted[module] = (config, adapter_tensors)
    expected_names = set(base_raw)
    for module, (config, adapter_tensors) in adapted.items():
        W0 = tf.values(base_raw[module + ".weight"])
        b0 = tf.values(base_raw[module + ".bias"]) if module + ".bias" in base_raw else None
        W, b = tf.expected_merge(W0, b0, config, adapter_tensors)
        for tensor, reference in ((".weight", W), (".bias", b)):
            if reference is None:
                assert module + tensor not in out_raw, f"{name}: {module + tensor} was written"
                continue
            expected_names.add(module + tensor)
            entry = out_raw[module + tensor]
            assert entry[0] == dtype and entry[1] == list(reference.shape), f"{name}: {module + tensor} {entry[:2]}"
            error = np.abs(tf.values(entry) - reference)
            assert (error <= tf.ulp_tolerance(dtype, reference)).all(), \
                f"{name}: {module + tensor} is off by up to {error.max()}"
    assert set(out_raw) == expected_names, f"{name}: {sorted(set(out_raw) ^ expected_names)}"
    for tensor, entry in base_raw.items():  # everything else byte for byte
        if tensor.rsplit(".", 1)[0] not in adapted:
            assert out_raw[tensor] == entry, f"{name}: {tensor} changed"

    if sharded:
        weight_map = out_index["weight_map"]
        assert set(weight_map) == set(out_raw), f"{name}: the index maps {sorted(weight_map)}"
        for module in adapted:
            assert weight_map.get(module + ".bias", weight_map[module + ".weight"]) == \
                weight_map[module + ".weight"], f"{name}: {module}.bias is not in its weight's shard"
        for tensor, file in weight_map.items():
            if tensor.rsplit(".", 1)[0] not in adapted:
                assert file == base_index["weight_map"][tensor], f"{name}: {tensor} moved to {file}"
        assert out_index["metadata"] == {"note": "kept", "total_size": sum(len(e[2]) for e in out_raw.values())}, \
            out_index["metadata"]
        assert sorted(os.listdir(out)) == sorted(set(weight_map.values()) | {"model.safetensors.index.json"})
    return {"name": name, "base": base, "adapter": os.path.join(folder, adapter), "out": out,
            "prefix": prefix or ""}


def main():
    folder = sys.argv[1]
    tf.fresh_folder_with_adapters(folder)
    cases = [check_case(folder, *case) for case in CASES]
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump(cases, f, indent=2)
    print(f"{len(cases)} merges agree with the formula evaluated in NumPy")


if __name__ == "__main__":
    main()
