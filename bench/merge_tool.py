#!/usr/bin/env python3
"""Times `glora merge` against `cp` of the same base file, side by side, and reads the peak memory
of each.

In a temporary folder it writes a base model of LAYERS linear layers of SIZE x SIZE with a bias
(<layer>.weight, <layer>.bias: the Hugging Face layout), in each dtype asked for, and a PEFT GLoRA
adapter folder with LowRank-8 A and B on every layer (r = 8, config_A_B "lora", C, D and E none).
Then, REPETITIONS times and in alternating order, it copies the base with `cp` and merges it with
`glora merge`, each into a fresh output, timing each (wall clock) and reading its peak resident
memory with /usr/bin/time -f %M. It prints every run, then the median of the per-repetition ratios
glora / cp, and the peak RSS over the base's size.

The page cache: caches are not dropped (that needs root and is not done here), so every run
reads a base that is already cached: one untimed run of each command first brings it in, and the
machine must have room for it. Before every timed run, outside its timing, the previous output is
removed, everything is synced, and the script waits PAUSE seconds (3 by default), so that both
commands start from the same state: no dirty pages, and the memory the previous run freed given
back to the host where the machine is a virtual machine that does so (free page reporting), as
after a cold start. glora merge flushes its output to the device before it returns (fsync, then
rename); cp does not, so a second baseline, `cp` followed by `sync FILE` of the copy (its dirty
pages forced out, as glora's are), is timed on the same copy.

Usage: bench/merge_tool.py --glora PATH [--layers N] [--size N] [--dtypes F32,BF16]
                           [--repetitions N] [--pause SECONDS] [--dir FOLDER] [--block-size SIZE]
PATH is a glora built in Release, e.g.:
  cmake -S . -B build/native -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-march=native \\
    -DGLORA_BUILD_TESTS=OFF -DGLORA_BUILD_EXAMPLES=OFF -DGLORA_BUILD_BENCHMARKS=OFF
  cmake --build build/native --target glora_tool      # build/native/tools/glora/glora
Needs NumPy (Debian's /usr/bin/python3 has it) and GNU time (/usr/bin/time)."""

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import tempfile
import time

import numpy as np


def bf16(values):
    """float32 values rounded to bfloat16 (nearest even), as little-endian uint16."""
    bits = values.view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")


def write_safetensors(path, specs, make, metadata):
    """specs: [(name, dtype, shape)]; make(name) returns the tensor's bytes, one at a time."""
    sizes = {"F32": 4, "BF16": 2}
    header, offset = {"__metadata__": metadata}, 0
    for name, dtype, shape in specs:
        n = sizes[dtype] * int(np.prod(shape))
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, dtype, shape in specs:
            f.write(make(name))


def write_base(path, layers, size, dtype, rng):
    specs = []
    for i in range(layers):
        specs += [(f"model.layers.{i}.proj.weight", dtype, (size, size)),
                  (f"model.layers.{i}.proj.bias", dtype, (size,))]

    def make(name):
        n = size * size if name.endswith(".weight") else size
        values = rng.standard_normal(n, dtype=np.float32) * np.float32(0.02)
        return (bf16(values) if dtype == "BF16" else values.astype("<f4")).tobytes()

    write_safetensors(path, specs, make, {"format": "pt"})


def write_adapter(folder, layers, size, rank, rng):
    os.makedirs(folder)
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "GLORA", "r": rank, "config_A_B": "lora", "config_C": "none",
                   "config_D_E": "none", "target_modules": ["proj"]}, f)
    specs = []
    for i in range(layers):
        for slot in "AB":
            prefix = f"base_model.model.model.layers.{i}.proj.glora_{slot}."
            specs += [(prefix + slot + "d", "F32", (size, rank)), (prefix + slot + "u", "F32", (rank, size))]
    write_safetensors(os.path.join(folder, "adapter_model.safetensors"), specs,
                      lambda name: (rng.standard_normal(size * rank, dtype=np.float32) * np.float32(0.01))
                      .astype("<f4").tobytes(), {"format": "pt"})


