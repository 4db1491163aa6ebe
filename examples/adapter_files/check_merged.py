"""Reads merged.safetensors, written by load_and_merge.cpp, as any safetensors reader would, and
checks that it is the plain model: fc1.weight [32, 16], fc1.bias [32], fc2.weight [4, 32],
fc2.bias [4], finite F32 values. With PyTorch and the safetensors package installed,
safetensors.torch.load_file(path) gives the same tensors for model.load_state_dict.

Usage: check_merged.py FOLDER"""

import json
import os
import struct
import sys

import numpy as np


def main():
    path = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "merged.safetensors")
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    expected = {"fc1.weight": [32, 16], "fc1.bias": [32], "fc2.weight": [4, 32], "fc2.bias": [4]}
    shapes = {name: entry["shape"] for name, entry in header.items() if name != "__metadata__"}
    if shapes != expected:
        sys.exit(f"{path}: tensors {shapes}, expected {expected}")
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        values = np.frombuffer(data[8 + n + begin : 8 + n + end], dtype="<f4").reshape(entry["shape"])
        if entry["dtype"] != "F32" or not np.isfinite(values).all():
            sys.exit(f"{path}: {name} is not finite F32")
    print(f"{path}: {', '.join(f'{k} {v}' for k, v in shapes.items())}: a plain PyTorch state dict")


if __name__ == "__main__":
    main()
