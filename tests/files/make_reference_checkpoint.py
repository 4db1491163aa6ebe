"""Saves a small checkpoint the way the GLoRA reference does (torch.save of the supernet's tensors,
and a search checkpoint whose keep_top_k[10][0] holds the chosen per-layer configs), converts it
with scripts/convert_reference_checkpoint.py, checks that the converter refuses broken inputs with
one line and a non-zero exit, and writes reference.safetensors: per layer W0, b0, X and the output Y
of the reference's arithmetic evaluated here with PyTorch. test_files_python [converter] loads the
converted files in C++ and compares.

Usage: make_reference_checkpoint.py OUTPUT_FOLDER"""

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import warnings

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_numpy as st  # noqa: E402

CONVERTER = os.path.join(here, "..", "..", "scripts", "convert_reference_checkpoint.py")
R = 4  # the supernet's LoRA rank

# (module, out, in, searched config): in the model's module order
LAYERS = [
    ("blocks.0.attn.qkv", 6, 4, {"A": "LoRA_2", "B": "vector", "C": "none", "D": "constant", "E": "vector"}),
    ("blocks.0.mlp.fc1", 8, 4, {"A": "constant", "B": "LoRA_4", "C": "LoRA_4", "D": "vector", "E": "none"}),
    ("blocks.0.mlp.fc2", 4, 8, {"A": "none", "B": "none", "C": "vector", "D": "none", "E": "constant"}),
]


def prepare_path(config, down, up=None):
    """The reference's slicing: LoRA_k uses down[:, :k] @ up[:k], vector down[:, 0], constant down[0, 0]."""
    if up is not None:
        if config.startswith("LoRA"):
            k = int(config.split("_")[1])
            return down[:, :k] @ up[:k, :]
        if config == "vector":
            return down[:, 0].unsqueeze(1)
        if config == "constant":
            return down[0, 0]
        return torch.zeros(down.shape[0], up.shape[1], dtype=down.dtype)
    if config == "vector":
        return down
    if config == "constant":
        return down[0]
    return torch.zeros_like(down)


def reference_forward(t, layer, config, W0, b0, X):
    A = prepare_path(config["A"], t[layer + ".Ad"], t[layer + ".Au"])
    B = prepare_path(config["B"], t[layer + ".Bd"], t[layer + ".Bu"])
    C = prepare_path(config["C"], t[layer + ".Cd"], t[layer + ".Cu"])
    D = prepare_path(config["D"], t[layer + ".D"])
    E = prepare_path(config["E"], t[layer + ".E"])
    W = W0 + W0 * A + B
    b = b0 + b0 * D + E + (W0 @ C).reshape(-1) if C.dim() > 0 else b0 + b0 * D + E + W0.sum(1) * C
    return (W @ X) + b.unsqueeze(1)


def run_converter(*args):
    """The converter run as a program, as a user runs it: for the first conversion, and for the
    unreadable checkpoint, where torch.load's own code may write to stderr past sys.stderr."""
    return subprocess.run([sys.executable, CONVERTER, *args], capture_output=True, text=True)


_converter = None


def call_converter(*args):
    """The converter's main() called in this process, with the arguments and output the program
    has: each run as a program would import PyTorch again, which takes about a second."""
    global _converter
    if _converter is None:
        spec = importlib.util.spec_from_file_location("convert_reference_checkpoint", CONVERTER)
        _converter = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_converter)
    out, err = io.StringIO(), io.StringIO()
    saved_argv = sys.argv
    sys.argv = [CONVERTER, *args]
    try:
        # Reset which warnings were shown: a program shows each one on every run.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings():
            warnings.simplefilter("default")
            try:
                status = _converter.main()
            except SystemExit as e:  # argparse's errors
                status = e.code
    finally:
        sys.argv = saved_argv
    if status is None:
        status = 0
    elif not isinstance(status, int):
        print(status, file=err)
        status = 1
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def expect_failure(expected, *args):
    result = call_converter(*args)
    lines = result.stderr.strip().splitlines()
    if result.returncode != 1 or lines != ["convert_reference_checkpoint: error: " + expected]:
        raise SystemExit(f"converter {args}: expected exit 1 and the line {expected!r}, "
                         f"got {result.returncode} and {result.stderr!r}")


