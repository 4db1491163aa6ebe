"""glora inspect on each kind of input (a glora adapter file, a PEFT adapter folder, a safetensors
file, a sharded model by its folder and by its index): --json must hold exactly what the files
hold, read here with NumPy and the format's rules, and the text form its main lines.

Usage: test_inspect.py WORK_FOLDER   (the tool: the environment variable GLORA_TOOL)"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tool_files as tf  # noqa: E402  (exits as skipped where NumPy is missing)
from tool_files import np  # noqa: E402


def parameters(config, out, inp):
    """Trainable parameters of a configuration, by the reference's rules."""
    total = 0
    for slot, choice in config.items():
        rows = inp if slot == "C" else out
        if choice.startswith("LoRA_"):
            k = int(choice[5:])
            total += k * (inp + 1) if slot == "C" else k * (out + inp)
        elif choice == "vector":
            total += rows
        elif choice == "constant":
            total += 1
    return total


def inspect_json(path):
    status, stdout, stderr = tf.run("inspect", "--json", path)
    assert (status, stderr) == (0, ""), (status, stderr)
    return json.loads(stdout)


def inspect_text(path):
    status, stdout, stderr = tf.run("inspect", path)
    assert (status, stderr) == (0, ""), (status, stderr)
    return stdout.splitlines()


def header(path):
    raw, metadata = tf.st.read_raw(path)
    return {name: {"dtype": d, "shape": s, "bytes": len(b)} for name, (d, s, b) in raw.items()}, metadata


def check_glora_file(path):
    tensors, metadata = header(path)
    configs = json.loads(metadata["glora.config"])
    shapes = {"blocks.0.attn.qkv": (6, 5), "blocks.0.mlp.fc1": (7, 6), "blocks.1.attn.proj": (6, 6),
              "head": (3, None)}  # head's A and E (vectors) fix its out, nothing its in
    j = inspect_json(path)
    assert (j["path"], j["format"], j["metadata"]) == (path, "glora adapter file", metadata)
    assert [layer["name"] for layer in j["layers"]] == sorted(configs)
    total = 0
    for layer in j["layers"]:
        name = layer["name"]
        out, inp = shapes[name]
        assert (layer["out"], layer["in"], layer["config"]) == (out, inp, configs[name]), layer
        assert layer["summary"] == " ".join(f"{s}={configs[name][s]}" for s in "ABCDE")
        count = parameters(configs[name], out, inp or 0)
        assert layer["parameters"] == count, (name, layer["parameters"], count)
        total += count
        mine = {n: t for n, t in tensors.items() if n.rsplit(".", 1)[0] == name}
        assert {t["name"]: {k: t[k] for k in ("dtype", "shape", "bytes")} for t in layer["tensors"]} == mine
    assert j["other_tensors"] == []
    assert j["totals"] == {"layers": 4, "parameters": total, "tensors": len(tensors),
                           "bytes": sum(t["bytes"] for t in tensors.values())}
    text = inspect_text(path)
    assert text[0] == f"{path}: glora adapter file"
    assert "  blocks.0.attn.qkv (6 x 5): A=LoRA_4 B=vector C=LoRA_4 D=constant E=vector, 81 parameters" in text
    assert "  head (3 x ?): A=vector B=none C=none D=none E=vector, 6 parameters" in text
    assert "    blocks.1.attn.proj.Ad  F16 [6, 8]" in text
    assert text[-1] == f"totals: 4 layers, {total} trainable parameters, {len(tensors)} tensors, 1.17 kB", text[-1]


