"""What the tests of the glora command-line tool share: running the tool, reading adapters with
NumPy (independently of glora's C++ readers), the merge formula evaluated in NumPy, and writing
base models (single files and shards) as Hugging Face lays them out.

The tool is the program named by the environment variable GLORA_TOOL."""

import json
import os
import shutil
import subprocess
import sys

try:
    import numpy as np
except ImportError:  # CTest counts exit status 77 as skipped
    print(f"skipped: {sys.executable} cannot import numpy")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "files"))
import safetensors_numpy as st  # noqa: E402
import write_test_files  # noqa: E402

FLOATS = ("F16", "BF16", "F32", "F64")


def fresh_folder_with_adapters(folder):
    """Empties `folder` (made if missing) and writes tests/files' adapters into it:
    py_adapters.safetensors, peft_lora/, peft_named/, peft_wide/."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    argv = sys.argv
    sys.argv = [argv[0], folder]
    try:
        write_test_files.main()
    finally:
        sys.argv = argv


def tool():
    return os.environ["GLORA_TOOL"]


def run(*args, **options):
    """Runs the tool with `args`; returns (exit status, stdout, stderr)."""
    done = subprocess.run([tool(), *args], capture_output=True, text=True, **options)
    return done.returncode, done.stdout, done.stderr


def adapter_layers(path):
    """[(name as stored, config, tensors by reference name)] of a glora adapter file or a PEFT
    GLoRA adapter folder, sorted by name. PEFT's module names keep their base_model.model."""
    if not os.path.isdir(path):
        values, metadata = st.read(path)
        configs = json.loads(metadata["glora.config"])
        return [(name, config, {k[len(name) + 1:]: v for k, v in values.items()
                                if k.rsplit(".", 1)[0] == name})
                for name, config in sorted(configs.items())]
    with open(os.path.join(path, "adapter_config.json")) as f:
        peft = json.load(f)
    spell = lambda choice: f"LoRA_{peft['r']}" if choice == "lora" else choice  # noqa: E731
    values, _ = st.read(os.path.join(path, "adapter_model.safetensors"))
    modules = {}
    for name, value in values.items():
        if ".glora_" not in name:
            continue
        module, rest = name.rsplit(".glora_", 1)
        slot, part = rest[0], rest.rsplit(".", 1)[1]
        tensors = modules.setdefault(module, {})
        if part in ("D", "E"):
            tensors[part] = value.reshape(-1)
        elif part == slot:  # vector [rows, 1] or constant [1]: the down tensor of A, B, C
            tensors[slot + "d"] = value.reshape(-1, 1)
        else:
            tensors[part] = value
    layers = []
    for module, tensors in sorted(modules.items()):
        config = dict(A=spell(peft["config_A_B"]), B=spell(peft["config_A_B"]), C=spell(peft["config_C"]),
                      D=spell(peft["config_D_E"]), E=spell(peft["config_D_E"]))
        if not any(k in tensors for k in ("Cd", "Cu", "D", "E")):  # a base layer without a bias
            config.update(C="none", D="none", E="none")
        layers.append((module, config, tensors))
    return layers


def expected_merge(W0, b0, config, tensors):
    """The merged weight and bias in float64 (bias None for a layer without one whose adapter
    adds none)."""
    W, b = write_test_files.merged(W0, b0, config, tensors)
    adds_bias = config["C"] != "none" or config["E"] != "none"
    return W, (b if b0 is not None or adds_bias else None)


def ulp_tolerance(dtype, reference):
    """How far a value computed in float (double for F64) and rounded once to `dtype` may be from
    the exact result: one unit in the last place of the dtype, plus float's rounding."""
    relative = {"F64": 1e-12, "F32": 1e-5, "BF16": 2.0 ** -7, "F16": 2.0 ** -10}[dtype]
    return relative * np.abs(reference) + 1e-5 * (dtype != "F64")


def write_model(path, tensors, shards=None, metadata=None, index_metadata=None):
    """Writes `tensors` (name -> (dtype, array), in that order) as one safetensors file at `path`,
    or, with `shards` (a list of lists of names), as a folder `path` of shards
    model-0000k-of-0000n.safetensors and their model.safetensors.index.json."""
    metadata = metadata if metadata is not None else {"format": "pt"}
    if shards is None:
        st.write(path, tensors, metadata)
        return
    os.makedirs(path, exist_ok=True)
    weight_map, total = {}, 0
    for k, names in enumerate(shards):
        file = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        st.write(os.path.join(path, file), {n: tensors[n] for n in names}, dict(metadata, shard=str(k + 1)))
        for n in names:
            weight_map[n] = file
    raw = {}
    for file in set(weight_map.values()):
        raw.update(st.read_raw(os.path.join(path, file))[0])
    total = sum(len(raw[n][2]) for n in weight_map)
    index = {"metadata": dict(index_metadata or {}, total_size=total), "weight_map": weight_map}
    with open(os.path.join(path, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)


def read_model(path):
    """name -> (dtype, shape, raw bytes) of a model file or shard folder, the metadata of each file
    (by shard file name; "" for one file), and the index (None for one file)."""
    if not os.path.isdir(path):
        raw, metadata = st.read_raw(path)
        return raw, {"": metadata}, None
    with open(os.path.join(path, "model.safetensors.index.json")) as f:
        index = json.load(f)
    raw, metadata = {}, {}
    for file in sorted(set(index["weight_map"].values())):
        tensors, metadata[file] = st.read_raw(os.path.join(path, file))
        raw.update(tensors)
    return raw, metadata, index


def values(entry):
    """The float64 values of a (dtype, shape, raw bytes) entry."""
    dtype, shape, raw = entry
    if dtype == "BF16":
        flat = st.bf16_values(np.frombuffer(raw, dtype="<u2"))
    else:
        flat = np.frombuffer(raw, dtype=np.dtype({"F16": np.float16, "F32": np.float32,
                                                  "F64": np.float64}[dtype]).newbyteorder("<"))
    return flat.astype(np.float64).reshape(shape)


def leftovers(folder, name):
    """Entries of `folder` that a write of `name` may leave on failure: temporary files and folders."""
    return sorted(e for e in os.listdir(folder) if e.startswith("." + name + "."))
