#!/usr/bin/env python3
"""Converts a checkpoint of the GLoRA reference implementation (PyTorch) into a glora adapter file.

The reference saves its supernet's trainable tensors with torch.save, as a dict keyed by module
path and tensor name (blocks.0.attn.qkv.Ad, ..., head.weight), and keeps the searched
configuration only in its search checkpoint (keep_top_k[10][0]: one {"A": ..., "E": ...} dict per
adapted linear layer, in module order). This script pairs the two and writes

  <layer>.Ad, <layer>.Au, ... <layer>.E      the tensors (the supernet's, or with --trim the part
                                             each choice uses), in their PyTorch shapes
  __metadata__ format, glora.version, glora.config, glora.shapes

which glora::io::load_adapters reads into fixed C++ layers. Needs PyTorch (Debian: python3-torch).

Usage:
  convert_reference_checkpoint.py CHECKPOINT (--search-checkpoint FILE | --config FILE) -o OUT
      [--trim] [--shape LAYER=OUTxIN ...]

--config takes a JSON list of the per-layer dicts (Python's printed form with single quotes is
accepted too). Anything unexpected stops the conversion with one line on stderr and exit status 1;
nothing is written then.
"""

import argparse
import ast
import json
import os
import re
import struct
import sys
import tempfile

PARTS = ("Ad", "Au", "Bd", "Bu", "Cd", "Cu", "D", "E")
SLOTS = "ABCDE"
ALLOWED = {
    "A": ("LoRA", "vector", "constant", "none"),
    "B": ("LoRA", "vector", "constant", "none"),
    "C": ("LoRA", "vector", "none"),
    "D": ("vector", "constant", "none"),
    "E": ("vector", "constant", "none"),
}


class ConversionError(Exception):
    pass


def fail(message):
    raise ConversionError(message)


def load_torch(path):
    import torch  # imported here so that --help works without PyTorch

    try:
        return torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unreadable file is reported the same way
        fail(f"{path}: cannot be read by torch.load: {type(e).__name__}: {e}")


def tensors_of(checkpoint, path):
    import torch

    if isinstance(checkpoint, dict) and set(checkpoint) in ({"model"}, {"state_dict"}):
        checkpoint = next(iter(checkpoint.values()))
    if not isinstance(checkpoint, dict) or not checkpoint:
        fail(f"{path}: expected a dict of tensors keyed by module path, got {type(checkpoint).__name__}")
    for name, value in checkpoint.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            fail(f"{path}: entry {name!r} is {type(value).__name__}, expected a tensor under a string key")
    return checkpoint


def adapted_layers(tensors):
    """Module paths that hold reference adapter tensors, in the checkpoint's (module) order."""
    layers = []
    for name in tensors:
        module, _, part = name.rpartition(".")
        if part in PARTS and module and module not in layers:
            layers.append(module)
    return layers


def parse_choice(slot, value, where):
    if not isinstance(value, str):
        fail(f"{where}: slot {slot} is {value!r}, expected a string such as 'LoRA_4' or 'vector'")
    match = re.fullmatch(r"LoRA_([1-9][0-9]*)", value)
    kind = "LoRA" if match else value
    if kind not in ALLOWED[slot]:
        fail(f"{where}: slot {slot} cannot be {value!r} (it takes {', '.join(ALLOWED[slot])})")
    return (kind, int(match.group(1)) if match else 0)


def read_configs(args):
    if args.config:
        with open(args.config) as f:
            text = f.read()
        try:
            configs = json.loads(text)
        except ValueError:
            try:
                configs = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                fail(f"{args.config}: neither JSON nor a Python literal list of dicts")
        source = args.config
    else:
        search = load_torch(args.search_checkpoint)
        source = args.search_checkpoint + ": keep_top_k[10][0]"
        try:
            configs = search["keep_top_k"][10][0]
        except (KeyError, IndexError, TypeError):
            fail(f"{args.search_checkpoint}: has no keep_top_k[10][0] (is it the search checkpoint?)")
    if not isinstance(configs, (list, tuple)) or not configs:
        fail(f"{source}: expected a non-empty list of per-layer dicts, got {type(configs).__name__}")
    parsed = []
    for i, c in enumerate(configs):
        if isinstance(c, str):
            try:
                c = ast.literal_eval(c)
            except (ValueError, SyntaxError):
                fail(f"{source}: entry {i} is the text {c!r}, not a dict")
        if not isinstance(c, dict) or sorted(c) != list(SLOTS):
            fail(f"{source}: entry {i} is {c!r}, expected a dict with exactly the keys A, B, C, D, E")
        parsed.append({s: parse_choice(s, c[s], f"{source}: entry {i}") for s in SLOTS})
    return parsed, source


def layer_shape(layer, tensors, forced):
    def dim(part, axis):
        t = tensors.get(f"{layer}.{part}")
        return None if t is None or t.dim() != 2 else int(t.shape[axis])

    if layer in forced:
        return forced[layer]
    out = dim("Ad", 0) or dim("Bd", 0)
    if out is None and f"{layer}.D" in tensors and tensors[f"{layer}.D"].dim() == 1:
        out = int(tensors[f"{layer}.D"].shape[0])
    inp = dim("Au", 1) or dim("Bu", 1) or dim("Cd", 0)
    if out is None or inp is None:
        fail(f"layer {layer}: its tensors do not fix out and in; pass --shape {layer}=OUTxIN")
    return out, inp


def expected_rows(part, out, inp):
    return {"Ad": out, "Bd": out, "Cd": inp, "Au": None, "Bu": None, "Cu": None, "D": out, "E": out}[part]