def timed(command):
    """(wall seconds, peak RSS in bytes) of one run of `command`."""
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *command], check=True,
                       stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        return seconds, int(rss.read().split()[-1]) * 1024


def clear(path, pause=0.0):
    if os.path.exists(path):
        os.remove(path)
    os.sync()
    time.sleep(pause)


def measure(glora, base, adapter, folder, repetitions, pause, block_size):
    copy, merged = os.path.join(folder, "copy.safetensors"), os.path.join(folder, "merged.safetensors")
    cp = ["cp", base, copy]
    merge = [glora, "merge", "--base", base, "--adapter", adapter, "--out", merged, "--quiet"]
    merge += ["--block-size", block_size] if block_size else []
    for command, out in ((cp, copy), (merge, merged)):  # untimed: the base into the page cache
        subprocess.run(command, check=True)
        clear(out, pause)
    runs = []
    for k in range(repetitions):
        result = {}
        for what in (("cp", "glora") if k % 2 == 0 else ("glora", "cp")):
            if what == "cp":
                result["cp"], result["cp_rss"] = timed(cp)
                start = time.perf_counter()
                subprocess.run(["sync", copy], check=True)
                result["sync"] = time.perf_counter() - start
                clear(copy, pause)
            else:
                result["glora"], result["glora_rss"] = timed(merge)
                clear(merged, pause)
        runs.append(result)
        print(f"  {k + 1}: cp {result['cp']:.3f} s (+ sync {result['sync']:.3f} s), glora merge "
              f"{result['glora']:.3f} s, peak RSS {result['glora_rss'] / 1e6:.1f} MB "
              f"(cp {result['cp_rss'] / 1e6:.1f} MB)", flush=True)
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--glora", required=True)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--dtypes", default="F32,BF16")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds of rest before each timed run")
    parser.add_argument("--dir", default=None, help="where the temporary folder goes")
    parser.add_argument("--block-size", default=None, help="glora merge --block-size")
    args = parser.parse_args()
    glora = os.path.abspath(args.glora)
    folder = tempfile.mkdtemp(prefix="glora_merge_bench_", dir=args.dir)
    try:
        rng = np.random.default_rng(0)
        adapter = os.path.join(folder, "adapter")
        write_adapter(adapter, args.layers, args.size, 8, rng)
        for dtype in args.dtypes.split(","):
            base = os.path.join(folder, f"base_{dtype}.safetensors")
            write_base(base, args.layers, args.size, dtype, rng)
            size = os.path.getsize(base)
            print(f"{dtype} base: {args.layers} layers of {args.size} x {args.size} with a bias, "
                  f"{size / 1e9:.3f} GB; LowRank-8 A and B on every layer", flush=True)
            runs = measure(glora, base, adapter, folder, args.repetitions, args.pause, args.block_size)
            ratio = statistics.median(r["glora"] / r["cp"] for r in runs)
            ratio_sync = statistics.median(r["glora"] / (r["cp"] + r["sync"]) for r in runs)
            rss = max(r["glora_rss"] for r in runs)
            print(f"{dtype}: glora merge / cp = {ratio:.2f} (median of {len(runs)} paired runs; "
                  f"{min(r['glora'] / r['cp'] for r in runs):.2f} to {max(r['glora'] / r['cp'] for r in runs):.2f}), "
                  f"glora merge / (cp + sync) = {ratio_sync:.2f}; "
                  f"median times: cp {statistics.median(r['cp'] for r in runs):.3f} s, "
                  f"cp + sync {statistics.median(r['cp'] + r['sync'] for r in runs):.3f} s, "
                  f"glora {statistics.median(r['glora'] for r in runs):.3f} s; "
                  f"peak RSS {rss / 1e6:.1f} MB = {100 * rss / size:.1f}% of the base", flush=True)
            os.remove(base)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
