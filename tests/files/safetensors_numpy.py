"""A safetensors writer and reader in plain Python and NumPy, written from the format's
description, independent of glora's C++ code: the tests use it to make files as other tools do."""

import json
import struct

import numpy as np

_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64}
# Other dtypes are written and read as raw integers (a model's ids, masks, quantised weights).
_INTEGER_DTYPES = {"BOOL": np.uint8, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "I32": np.int32,
                   "I64": np.int64}


def bf16_bits(values):
    """float32 values rounded to bfloat16 (nearest even), as uint16 bit patterns."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_values(bits):
    """The float32 values of bfloat16 bit patterns."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def stored(array, dtype):
    """What a tensor holds once written as `dtype`, as float64: the values a reader gets."""
    array = np.asarray(array, dtype=np.float64)
    if dtype == "BF16":
        return bf16_values(bf16_bits(array.astype(np.float32))).astype(np.float64).reshape(array.shape)
    return array.astype(_DTYPES[dtype]).astype(np.float64)


def write(path, tensors, metadata=None):
    """tensors: dict name -> (dtype, array). Writes them contiguously in the given order."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    chunks = []
    offset = 0
    for name, (dtype, array) in tensors.items():
        array = np.asarray(array)
        if dtype == "BF16":
            raw = bf16_bits(array.astype(np.float32)).astype("<u2").tobytes()
        else:
            numpy_type = _DTYPES.get(dtype) or _INTEGER_DTYPES[dtype]
            raw = np.ascontiguousarray(array, dtype=np.dtype(numpy_type).newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


def read_raw(path):
    """dict name -> (dtype, shape, raw bytes) in header order, and the metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    out = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        out[name] = (entry["dtype"], entry["shape"], data[8 + n + begin : 8 + n + end])
    return out, metadata


def read(path):
    """dict name -> float64 array (F16, F32, F64, BF16), and the metadata."""
    tensors, metadata = read_raw(path)
    out = {}
    for name, (dtype, shape, raw) in tensors.items():
        if dtype == "BF16":
            values = bf16_values(np.frombuffer(raw, dtype="<u2"))
        else:
            values = np.frombuffer(raw, dtype=np.dtype(_DTYPES[dtype]).newbyteorder("<"))
        out[name] = values.astype(np.float64).reshape(shape)
    return out, metadata
