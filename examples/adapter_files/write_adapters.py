"""Writes adapters.safetensors, a glora adapter file for load_and_merge.cpp, with NumPy only.

A glora adapter file is a safetensors file: <layer>.Ad, <layer>.Au, ... <layer>.E in the GLoRA
reference's names and PyTorch shapes, and the configuration in __metadata__. Replace the random
tensors with trained ones (or convert a reference checkpoint with
scripts/convert_reference_checkpoint.py).

Usage: write_adapters.py FOLDER"""

import json
import os
import struct
import sys

import numpy as np


def save_safetensors(path, tensors, metadata):
    """tensors: dict name -> float32 array. The safetensors layout: an 8-byte little-endian header
    length, the JSON header (padded with spaces to a multiple of 8), then the raw data."""
    header, offset = {"__metadata__": metadata}, 0
    for name, array in tensors.items():
        size = array.astype("<f4").nbytes
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for array in tensors.values():
            f.write(np.ascontiguousarray(array, dtype="<f4").tobytes())


def main():
    rng = np.random.default_rng(0)
    small = lambda *shape: (rng.standard_normal(shape) * 0.1).astype(np.float32)  # noqa: E731
    tensors = {
        # fc1 (32 x 16): A = LoRA_4, B = vector, C = none, D = vector, E = vector
        "fc1.Ad": small(32, 4), "fc1.Au": small(4, 16), "fc1.Bd": small(32, 1),
        "fc1.D": small(32), "fc1.E": small(32),
        # fc2 (4 x 32): A = constant, B = LoRA_2, C = vector, D = none, E = constant
        "fc2.Ad": small(1, 1), "fc2.Bd": small(4, 2), "fc2.Bu": small(2, 32), "fc2.Cd": small(32, 1),
        "fc2.E": small(1),
    }
    config = {
        "fc1": {"A": "LoRA_4", "B": "vector", "C": "none", "D": "vector", "E": "vector"},
        "fc2": {"A": "constant", "B": "LoRA_2", "C": "vector", "D": "none", "E": "constant"},
    }
    metadata = {"format": "glora", "glora.version": "1", "glora.config": json.dumps(config),
                "glora.shapes": json.dumps({"fc1": [32, 16], "fc2": [4, 32]})}
    path = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "adapters.safetensors")
    save_safetensors(path, tensors, metadata)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
