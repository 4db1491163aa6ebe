#!/usr/bin/env python3
"""Ratios from one run of glora_bench_layers (Google Benchmark JSON).

Usage: report.py RESULTS.json [--table OUT.md] [--plot-data OUT.dat]

Apart from the naive rows, a ratio is the benchmark's own counter (the rows
alternate call by call; the ratio is taken within each turn, then summarised over
the repetition's turns, see side_by_side.hpp), and the median of
the repetitions. The naive rows are benchmarks of their own; their ratios divide
two separate timings.
"""
import argparse
import json
import statistics
import sys
from collections import defaultdict

CONFIGS = ["lora", "full", "cheap"]

# (label, numerator, denominator, filter on (shape, batch), limit)
TARGETS = [
    ("Dense::forward / plain Eigen, every shape and batch", "dense", "plain", None, 1.05),
    ("unmerged / merged, full, batch 197, 768x768 and 3072x768", "unmerged/full", "dense",
     lambda s, b: b == 197 and s in ("768x768", "3072x768"), 1.15),
    ("unmerged / merged, full, batch 1, 4096x4096", "unmerged/full", "dense",
     lambda s, b: b == 1 and s == "4096x4096", 1.5),
    ("unmerged / merged, full, batch 1, 768x768", "unmerged/full", "dense",
     lambda s, b: b == 1 and s == "768x768", 2.0),
    ("unmerged / merged, cheap, batch 197", "unmerged/cheap", "dense",
     lambda s, b: b == 197, 1.10),
    ("unmerged / merged, cheap, batch 1", "unmerged/cheap", "dense", lambda s, b: b == 1, 1.20),
]


FORWARD_ROWS = ("plain", "dense") + tuple(f"unmerged/{c}" for c in CONFIGS)
FORWARD_RATIOS = {"dense": "plain", **{f"unmerged/{c}": "dense" for c in CONFIGS}}


def load(path):
    """Maps (row, shape, config, batch) to a time in microseconds, and
    (numerator row, denominator row, shape, batch) to a paired ratio.

    The rows of a cell are the counters of its benchmark (each row's median
    time per call, rows alternating call by call); the naive rows are
    benchmarks of their own (wall-clock time). With repetitions, a time is the
    minimum over repetitions (the least disturbed measurement) and a paired
    ratio the median over repetitions (each repetition's ratio already has the
    host's drift cancelled).
    """
    with open(path) as f:
        data = json.load(f)
    times = {}
    medians, repetitions = {}, defaultdict(list)  # paired ratios: aggregated, and as run

    def keep(key, t):
        times[key] = min(t, times.get(key, float("inf")))

    for bench in data["benchmarks"]:
        aggregate = bench.get("aggregate_name") if bench.get("run_type") == "aggregate" else None
        name = bench.get("run_name", bench["name"]).split("/min_time")[0].split("/real_time")[0]
        parts = name.split("/")
        if aggregate in (None, "median"):
            pairs = []
            if parts[0] == "forward":
                pairs = [(num, den, parts[1], int(parts[2][1:]))
                         for num, den in FORWARD_RATIOS.items()]
            elif parts[0] == "merge":
                pairs = [("merge", "copy", parts[1], 0)]
            for key in pairs:
                counter = f"{key[0]}/{key[1]}"
                if counter in bench:
                    if aggregate:
                        medians[key] = bench[counter]
                    else:
                        repetitions[key].append(bench[counter])
        if aggregate not in (None, "min"):
            continue
        if parts[0] == "forward":  # forward/<shape>/b<batch>: plain, dense, unmerged/<config>
            batch = int(parts[2][1:])
            for row in FORWARD_ROWS:
                if row in bench:
                    r, _, config = row.partition("/")
                    keep((r, parts[1], config, batch), bench[row])
        elif parts[0] == "merge":  # merge/<shape>: copy, merge
            for row in ("copy", "merge"):
                if row in bench:
                    keep((row, parts[1], "", 0), bench[row])
        elif parts[0] == "naive":  # naive/<shape>/<config>/b<batch>
            keep(("naive", parts[1], parts[2], int(parts[3][1:])), bench["real_time"])
    # Without aggregates (one repetition, or each repetition reported): the median of those run.
    ratios = {key: statistics.median(v) for key, v in repetitions.items()}
    ratios.update(medians)
    return times, ratios


