"""Every way the glora tool refuses to work: its exit code, its whole one-line message on stderr,
nothing on stdout, and no output (nor a temporary file or folder) left behind.

Usage: test_errors.py WORK_FOLDER   (the tool: the environment variable GLORA_TOOL)"""

import json
import os
import resource
import shutil
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tool_files as tf  # noqa: E402  (exits as skipped where NumPy is missing)
from tool_files import np  # noqa: E402

USAGE, MISSING, BROKEN, MISMATCH, DTYPE, EXISTS, WRITE = 2, 3, 4, 5, 6, 7, 8
FC = dict(A="LoRA_2", B="vector", C="vector", D="vector", E="constant")
PROJ = dict(A="vector", B="none", C="none", D="none", E="vector")

rng = np.random.default_rng(11)
checked = 0


def expect(status, message, *args, out=None, **options):
    """Runs the tool; it must exit with `status`, print "glora: <message>" alone on stderr and
    nothing on stdout, and leave nothing at `out` or beside it."""
    global checked
    code, stdout, stderr = tf.run(*args, **options)
    assert (code, stderr, stdout) == (status, f"glora: {message}\n", ""), \
        f"glora {' '.join(args)}\n  expected {status}: glora: {message}\n  got {code}: {stderr!r} {stdout!r}"
    if out is not None:
        assert not os.path.exists(out), f"{out} exists after: glora {' '.join(args)}"
        assert tf.leftovers(os.path.dirname(out), os.path.basename(out)) == []
    checked += 1


def glora_adapter(path, layers, tensors=None):
    """A glora adapter file: layers name -> (config, out, in); random tensors unless given."""
    tensors = dict(tensors or {})
    for name, (config, out, inp) in layers.items():
        for part, value in write_test_files_tensors(config, out, inp).items():
            tensors.setdefault(f"{name}.{part}", ("F32", value))
    metadata = {"format": "glora", "glora.version": "1",
                "glora.config": json.dumps({n: c for n, (c, o, i) in layers.items()})}
    tf.st.write(path, tensors, metadata)


def write_test_files_tensors(config, out, inp):
    return tf.write_test_files.random_tensors(config, out, inp, None)


def model(path, weights, shards=None):
    """A base model: name -> shape (F32), or name -> (dtype, shape)."""
    tensors = {}
    for name, spec in weights.items():
        dtype, shape = spec if isinstance(spec[0], str) else ("F32", spec)
        tensors[name] = (dtype, rng.uniform(-1, 1, shape) if dtype in tf.FLOATS else np.zeros(shape))
    tf.write_model(path, tensors, shards)