def main():
    folder = sys.argv[1]
    torch.manual_seed(5)
    supernet, reference = {}, {}
    for layer, m, n, config in LAYERS:
        for name, shape in (("Ad", (m, R)), ("Au", (R, n)), ("Bd", (m, R)), ("Bu", (R, n)),
                            ("Cd", (n, R)), ("Cu", (R, 1)), ("D", (m,)), ("E", (m,))):
            supernet[f"{layer}.{name}"] = torch.rand(shape, dtype=torch.float32) * 2 - 1
    supernet["head.weight"] = torch.rand(10, 4)
    supernet["head.bias"] = torch.rand(10)
    checkpoint = os.path.join(folder, "supernet.pth")
    torch.save(supernet, checkpoint)
    configs = [c for _, _, _, c in LAYERS]
    search = os.path.join(folder, "search.pth")
    torch.save({"keep_top_k": {10: [configs, configs[::-1]], 50: []}, "epoch": 20}, search)

    for layer, m, n, config in LAYERS:
        W0 = torch.rand(m, n, dtype=torch.float64) * 2 - 1
        b0 = torch.rand(m, dtype=torch.float64) * 2 - 1
        X = torch.rand(n, 3, dtype=torch.float64) * 2 - 1
        t = {k: v.double() for k, v in supernet.items()}
        Y = reference_forward(t, layer, config, W0, b0, X)
        for name, value in (("W0", W0), ("b0", b0), ("X", X), ("Y", Y)):
            reference[f"{layer}.{name}"] = ("F64", value.numpy())
    st.write(os.path.join(folder, "reference.safetensors"), reference)

    out = os.path.join(folder, "converted.safetensors")
    result = run_converter(checkpoint, "--search-checkpoint", search, "-o", out)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    print(result.stdout.strip())
    config_json = os.path.join(folder, "configs.json")
    with open(config_json, "w") as f:
        json.dump(configs, f)
    result = call_converter(checkpoint, "--config", config_json, "--trim", "-o",
                            os.path.join(folder, "trimmed.safetensors"))
    if result.returncode != 0:
        raise SystemExit(result.stderr)

    # Broken inputs: one line, exit status 1, nothing written.
    bad = os.path.join(folder, "bad.safetensors")
    with open(os.path.join(folder, "two.json"), "w") as f:
        json.dump(configs[:2], f)
    expect_failure(f"{folder}/two.json has 2 layer configs but {checkpoint} has 3 adapted layers "
                   "(blocks.0.attn.qkv, blocks.0.mlp.fc1, blocks.0.mlp.fc2)",
                   checkpoint, "--config", os.path.join(folder, "two.json"), "-o", bad)
    wrong = [dict(c) for c in configs]
    wrong[1]["B"] = "LoRA_8"
    with open(os.path.join(folder, "wide.json"), "w") as f:
        json.dump(wrong, f)
    expect_failure("tensor blocks.0.mlp.fc1.Bd (slot B = LoRA_8) has shape [8, 4], too small for its choice",
                   checkpoint, "--config", os.path.join(folder, "wide.json"), "-o", bad)
    wrong[1]["B"] = "matrix"
    with open(os.path.join(folder, "unknown.json"), "w") as f:
        json.dump(wrong, f)
    expect_failure(f"{folder}/unknown.json: entry 1: slot B cannot be 'matrix' (it takes LoRA, vector, constant, none)",
                   checkpoint, "--config", os.path.join(folder, "unknown.json"), "-o", bad)
    torch.save({"epoch": 3}, os.path.join(folder, "not_search.pth"))
    expect_failure(f"{folder}/not_search.pth: has no keep_top_k[10][0] (is it the search checkpoint?)",
                   checkpoint, "--search-checkpoint", os.path.join(folder, "not_search.pth"), "-o", bad)
    nan = dict(supernet)
    nan["blocks.0.attn.qkv.Ad"] = supernet["blocks.0.attn.qkv.Ad"].clone()
    nan["blocks.0.attn.qkv.Ad"][1, 1] = float("nan")
    torch.save(nan, os.path.join(folder, "nan.pth"))
    expect_failure("tensor blocks.0.attn.qkv.Ad (slot A = LoRA_2) holds NaN or infinity",
                   os.path.join(folder, "nan.pth"), "--search-checkpoint", search, "-o", bad)
    with open(os.path.join(folder, "garbage.pth"), "wb") as f:
        f.write(b"not a checkpoint")
    result = run_converter(os.path.join(folder, "garbage.pth"), "--search-checkpoint", search, "-o", bad)
    if result.returncode != 1 or len(result.stderr.strip().splitlines()) != 1:
        raise SystemExit(f"a garbage checkpoint: expected one line and exit 1, got {result.stderr!r}")
    if os.path.exists(bad) or any(name.startswith(".bad") for name in os.listdir(folder)):
        raise SystemExit("a failed conversion left a file behind")
    print("the converter refused every broken input with one line")


if __name__ == "__main__":
    main()
