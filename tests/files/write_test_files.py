"""Writes a glora adapter file and two PEFT GLoRA adapter folders with random tensors and known
configurations, plus reference.safetensors: for every layer its W0, b0, an input X and the output
Y = W X + b of the GLoRA formula evaluated here in NumPy. test_files_python checks that the C++
library loads these files and gives the same Y.

Usage: write_test_files.py OUTPUT_FOLDER"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_numpy as st  # noqa: E402

rng = np.random.default_rng(2023)


def rank_of(choice):
    return int(choice.split("_")[1])


def slot_value(choice, down, up, rows):
    """The value slot A/B/C takes, by the supernet rule (first k columns/rows, column 0, [0, 0])."""
    if choice.startswith("LoRA_"):
        k = rank_of(choice)
        return down[:, :k] @ up[:k, :]
    if choice == "vector":
        return down.reshape(rows, -1)[:, :1]
    if choice == "constant":
        return np.full((1, 1), down.reshape(-1)[0])
    return np.zeros((1, 1))


def bias_value(choice, v):
    if choice == "vector":
        return v.reshape(-1)
    if choice == "constant":
        return v.reshape(-1)[0]
    return 0.0


def merged(W0, b0, config, t):
    """W = W0 + W0 * A + B and b = b0 + b0 * D + E + W0 c, with the slots from tensors t (b0 None:
    a layer without a bias, b = E + W0 c)."""
    m, n = W0.shape
    A = slot_value(config["A"], t.get("Ad"), t.get("Au"), m)
    B = slot_value(config["B"], t.get("Bd"), t.get("Bu"), m)
    c = slot_value(config["C"], t.get("Cd"), t.get("Cu"), n)
    c = np.broadcast_to(c, (n, 1))
    W = W0 + W0 * A + B
    b = bias_value(config["E"], t.get("E")) + (W0 @ c).reshape(-1)
    if b0 is not None:
        b = b + b0 + b0 * bias_value(config["D"], t.get("D"))
    return W, np.broadcast_to(b, (m,))


def glora_output(W0, b0, config, t, X):
    """y = W x + b of the merged layer."""
    W, b = merged(W0, b0, config, t)
    return W @ X + b.reshape(-1, 1)


def random_tensors(config, m, n, capacity):
    """Tensors in the reference's names and shapes; `capacity` is the stored rank of LoRA slots
    (larger than the config's for a supernet)."""
    t = {}
    for slot, rows in (("A", m), ("B", m), ("C", n)):
        choice = config[slot]
        if choice.startswith("LoRA_"):
            r = capacity or rank_of(choice)
            t[slot + "d"] = rng.uniform(-1, 1, (rows, r))
            t[slot + "u"] = rng.uniform(-1, 1, (r, n if slot != "C" else 1))
        elif choice == "vector":
            t[slot + "d"] = rng.uniform(-1, 1, (rows, capacity or 1))
        elif choice == "constant":
            t[slot + "d"] = rng.uniform(-1, 1, (1, 1))
    for slot in ("D", "E"):
        if config[slot] == "vector":
            t[slot] = rng.uniform(-1, 1, (m,))
        elif config[slot] == "constant":
            t[slot] = rng.uniform(-1, 1, (m if capacity else 1,))
    return t


def write_glora(folder, reference):
    layers = [
        # name, out, in, config, dtype, stored LoRA rank (None: exact), has bias
        ("blocks.0.attn.qkv", 6, 5, dict(A="LoRA_4", B="vector", C="LoRA_4", D="constant", E="vector"), "F32", None, True),
        ("blocks.0.mlp.fc1", 7, 6, dict(A="constant", B="LoRA_2", C="vector", D="vector", E="constant"), "F64", None, True),
        ("blocks.1.attn.proj", 6, 6, dict(A="LoRA_2", B="LoRA_4", C="vector", D="vector", E="constant"), "F16", 8, True),
        ("head", 3, 7, dict(A="vector", B="none", C="none", D="none", E="vector"), "BF16", None, False),
    ]
    tensors, config = {}, {}
    for name, m, n, cfg, dtype, capacity, has_bias in layers:
        t = {k: st.stored(v, dtype) for k, v in random_tensors(cfg, m, n, capacity).items()}
        for k, v in t.items():
            tensors[f"{name}.{k}"] = (dtype, v)
        config[name] = cfg
        add_reference(reference, name, m, n, cfg, t, has_bias)
    metadata = {"format": "glora", "glora.version": "1", "glora.config": json.dumps(config)}
    st.write(os.path.join(folder, "py_adapters.safetensors"), tensors, metadata)


def add_reference(reference, name, m, n, cfg, t, has_bias):
    W0 = rng.uniform(-1, 1, (m, n))
    b0 = rng.uniform(-1, 1, (m,)) if has_bias else None
    X = rng.uniform(-1, 1, (n, 3))
    reference[f"{name}.W0"] = ("F64", W0)
    if has_bias:
        reference[f"{name}.b0"] = ("F64", b0)
    reference[f"{name}.X"] = ("F64", X)
    reference[f"{name}.Y"] = ("F64", glora_output(W0, b0, cfg, t, X))


PEFT_KINDS = {"lora": None, "vector": "vector", "constant": "constant", "none": "none"}


def write_peft(folder, reference, name, r, a_b, c, d_e, dtype, adapter, modules):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "GLORA", "r": r, "config_A_B": a_b, "config_C": c, "config_D_E": d_e,
                   "target_modules": [m[0].split(".")[-1] for m in modules], "task_type": None,
                   "base_model_name_or_path": "test", "inference_mode": True}, f)
    spell = lambda x: f"LoRA_{r}" if x == "lora" else x  # noqa: E731
    tensors = {}
    for module, m, n, has_bias in modules:
        cfg = dict(A=spell(a_b), B=spell(a_b), C=spell(c), D=spell(d_e), E=spell(d_e))
        if not has_bias:
            cfg.update(C="none", D="none", E="none")
        t = {k: st.stored(v, dtype) for k, v in random_tensors(cfg, m, n, None).items()}
        prefix = f"base_model.model.{module}.glora_"
        for slot in "ABCDE":
            kind = cfg[slot]
            if kind.startswith("LoRA_"):
                tensors[f"{prefix}{slot}{adapter}.{slot}d"] = (dtype, t[slot + "d"])
                tensors[f"{prefix}{slot}{adapter}.{slot}u"] = (dtype, t[slot + "u"])
            elif kind == "constant":
                tensors[f"{prefix}{slot}{adapter}.{slot}"] = (dtype, (t[slot + "d"] if slot in "ABC" else t[slot]).reshape(1))
            elif kind == "vector":
                tensors[f"{prefix}{slot}{adapter}.{slot}"] = (dtype, t[slot + "d"] if slot in "ABC" else t[slot])
        add_reference(reference, f"{name}/{module}", m, n, cfg, t, has_bias)
    tensors["base_model.model.classifier.weight"] = ("F32", rng.uniform(-1, 1, (2, 3)))
    st.write(os.path.join(folder, "adapter_model.safetensors"), tensors, {"format": "pt"})


def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    reference = {}
    write_glora(folder, reference)
    write_peft(os.path.join(folder, "peft_lora"), reference, "peft_lora", 4, "lora", "vector", "constant", "F32", "",
               [("model.layers.0.self_attn.q_proj", 6, 5, True), ("model.layers.0.self_attn.v_proj", 4, 5, False)])
    write_peft(os.path.join(folder, "peft_named"), reference, "peft_named", 2, "vector", "lora", "vector", "F16",
               ".default", [("encoder.fc", 5, 4, True)])
    # Wider than a merge tile (512 positions), with LoRA A and B and no C.
    write_peft(os.path.join(folder, "peft_wide"), reference, "peft_wide", 4, "lora", "none", "vector", "F32", "",
               [("model.layers.1.mlp.up_proj", 20, 600, True), ("model.layers.1.mlp.down_proj", 9, 37, False)])
    st.write(os.path.join(folder, "reference.safetensors"), reference)
    print(f"wrote the test files to {folder}")


if __name__ == "__main__":
    main()
