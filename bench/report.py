#!/usr/bin/env python3
"""Ratios from one run of glora_bench_layers (Google Benchmark JSON).

Besides the forward and merge cells, the table covers the row-major rows
(rows/, merge_rows/: the same layers over a row-major W0, against their
column-major twins) and the run-time configured layer (run_time/: DynamicLinear
set to each config, against the compile-time layer of the same kinds).

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


# The paired-ratio counters of the cells that compare a variant with its twin.
SIDE_CELLS = {
    "rows": [f"unmerged/{c}/plain" for c in CONFIGS],
    "run_time": [f"dynamic/{c}/{c}" for c in CONFIGS],
    "merge_rows": ["merge/copy"],
}
ROW_MAJOR_LIMIT = 1.10  # row-major ratio / column-major ratio
RUN_TIME_LIMIT = 1.10  # run-time layer / compile-time layer

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
    side_medians, side_repetitions = {}, defaultdict(list)  # rows/, run_time/, merge_rows/

    def keep(key, t):
        times[key] = min(t, times.get(key, float("inf")))

    for bench in data["benchmarks"]:
        aggregate = bench.get("aggregate_name") if bench.get("run_type") == "aggregate" else None
        name = bench.get("run_name", bench["name"]).split("/min_time")[0].split("/real_time")[0]
        parts = name.split("/")
        if aggregate in (None, "median") and parts[0] in SIDE_CELLS:
            batch = int(parts[2][1:]) if len(parts) > 2 else 0
            for counter in SIDE_CELLS[parts[0]]:
                if counter in bench:
                    key = (parts[0], counter, parts[1], batch)
                    if aggregate:
                        side_medians[key] = bench[counter]
                    else:
                        side_repetitions[key].append(bench[counter])
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
    side = {key: statistics.median(v) for key, v in side_repetitions.items()}
    side.update(side_medians)
    ratios["side"] = side
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
    out += side_tables(results)
    return "\n".join(out) + "\n"


def side_tables(results):
    """The row-major and run-time tables, where the run has those cells."""
    _, ratios = results
    side = ratios.get("side", {})
    shapes, batches = cells(results)
    out = []
    if any(k[0] == "rows" for k in side):
        out += ["", "Row-major W0 (PyTorch's layout): each config's unmerged/merged ratio over a "
                "row-major W0 (merged: plain Eigen with the row-major W), the same ratio over a "
                "column-major W0 (the table above), and the first divided by the second "
                f"(limit {ROW_MAJOR_LIMIT:.2f}).", ""]
        out.append("| shape | batch | " + " | ".join(
            f"{c}: row-major | {c}: column-major | {c}: row/col" for c in CONFIGS) + " |")
        out.append("|---|---" + "|---" * (3 * len(CONFIGS)) + "|")
        worst = 0.0
        for s in shapes:
            for b in batches:
                row = [s, str(b)]
                for c in CONFIGS:
                    rm = side.get(("rows", f"unmerged/{c}/plain", s, b))
                    cm = ratio(results, f"unmerged/{c}", "dense", s, b)
                    q = None if rm is None or cm is None else rm / cm
                    if q is not None:
                        worst = max(worst, q)
                    row += [fmt(rm), fmt(cm), fmt(q)]
                out.append("| " + " | ".join(row) + " |")
        rm = side.get(("merge_rows", "merge/copy", "4096x4096", 0))
        cm = ratio(results, "merge", "copy", "4096x4096", 0)
        out += ["", "| target | limit | worst measured | met |", "|---|---|---|---|",
                f"| row-major / column-major unmerged-to-merged ratio, every cell | "
                f"{ROW_MAJOR_LIMIT:.2f} | {worst:.2f} | {'yes' if worst <= ROW_MAJOR_LIMIT else 'no'} |"]
        if rm is not None and cm is not None:
            out.append(f"| row-major / column-major merge/copy, 4096x4096 ({rm:.2f} / {cm:.2f}) | "
                       f"{ROW_MAJOR_LIMIT:.2f} | {rm / cm:.2f} | "
                       f"{'yes' if rm / cm <= ROW_MAJOR_LIMIT else 'no'} |")
    if any(k[0] == "run_time" for k in side):
        out += ["", "Run-time configured layer (DynamicLinear set to each config) / compile-time "
                f"layer of the same kinds, paired (limit {RUN_TIME_LIMIT:.2f}).", ""]
        out.append("| shape | batch | " + " | ".join(CONFIGS) + " |")
        out.append("|---|---" + "|---" * len(CONFIGS) + "|")
        worst = 0.0
        for s in shapes:
            for b in batches:
                values = [side.get(("run_time", f"dynamic/{c}/{c}", s, b)) for c in CONFIGS]
                worst = max([worst] + [v for v in values if v is not None])
                out.append("| " + " | ".join([s, str(b)] + [fmt(v) for v in values]) + " |")
        out += ["", "| target | limit | worst measured | met |", "|---|---|---|---|",
                f"| run-time / compile-time layer, every cell | {RUN_TIME_LIMIT:.2f} | "
                f"{worst:.2f} | {'yes' if worst <= RUN_TIME_LIMIT else 'no'} |"]
    return out


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
