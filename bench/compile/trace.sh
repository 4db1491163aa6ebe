#!/usr/bin/env bash
# What clang does with the kernels' share of the header-only glora model (model_glora.cpp): the
# file compiled header-only and in the compiled mode with -ftime-trace, and the difference of the
# two in each phase (the front end, which instantiates the templates; the optimizer; code
# generation), then the functions the optimizer spent most time on in the header-only file, and
# how many it optimized. Wall seconds of one compile each.
#
# Usage: bench/compile/trace.sh [FUNCTIONS]   (default 10; from the repository root; needs clang++
#                                             and python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
top=${1:-10}
cxx=${CXX:-clang++}
flags=(-std=c++17 -O2 -DNDEBUG -Iinclude -isystem /usr/include/eigen3 -ftime-trace)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$cxx" "${flags[@]}" -c bench/compile/model_glora.cpp -o "$out/header_only.o"
"$cxx" "${flags[@]}" -DGLORA_COMPILED_LIB -c bench/compile/model_glora.cpp -o "$out/compiled.o"

python3 - "$out/header_only.json" "$out/compiled.json" "$top" <<'EOF'
import collections, json, subprocess, sys

def load(path):
    events = [e for e in json.load(open(path))["traceEvents"] if e.get("ph") == "X"]
    totals = {e["name"][len("Total "):]: e["dur"] / 1e6 for e in events
              if e["name"].startswith("Total ")}
    optimized = collections.Counter()
    for e in events:
        if e["name"] == "OptFunction":
            optimized[e["args"]["detail"]] += e["dur"] / 1e6
    return totals, optimized

header_only, optimized = load(sys.argv[1])
compiled, _ = load(sys.argv[2])
phases = [("the whole compile", "ExecuteCompiler"), ("front end", "Frontend"),
          ("  of which instantiating templates", "PerformPendingInstantiations"),
          ("optimizer", "Optimizer"), ("code generation", "CodeGenPasses")]
print("%-36s %12s %10s %10s" % ("model_glora.cpp, clang -O2, s", "header-only", "compiled", "kernels"))
for label, key in phases:
    h, c = header_only.get(key, 0.0), compiled.get(key, 0.0)
    print("%-36s %12.2f %10.2f %10.2f" % (label, h, c, h - c))

names = [name for name, _ in optimized.most_common(int(sys.argv[3]))]
readable = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True,
                          text=True).stdout.split("\n")
total = sum(optimized.values())
print("\nheader-only: %d functions optimized, %.2f s in their own passes; the largest:"
      % (len(optimized), total))
for name, shown in zip(names, readable):
    print("  %5.3f s  %4.1f%%  %s" % (optimized[name], 100 * optimized[name] / total, shown[:110]))
EOF