def check_layer(layer, config, tensors, out, inp):
    """Every tensor the config uses must be there, finite, and large enough (the supernet rule)."""
    import torch

    for name in (f"{layer}.{p}" for p in PARTS):
        t = tensors.get(name)
        if t is not None and not torch.is_floating_point(t):
            fail(f"tensor {name}: dtype {t.dtype}, expected a floating-point tensor")
    for slot in SLOTS:
        kind, rank = config[slot]
        if kind == "none":
            continue
        down = slot + "d" if slot in "ABC" else slot
        needs = [(down, 1 if slot in "DE" else 2, expected_rows(down, out, inp) if kind != "constant" else None,
                  rank if kind == "LoRA" else 1)]
        if kind == "LoRA":
            needs.append((slot + "u", 2, None, inp if slot != "C" else 1))
        for part, dims, rows, cols in needs:
            name = f"{layer}.{part}"
            t = tensors.get(name)
            what = f"tensor {name} (slot {slot} = {'LoRA_%d' % rank if kind == 'LoRA' else kind})"
            if t is None:
                fail(f"{what} is missing")
            if t.dim() != dims:
                fail(f"{what} has shape {list(t.shape)}, expected {dims} dimensions")
            if part.endswith("u"):
                if t.shape[0] < rank or t.shape[1] != cols:
                    fail(f"{what} has shape {list(t.shape)}, expected [at least {rank}, {cols}]")
            else:
                if rows is not None and t.shape[0] != rows:
                    fail(f"{what} has shape {list(t.shape)}, expected {rows} rows")
                if t.shape[0] < 1 or (dims == 2 and t.shape[1] < cols):
                    fail(f"{what} has shape {list(t.shape)}, too small for its choice")
            if not torch.isfinite(t).all():
                fail(f"{what} holds NaN or infinity")


def trimmed(part, t, config):
    """The part of a tensor its choice uses (None when unused), as the supernet rule slices it."""
    slot = part[0]
    kind, rank = config[slot]
    if kind == "none":
        return None
    if part in ("D", "E"):
        return t[:1] if kind == "constant" else t
    if part.endswith("u"):
        return t[:rank] if kind == "LoRA" else None
    if kind == "LoRA":
        return t[:, :rank]
    return t[:, :1] if kind == "vector" else t[:1, :1]


def raw_bytes(t):
    import torch

    t = t.detach().contiguous().cpu()
    names = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}
    if t.dtype not in names:
        fail(f"dtype {t.dtype} cannot be written")
    if t.dtype == torch.bfloat16:
        data = t.view(torch.int16).numpy().astype("<i2").tobytes()
    else:
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
    return names[t.dtype], data


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    chunks, offset = [], 0
    for name, t in tensors:
        dtype, data = raw_bytes(t)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text)
            for data in chunks:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def spell(choice):
    kind, rank = choice
    return f"LoRA_{rank}" if kind == "LoRA" else kind


def convert(args):
    forced = {}
    for item in args.shape:
        match = re.fullmatch(r"(.+)=([0-9]+)x([0-9]+)", item)
        if not match:
            fail(f"--shape {item!r}: expected LAYER=OUTxIN, e.g. blocks.0.attn.qkv=2304x768")
        forced[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    tensors = tensors_of(load_torch(args.checkpoint), args.checkpoint)
    layers = adapted_layers(tensors)
    configs, source = read_configs(args)
    if len(configs) != len(layers):
        fail(f"{source} has {len(configs)} layer configs but {args.checkpoint} has {len(layers)} adapted "
             f"layers ({', '.join(layers[:3])}{', ...' if len(layers) > 3 else ''})")
    out_tensors, config_json, shapes_json = [], {}, {}
    for layer, config in zip(layers, configs):
        out, inp = layer_shape(layer, tensors, forced)
        check_layer(layer, config, tensors, out, inp)
        config_json[layer] = {s: spell(config[s]) for s in SLOTS}
        shapes_json[layer] = [out, inp]
        for part in PARTS:
            t = tensors.get(f"{layer}.{part}")
            if t is not None and args.trim:
                t = trimmed(part, t, config)
            if t is not None:
                out_tensors.append((f"{layer}.{part}", t))
    metadata = {"format": "glora", "glora.version": "1", "glora.config": json.dumps(config_json),
                "glora.shapes": json.dumps(shapes_json),
                "glora.source": os.path.basename(args.checkpoint)}
    write_safetensors(args.output, out_tensors, metadata)
    ignored = len(tensors) - sum(1 for n in tensors if n.rpartition(".")[0] in layers and n.rpartition(".")[2] in PARTS)
    print(f"wrote {args.output}: {len(layers)} layers, {len(out_tensors)} tensors "
          f"({ignored} other tensors of the checkpoint, e.g. the task head, left out)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="the reference's torch.save dict of supernet tensors")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--search-checkpoint", help="the search checkpoint (its keep_top_k[10][0])")
    source.add_argument("--config", help="a JSON file: the list of per-layer dicts, in module order")
    parser.add_argument("-o", "--output", required=True, help="the glora adapter file to write")
    parser.add_argument("--trim", action="store_true", help="store only the part each choice uses")
    parser.add_argument("--shape", action="append", default=[], metavar="LAYER=OUTxIN",
                        help="out and in of a layer whose tensors do not fix them")
    args = parser.parse_args()
    try:
        convert(args)
    except ConversionError as e:
        print(f"convert_reference_checkpoint: error: {e}", file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"convert_reference_checkpoint: error: {e} (install PyTorch, e.g. Debian's python3-torch)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