def main():
    d = sys.argv[1]
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    base, adapter, out = f"{d}/base.safetensors", f"{d}/adapter.safetensors", f"{d}/out.safetensors"
    model(base, {"fc.weight": [4, 3], "fc.bias": [4], "proj.weight": [2, 4], "ids": ("I64", [3])})
    glora_adapter(adapter, {"fc": (FC, 4, 3), "proj": (PROJ, 2, 4)})
    merge = ["merge", "--base", base, "--adapter", adapter, "--out", out]

    # Usage.
    expect(USAGE, "no command given (the commands are inspect and merge; see glora --help)")
    expect(USAGE, 'unknown command "frobnicate" (the commands are inspect and merge; see glora --help)',
           "frobnicate")
    expect(USAGE, "merge: --out is required (see glora merge --help)", *merge[:-2], out=out)
    expect(USAGE, "merge: --base is required (see glora merge --help)", "merge", *merge[3:], out=out)
    expect(USAGE, "merge: unknown option --bse (see glora merge --help)", "merge", "--bse", base)
    expect(USAGE, "merge: --out needs a value (see glora merge --help)", *merge[:-1])
    expect(USAGE, "merge: --out is given twice (see glora merge --help)", *merge, "--out", out, out=out)
    expect(USAGE, "merge: --force takes no value (see glora merge --help)", *merge, "--force=yes", out=out)
    expect(USAGE, "merge: unexpected argument extra (expected options only) (see glora merge --help)",
           *merge, "extra", out=out)
    expect(USAGE, "merge: --block-size 12X: expected a positive number of bytes, optionally with K, M "
           "or G (see glora merge --help)", *merge, "--block-size", "12X", out=out)
    expect(USAGE, "inspect: expected one FILE_OR_FOLDER (see glora inspect --help)", "inspect")
    expect(USAGE, "inspect: unknown option -j (see glora inspect --help)", "inspect", "-j", base)

    # Missing inputs.
    expect(MISSING, f"--base {d}/nope.safetensors: no such file or folder",
           "merge", "--base", f"{d}/nope.safetensors", "--adapter", adapter, "--out", out, out=out)
    expect(MISSING, f"--adapter {d}/nope: no such file or folder",
           "merge", "--base", base, "--adapter", f"{d}/nope", "--out", out, out=out)
    os.makedirs(f"{d}/not_peft")
    expect(MISSING, f"--adapter {d}/not_peft: the folder has no adapter_config.json (a PEFT adapter "
           "folder holds adapter_config.json and adapter_model.safetensors)",
           "merge", "--base", base, "--adapter", f"{d}/not_peft", "--out", out, out=out)
    expect(MISSING, f"--base {d}/not_peft: the folder has neither model.safetensors.index.json nor "
           "model.safetensors", "merge", "--base", f"{d}/not_peft", "--adapter", adapter, "--out", out,
           out=out)
    model(f"{d}/sharded", {"fc.weight": [4, 3], "fc.bias": [4], "proj.weight": [2, 4]},
          shards=[["fc.weight", "fc.bias"], ["proj.weight"]])
    os.rename(f"{d}/sharded/model-00002-of-00002.safetensors", f"{d}/shard2")
    expect(MISSING, f"{d}/sharded/model-00002-of-00002.safetensors: no such file (a shard that "
           f"{d}/sharded/model.safetensors.index.json names)",
           "merge", "--base", f"{d}/sharded", "--adapter", adapter, "--out", f"{d}/out_sharded",
           out=f"{d}/out_sharded")
    os.rename(f"{d}/shard2", f"{d}/sharded/model-00002-of-00002.safetensors")
    expect(MISSING, f"{d}/nope: no such file or folder", "inspect", f"{d}/nope")

    # Broken inputs: the reader's message.
    with open(f"{d}/short.safetensors", "wb") as f:
        f.write(b"12345")
    expect(BROKEN, f"{d}/short.safetensors: the file is 5 bytes; a safetensors file starts with an "
           "8-byte header length", "merge", "--base", f"{d}/short.safetensors", "--adapter", adapter,
           "--out", out, out=out)
    expect(BROKEN, f'{base}: not a glora adapter file: __metadata__ "format" is "pt", expected "glora"',
           "merge", "--base", base, "--adapter", base, "--out", out, out=out)
    nan = write_test_files_tensors(FC, 4, 3)
    nan["Bd"][2, 0] = np.nan
    glora_adapter(f"{d}/nan.safetensors", {"fc": (FC, 4, 3)}, {f"fc.{k}": ("F32", v) for k, v in nan.items()})
    expect(BROKEN, f'{d}/nan.safetensors: tensor "fc.Bd" holds nan at [2, 0] (values that are not finite '
           "are refused unless allow_non_finite is set)",
           "merge", "--base", base, "--adapter", f"{d}/nan.safetensors", "--out", out, out=out)
    index = f"{d}/sharded/model.safetensors.index.json"
    with open(index) as f:
        good_index = f.read()
    with open(index, "w") as f:
        f.write('{"weight_map": {"fc.weight": "../base.safetensors"}}')
    expect(BROKEN, f'{index}: "weight_map": tensor "fc.weight" maps to "../base.safetensors", which is not '
           "a file name in the index's folder", "merge", "--base", f"{d}/sharded", "--adapter", adapter,
           "--out", f"{d}/out_sharded", out=f"{d}/out_sharded")
    with open(index, "w") as f:
        f.write(good_index)

    # An adapter layer without its base tensors, or with other shapes.
    model(f"{d}/no_proj.safetensors", {"fc.weight": [4, 3], "fc.bias": [4]})
    expect(MISMATCH, f'adapter layer "proj" has no base tensor "proj.weight" in {d}/no_proj.safetensors',
           "merge", "--base", f"{d}/no_proj.safetensors", "--adapter", adapter, "--out", out, out=out)
    model(f"{d}/wide.safetensors", {"fc.weight": [4, 5], "fc.bias": [4], "proj.weight": [2, 4]})
    expect(MISMATCH, 'adapter layer "fc" is 4 x 3 (out x in), but the base tensor "fc.weight" is [4, 5]',
           "merge", "--base", f"{d}/wide.safetensors", "--adapter", adapter, "--out", out, out=out)
    model(f"{d}/bias.safetensors", {"fc.weight": [4, 3], "fc.bias": [3], "proj.weight": [2, 4]})
    expect(MISMATCH, 'adapter layer "fc" is 4 x 3 (out x in), but the base tensor "fc.bias" is [3], '
           "expected [4]",
           "merge", "--base", f"{d}/bias.safetensors", "--adapter", adapter, "--out", out, out=out)
    model(f"{d}/proj3.safetensors", {"fc.weight": [4, 3], "fc.bias": [4], "proj.weight": [3, 4]})
    expect(MISMATCH, 'adapter layer "proj" is 2 x ? (out x in), but the base tensor "proj.weight" is [3, 4]',
           "merge", "--base", f"{d}/proj3.safetensors", "--adapter", adapter, "--out", out, out=out)
    expect(MISMATCH, 'adapter layer "fc" does not start with the prefix "model." given by --prefix',
           *merge, "--prefix", "model.", out=out)
    glora_adapter(f"{d}/twice.safetensors", {"fc": (FC, 4, 3), "base_model.model.fc": (FC, 4, 3)})
    expect(MISMATCH, 'adapter layers "base_model.model.fc" and "fc" both map to the base module "fc"',
           "merge", "--base", base, "--adapter", f"{d}/twice.safetensors", "--out", out, out=out)

    # A dtype the merge cannot compute in.
    model(f"{d}/int8.safetensors", {"fc.weight": ("I8", [4, 3]), "fc.bias": [4], "proj.weight": [2, 4]})
    expect(DTYPE, f'{d}/int8.safetensors: tensor "fc.weight" is I8; the merge computes with F32, F64, '
           "BF16 and F16 tensors",
           "merge", "--base", f"{d}/int8.safetensors", "--adapter", adapter, "--out", out, out=out)
    model(f"{d}/int_bias.safetensors", {"fc.weight": [4, 3], "fc.bias": ("I32", [4]), "proj.weight": [2, 4]})
    expect(DTYPE, f'{d}/int_bias.safetensors: tensor "fc.bias" is I32; the merge computes with F32, F64, '
           "BF16 and F16 tensors",
           "merge", "--base", f"{d}/int_bias.safetensors", "--adapter", adapter, "--out", out, out=out)

    # An output that exists: refused, then replaced with --force.
    with open(out, "w") as f:
        f.write("keep")
    code, stdout, stderr = tf.run(*merge)
    assert (code, stderr) == (EXISTS, f"glora: --out {out} exists (--force replaces it)\n"), stderr
    with open(out) as f:
        assert f.read() == "keep"
    assert tf.run(*merge, "--force", "--quiet") == (0, "", "")
    assert tf.st.read_raw(out)[0].keys() == tf.st.read_raw(base)[0].keys() | {"proj.bias"}
    os.remove(out)
    os.makedirs(f"{d}/folder")
    expect(EXISTS, f"--out {d}/folder is a folder; the merged model of a single-file base is a file "
           "(name one)", *merge[:-1], f"{d}/folder", "--force")
    sharded = ["merge", "--base", f"{d}/sharded", "--adapter", adapter, "--out", f"{d}/folder"]
    expect(EXISTS, f"--out {d}/folder exists (--force replaces it)", *sharded)
    assert tf.run(*sharded, "--force", "--quiet") == (0, "", "")
    assert sorted(os.listdir(f"{d}/folder")) == ["model-00001-of-00002.safetensors",
                                                 "model-00002-of-00002.safetensors",
                                                 "model.safetensors.index.json"]
    assert tf.leftovers(d, "folder") == []

    # An output that cannot be written.
    expect(WRITE, f"{d}/no/such/out.safetensors: cannot create a temporary file in its folder: No such "
           "file or directory", *merge[:-1], f"{d}/no/such/out.safetensors")
    expect(WRITE, f"{d}/no/out: cannot create a temporary folder beside it: No such file or directory",
           *sharded[:-1], f"{d}/no/out")

    def file_size_limit():  # writes past 200 bytes fail with EFBIG instead of a signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))

    expect(WRITE, f"{out}: writing failed after 200 bytes: File too large", *merge,
           preexec_fn=file_size_limit, out=out)
    expect(WRITE, f"{d}/big/model-00001-of-00002.safetensors: writing failed after 200 bytes: File too "
           "large", *sharded[:-1], f"{d}/big", preexec_fn=file_size_limit, out=f"{d}/big")
    print(f"{checked} failures give their exit codes and messages and leave no output")


if __name__ == "__main__":
    main()
