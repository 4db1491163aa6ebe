#!/usr/bin/env python3
"""The ratio table of one or more runs of glora_bench_stream (Google Benchmark JSON).

Usage: report_stream.py RESULTS.json [RESULTS.json ...] [--table OUT.md]

Every repetition of a cell (stream/<out>x<in>[+<pad>]/k<K>) carries the paired ratios
of its rows as counters (see side_by_side.hpp). A ratio in the table is the
median over the repetitions of all the files given, with the lowest and highest
repetition beside it; a time is the fastest repetition's median call.
"""
import argparse
import json
import re
import statistics
import sys
from collections import defaultdict

RATIOS = [
    ("row_major/col_major", "row-major / column-major kernel", 1.05),
    ("row_major/eigen_row_major", "row-major kernel / Eigen row-major", 1.00),
    ("col_major/eigen_col_major", "column-major kernel / Eigen column-major", None),
    ("row_major/read", "row-major kernel / read of W", None),
]
TIMES = ["row_major", "col_major", "eigen_row_major", "read"]
NAME = re.compile(r"^stream/(\d+)x(\d+)(?:\+(\d+))?/k(\d+)")


def load(paths):
    """Maps (out, in, pad, K) to {counter: [value per repetition]}."""
    cells = defaultdict(lambda: defaultdict(list))
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        for bench in data["benchmarks"]:
            if bench.get("run_type") != "iteration":
                continue  # aggregates are recomputed over all files
            match = NAME.match(bench["name"])
            if not match:
                continue
            key = tuple(int(g or 0) for g in match.groups())
            for counter in [r for r, _, _ in RATIOS] + TIMES + ["turns"]:
                if counter in bench:
                    cells[key][counter].append(bench[counter])
    return cells


def table(cells):
    lines = [
        "| shape | K | turns | row-major (µs) | read of W (µs) | "
        + " | ".join(label for _, label, _ in RATIOS)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(RATIOS),
    ]
    worst = {name: (0.0, None) for name, _, limit in RATIOS if limit}
    for (out, inp, pad, k) in sorted(cells):
        c = cells[(out, inp, pad, k)]
        shape = f"{out}x{inp}" + (f", strides +{pad}" if pad else "")
        row = [shape, str(k), str(int(min(c["turns"]))),
               f"{min(c['row_major']):.0f}", f"{min(c['read']):.0f}"]
        for name, _, limit in RATIOS:
            values = c[name]
            median = statistics.median(values)
            row.append(f"{median:.3f} ({min(values):.2f}-{max(values):.2f})")
            if limit and median > worst[name][0]:
                worst[name] = (median, f"{shape} K={k}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("| target | limit | worst median | where | met |")
    lines.append("|---|---|---|---|---|")
    for name, label, limit in RATIOS:
        if limit:
            value, where = worst[name]
            lines.append(f"| {label} | {limit:.2f} | {value:.3f} | {where} | "
                         f"{'yes' if value <= limit else 'no'} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+")
    parser.add_argument("--table")
    args = parser.parse_args()
    cells = load(args.results)
    if not cells:
        sys.exit("report_stream.py: no stream/ benchmarks in " + ", ".join(args.results))
    text = table(cells)
    sys.stdout.write(text)
    if args.table:
        with open(args.table, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
