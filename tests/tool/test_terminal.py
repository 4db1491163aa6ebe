"""What the glora tool prints when it works: the dry run's report (and that it writes nothing),
the summary, silence with --quiet, progress only on a terminal, the help texts, and the exit codes
in the README equal to those of `glora --help`.

Usage: test_terminal.py WORK_FOLDER   (the tool: GLORA_TOOL; the README: GLORA_README)"""

import os
import pty
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tool_files as tf  # noqa: E402  (exits as skipped where NumPy is missing)
from tool_files import np  # noqa: E402


def on_terminal(*args):
    """Runs the tool with stderr on a pseudo-terminal; returns (status, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    process = subprocess.Popen([tf.tool(), *args], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    screen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        screen += chunk
    stdout = process.stdout.read().decode()
    os.close(master)
    return process.wait(), stdout, screen.decode()


def main():
    d = sys.argv[1]
    tf.fresh_folder_with_adapters(d)
    rng = np.random.default_rng(5)
    base, adapter, out = f"{d}/model.safetensors", f"{d}/peft_lora", f"{d}/merged.safetensors"
    tf.write_model(base, {"model.layers.0.self_attn.q_proj.weight": ("BF16", rng.uniform(-1, 1, (6, 5))),
                          "model.layers.0.self_attn.q_proj.bias": ("BF16", rng.uniform(-1, 1, (6,))),
                          "model.layers.0.self_attn.v_proj.weight": ("BF16", rng.uniform(-1, 1, (4, 5)))})
    merge = ["merge", "--base", base, "--adapter", adapter, "--out", out]

    # A dry run reports and writes nothing, with or without --out.
    report = [f"{adapter} into {base}:",
              "  model.layers.0.self_attn.q_proj: weight BF16 [6, 5], bias BF16 [6]; "
              "A=LoRA_4 B=LoRA_4 C=vector D=constant E=constant",
              "  model.layers.0.self_attn.v_proj: weight BF16 [4, 5], no bias; "
              "A=LoRA_4 B=LoRA_4 C=none D=none E=none",
              "dry run: all 2 adapter layers find their base tensors; the merged model would be 112 B "
              "in 1 file (nothing written)"]
    for args in (merge + ["--dry-run"], merge[:-2] + ["--dry-run"]):
        status, stdout, stderr = tf.run(*args)
        assert (status, stdout.splitlines(), stderr) == (0, report, ""), (status, stdout, stderr)
        assert sorted(os.listdir(d)) == sorted(["model.safetensors", "peft_lora", "peft_named", "peft_wide",
                                                "py_adapters.safetensors", "reference.safetensors"])
    assert tf.run(*merge, "--dry-run", "--quiet") == (0, "", "")

    # Not on a terminal: the summary alone; --quiet: nothing at all.
    status, stdout, stderr = tf.run(*merge)
    assert (status, stderr) == (0, "") and stdout.startswith(f"merged 2 adapter layers into {out} (112 B) in "), \
        (status, stdout, stderr)
    assert tf.run(*merge, "--force", "--quiet") == (0, "", "")

    # On a terminal: progress, drawn over one line and cleared at the end.
    status, stdout, screen = on_terminal(*merge, "--force")
    assert status == 0 and stdout.startswith("merged 2 adapter layers"), (status, stdout)
    assert "\rmerging: 1/2 layers, " in screen and "\rmerging: 2/2 layers, 112 B of 112 B" in screen, screen
    assert "\n" not in screen and screen.endswith("\r"), repr(screen)
    assert on_terminal(*merge, "--force", "--quiet") == (0, "", "")

    # Help and version.
    status, help_text, stderr = tf.run("--help")
    assert (status, stderr) == (0, "") and help_text.startswith("Usage: glora COMMAND [options]\n")
    for command in ("merge", "inspect"):
        status, stdout, stderr = tf.run(command, "--help")
        assert (status, stderr) == (0, "") and stdout.startswith(f"Usage: glora {command} "), stdout
        assert stdout.endswith(help_text[help_text.index("Exit codes:"):])
    assert tf.run("--version")[:2] == (0, "glora 0.1.0\n")

    # The README lists the exit codes as --help does.
    with open(os.environ["GLORA_README"]) as f:
        readme = f.read()
    begin = readme.index("<!-- tool-exit-codes:begin -->\n```\n") + len("<!-- tool-exit-codes:begin -->\n```\n")
    in_readme = readme[begin:readme.index("```\n<!-- tool-exit-codes:end -->")]
    codes = help_text[help_text.index("Exit codes:"):]
    assert codes.startswith(in_readme) and codes[len(in_readme):].count("\n") == 1, (in_readme, codes)
    print("the tool prints what it should, where it should")


if __name__ == "__main__":
    main()
