"""Run-to-run spread of the pytest-benchmark suite, from several `--benchmark-json` files of the same code.

    pytest tests/perf -m perf --benchmark-json=runs/1.json   # repeat, same code, 5 times or more
    python tests/perf/spread.py runs/*.json

For each benchmark and statistic (min, median, mean) it prints the worst same-code regression one run shows
against another: max / min − 1 over the runs, in percent. A `--benchmark-compare-fail=STAT:PCT` limit below
that figure raises false alarms on unchanged code; tests/perf/conftest.py holds the limits derived from it
(docs/ci.md). Not a test (no `test_` prefix): a measuring tool.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STATS = ("min", "median", "mean")


def load(paths: list[str]) -> dict[str, dict[str, list[float]]]:
    """{benchmark fullname: {stat: [value per run]}} plus each benchmark's group under the key 'group'."""
    out: dict[str, dict] = {}
    for path in paths:
        for bench in json.loads(Path(path).read_text())["benchmarks"]:
            entry = out.setdefault(bench["fullname"], {"group": bench["group"], **{s: [] for s in STATS}})
            for stat in STATS:
                entry[stat].append(bench["stats"][stat])
    return out


def worst_shift(values: list[float]) -> float:
    """max / min − 1: how much slower the slowest run looks than the fastest."""
    return max(values) / min(values) - 1


def report(paths: list[str]) -> str:
    data = load(paths)
    lines = [f"{len(paths)} runs; worst same-code shift max/min − 1 per statistic",
             f"{'benchmark':58s} {'group':12s} " + " ".join(f"{s:>8s}" for s in STATS)]
    by_group: dict[str, dict[str, float]] = {}
    for name, entry in sorted(data.items(), key=lambda kv: (kv[1]["group"], kv[0])):
        shifts = {s: worst_shift(entry[s]) for s in STATS}
        group = by_group.setdefault(entry["group"], {s: 0.0 for s in STATS})
        for s in STATS:
            group[s] = max(group[s], shifts[s])
        lines.append(f"{name.split('::')[-1]:58s} {entry['group']:12s} "
                     + " ".join(f"{100 * shifts[s]:7.1f}%" for s in STATS))
    lines.append("worst per group:")
    for group, shifts in by_group.items():
        lines.append(f"  {group:12s} " + " ".join(f"{s} {100 * v:.1f}%" for s, v in shifts.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(sys.argv[1:]))
