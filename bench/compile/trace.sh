#!/usr/bin/env bash
# What clang does with the kernels' share of the header-only glora model (model_glora.cpp): the
# file compiled header-only and in the compiled mode with -ftime-trace, and the difference of the
# two in each phase (the front end, and within it the instantiation of templates; the optimizer,
# and within it inlining; code generation). Wall seconds of one compile each, from the trace's
# totals.
#
# Usage: bench/compile/trace.sh    (needs clang++ and python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
cxx=${CXX:-clang++}
flags=(-std=c++17 -O2 -DNDEBUG -Iinclude -isystem /usr/include/eigen3 -ftime-trace)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$cxx" "${flags[@]}" -c bench/compile/model_glora.cpp -o "$out/header_only.o"
"$cxx" "${flags[@]}" -DGLORA_COMPILED_LIB -c bench/compile/model_glora.cpp -o "$out/compiled.o"

python3 - "$out/header_only.json" "$out/compiled.json" <<'EOF'
import json, sys

def totals(path):
    with open(path) as f:
        events = json.load(f)["traceEvents"]
    return {e["name"][len("Total "):]: e["dur"] / 1e6 for e in events
            if e.get("ph") == "X" and e["name"].startswith("Total ")}

header_only, compiled = totals(sys.argv[1]), totals(sys.argv[2])
phases = [("the whole compile", "ExecuteCompiler"), ("front end", "Frontend"),
          ("  instantiating templates", "PerformPendingInstantiations"),
          ("optimizer", "Optimizer"), ("  inlining", "InlinerPass"),
          ("code generation", "CodeGenPasses")]
print("%-32s %12s %10s %10s" % ("model_glora.cpp, clang -O2, s", "header-only", "compiled", "kernels"))
for label, key in phases:
    h, c = header_only.get(key, 0.0), compiled.get(key, 0.0)
    print("%-32s %12.2f %10.2f %10.2f" % (label, h, c, h - c))
EOF