def check_peft(folder):
    tensors, metadata = header(os.path.join(folder, "adapter_model.safetensors"))
    j = inspect_json(folder)
    assert (j["format"], j["metadata"]) == ("PEFT GLoRA adapter", metadata)
    config = dict(A="LoRA_4", B="LoRA_4", C="vector", D="constant", E="constant")
    assert j["peft"] == {"r": 4, "config": config, "summary": "A=LoRA_4 B=LoRA_4 C=vector D=constant E=constant"}
    q, v = j["layers"]
    assert (q["name"], q["out"], q["in"], q["config"]) == ("model.layers.0.self_attn.q_proj", 6, 5, config)
    assert (v["name"], v["out"], v["in"]) == ("model.layers.0.self_attn.v_proj", 4, 5)
    assert v["config"] == dict(config, C="none", D="none", E="none")  # no bias in the base: no C, D, E
    assert (q["parameters"], v["parameters"]) == (parameters(config, 6, 5), parameters(v["config"], 4, 5))
    assert [t["name"] for t in j["other_tensors"]] == ["base_model.model.classifier.weight"]
    listed = [t["name"] for layer in j["layers"] for t in layer["tensors"]] + ["base_model.model.classifier.weight"]
    assert sorted(listed) == sorted(tensors)
    assert j["totals"]["parameters"] == q["parameters"] + v["parameters"] == 167
    text = inspect_text(folder)
    assert text[:2] == [f"{folder}: PEFT GLoRA adapter",
                        "PEFT config: r = 4, every module A=LoRA_4 B=LoRA_4 C=vector D=constant E=constant"]
    assert "  base_model.model.classifier.weight  F32 [2, 3]" in text


def check_model(folder):
    rng = np.random.default_rng(3)
    tensors = {"b.weight": ("BF16", rng.uniform(-1, 1, (4, 3))), "a.bias": ("F32", rng.uniform(-1, 1, (4,))),
               "ids": ("I64", np.arange(5)), "empty": ("F16", np.zeros((0, 2)))}
    single = os.path.join(folder, "model.safetensors")
    tf.write_model(single, tensors, metadata={"format": "pt", "note": "x" * 120})
    j = inspect_json(single)
    expected = [{"name": n, "dtype": d, "shape": list(np.shape(v)),
                 "bytes": int(np.prod(np.shape(v))) * {"BF16": 2, "F16": 2, "F32": 4, "I64": 8}[d]}
                for n, (d, v) in sorted(tensors.items())]
    assert (j["format"], j["metadata"], j["tensors"]) == ("safetensors file", {"format": "pt", "note": "x" * 120},
                                                          expected)
    assert j["totals"] == {"tensors": 4, "values": 21, "bytes": 24 + 16 + 40,
                           "dtypes": {"BF16": 1, "F16": 1, "F32": 1, "I64": 1}}
    text = inspect_text(single)
    assert text == [f"{single}: safetensors file", "metadata:", "  format: pt",
                    "  note: " + "x" * 80 + "... (120 characters)", "tensors:", "  a.bias  F32 [4]",
                    "  b.weight  BF16 [4, 3]", "  empty  F16 [0, 2]", "  ids  I64 [5]",
                    "totals: 4 tensors (BF16 1, F16 1, F32 1, I64 1), 21 values, 80 B"], text

    sharded = os.path.join(folder, "sharded")
    tf.write_model(sharded, tensors, shards=[["b.weight", "ids"], ["a.bias", "empty"]],
                   index_metadata={"note": "kept"})
    for path in (sharded, os.path.join(sharded, "model.safetensors.index.json")):
        j = inspect_json(path)
        assert (j["format"], j["metadata"]) == ("sharded safetensors model", {"note": "kept", "total_size": 80})
        assert j["shards"] == [
            {"file": "model-00001-of-00002.safetensors", "metadata": {"format": "pt", "shard": "1"},
             "tensors": 2, "bytes": 64},
            {"file": "model-00002-of-00002.safetensors", "metadata": {"format": "pt", "shard": "2"},
             "tensors": 2, "bytes": 16}]
        assert [(t["name"], t["shard"][6:11]) for t in j["tensors"]] == \
            [("a.bias", "00002"), ("b.weight", "00001"), ("empty", "00002"), ("ids", "00001")]
        assert j["totals"]["bytes"] == 80


def main():
    folder = sys.argv[1]
    tf.fresh_folder_with_adapters(folder)
    check_glora_file(os.path.join(folder, "py_adapters.safetensors"))
    check_peft(os.path.join(folder, "peft_lora"))
    check_model(folder)
    print("inspect describes every kind of input as the files hold it")


if __name__ == "__main__":
    main()