def cells(results):
    times, _ = results
    shapes = sorted({k[1] for k in times if k[0] == "plain"},
                    key=lambda s: [int(x) for x in s.split("x")])
    batches = sorted({k[3] for k in times if k[0] == "plain"})
    return shapes, batches


def ratio(results, num, den, shape, batch):
    """The paired ratio where the benchmark measured one, else the ratio of the two times."""
    times, ratios = results
    if (num, den, shape, batch) in ratios:
        return ratios[(num, den, shape, batch)]
    row, _, config = num.partition("/")
    a = times.get((row, shape, config, batch))
    b = times.get((den, shape, "", batch))
    return None if a is None or b is None else a / b


def fmt(x):
    return "—" if x is None else f"{x:.2f}"


def table(results):
    times, _ = results
    shapes, batches = cells(results)
    out = []
    out.append("Time: wall clock, microseconds per call; each row's median over its calls, "
               "fastest of the repetitions. Ratios: apart from the naive ones, taken within "
               "each turn (the rows of a shape and batch alternate call by call), the "
               "geometric mean of each two consecutive turns, the median of those, and the "
               "median of the repetitions.\n")
    out.append("| shape | batch | plain (µs) | dense/plain | "
               + " | ".join(f"unmerged/merged {c}" for c in CONFIGS) + " | "
               + " | ".join(f"naive/merged {c}" for c in CONFIGS) + " |")
    out.append("|---" * (4 + 2 * len(CONFIGS)) + "|")
    for s in shapes:
        for b in batches:
            plain = times.get(("plain", s, "", b))
            row = [s, str(b), "—" if plain is None else f"{plain:.0f}",
                   fmt(ratio(results, "dense", "plain", s, b))]
            row += [fmt(ratio(results, f"unmerged/{c}", "dense", s, b)) for c in CONFIGS]
            row += [fmt(ratio(results, f"naive/{c}", "dense", s, b)) for c in CONFIGS]
            out.append("| " + " | ".join(row) + " |")
    copies = {k[1]: v for k, v in times.items() if k[0] == "copy"}
    merges = {k[1]: v for k, v in times.items() if k[0] == "merge"}
    merge_ratio = {s: ratio(results, "merge", "copy", s, 0) for s in set(copies) & set(merges)}
    out.append("")
    out.append("| merge (LowRank-8 A and B) | copy of W0 (µs) | merge_into (µs) | merge/copy |")
    out.append("|---|---|---|---|")
    for s in sorted(merge_ratio):
        out.append(f"| {s} | {copies[s]:.0f} | {merges[s]:.0f} | {merge_ratio[s]:.2f} |")
    out.append("")
    out.append("| target | limit | worst measured | met |")
    out.append("|---|---|---|---|")
    for label, num, den, keep, limit in TARGETS:
        values = [ratio(results, num, den, s, b) for s in shapes for b in batches
                  if keep is None or keep(s, b)]
        values = [v for v in values if v is not None]
        worst = max(values) if values else None
        met = "—" if worst is None else ("yes" if worst <= limit else "no")
        out.append(f"| {label} | {limit:.2f} | {fmt(worst)} | {met} |")
    r = merge_ratio.get("4096x4096")
    if r is not None:
        out.append(f"| merge_into / copy of W0, 4096x4096, LowRank-8 A and B | 2.50 | "
                   f"{r:.2f} | {'yes' if r <= 2.5 else 'no'} |")
    return "\n".join(out) + "\n"


def plot_data(results):
    """One gnuplot data block per (config, shape): batch, unmerged/merged."""
    shapes, batches = cells(results)
    blocks = []
    for c in CONFIGS:
        for s in shapes:
            lines = [f"\"{c} {s}\" ratio"]
            for b in batches:
                r = ratio(results, f"unmerged/{c}", "dense", s, b)
                if r is not None:
                    lines.append(f"{b} {r:.4f}")
            if len(lines) > 1:
                blocks.append("\n".join(lines))
    return "\n\n\n".join(blocks) + "\n", [f"{c} {s}" for c in CONFIGS for s in shapes]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json")
    p.add_argument("--table")
    p.add_argument("--plot-data")
    a = p.parse_args()
    results = load(a.json)
    text = table(results)
    if a.table:
        with open(a.table, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if a.plot_data:
        data, _ = plot_data(results)
        with open(a.plot_data, "w") as f:
            f.write(data)


if __name__ == "__main__":
    main()
