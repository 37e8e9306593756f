"""Wall time of one suite run plain, on `--devices cpu,cpu` workers, and as `--executor local --jobs 2`, and
checks that the three give the same rows (keys, exact cost columns, no duplicates, one sidecar each).

    python benchmarks/sweep_scaling.py [--reps 2] [--suites cost10k,cpu_measured,ci_smoke] [--json out.json]

Each run is a fresh `python -m vitbench sweep ...` child (what a user runs); its wall time is measured around the
child (start-up, planning, the points, the summary table, and for the executor the jobs' start-up and the merge).
From the sidecar: the run's own span (Session open to close, or first submission to last job end), the points'
summed `point_s`, and each worker's start-up or job's queue + start-up. Modes are interleaved within a repetition
so that a change in machine load hits them alike; the 1-minute load average before each run is printed.

Suites: `cost10k` (10,000 closed-form points: depth x registers x classes of vit_ti16; no torch), `cpu_measured`
(8 ViT-Ti points at 64-128 px, latency only, >= 1 s of timing each), `ci_smoke` (the shipped suite: 4 tiny
points, every measure; CPU memory runs each point in a child process).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUITES = {
    "cost10k": """
name: cost10k
description: 10,000 closed-form points (depth x registers x classes)
defaults: {device: cpu}
measure: [params, flops]
grid:
  model: vit_ti16
  depth: [%s]
  registers: [%s]
  classes: [%s]
""" % (", ".join(str(d) for d in range(1, 26)), ", ".join(str(r) for r in range(20)),
       ", ".join(str(c) for c in (*range(10, 100, 10), *range(100, 1200, 100)))),
    "cpu_measured": """
name: cpu_measured
description: ViT-Ti at 64-128 px, patch 8 and 16, latency only
defaults: {device: cpu, warmup: 2, min_warmup_s: 0.2, iters: 10, min_time_s: 1.0}
measure: [params, flops, latency]
grid: {model: vit_ti16, patch: [8, 16], res: [64, 80, 96, 128]}
""",
}
MODES = {
    "plain": [],
    "plain, 1 thread": [],
    "--devices cpu,cpu": ["--devices", "cpu,cpu"],
    "--executor local --jobs 2": ["--executor", "local", "--jobs", "2"],
}
COST = ("tokens", "params", "macs", "macs_patch_embed", "macs_attn_proj", "macs_attn_core", "macs_mlp", "macs_head")


def suite_path(name: str, folder: Path) -> Path:
    if name in SUITES:
        path = folder / f"{name}.yaml"
        path.write_text(SUITES[name].lstrip())
        return path
    return ROOT / "suites" / f"{name}.yaml"


def run(suite: Path, mode: str, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if mode == "plain, 1 thread":
        env["OMP_NUM_THREADS"] = "1"
    load = os.getloadavg()[0]
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "vitbench", "sweep", str(suite), "-o", str(out), *MODES[mode]],
                          env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{mode}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return {"mode": mode, "wall_s": wall, "load_before": load, **sidecar_facts(out)}


def sidecar_facts(out: Path) -> dict:
    from vitbench import walltime
    from vitbench.results_frame import load_results
    from vitbench.storage import read_metadata

    meta = read_metadata(out)
    totals = walltime.phases(load_results(out))
    starts = [r.start_s for r in walltime.runners(meta) if r.start_s is not None]
    return {"span_s": walltime.wall_s(meta), "point_s": totals.total if totals else 0.0,
            "start_s": statistics.median(starts) if starts else None, "runners": len(starts)}


def check_same_rows(outs: dict[str, Path]) -> str:
    """Every mode's file: the same set of keys, each once, equal exact cost columns, one sidecar."""
    from vitbench.results_io import load_text, row_key
    from vitbench.storage import sidecar_path

    reference = None
    for mode, out in outs.items():
        rows = load_text(out).to_dict("records")
        keys = [row_key(r) for r in rows]
        assert len(keys) == len(set(keys)), f"{mode}: duplicate rows"
        cost = {row_key(r): tuple(r[c] for c in COST) for r in rows}
        assert sidecar_path(out).is_file(), f"{mode}: no sidecar"
        if reference is None:
            reference = cost
        assert cost == reference, f"{mode}: other keys or cost columns than plain"
    return f"same {len(reference)} keys and cost columns in all {len(outs)} files, no duplicates"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--suites", default="cost10k,cpu_measured,ci_smoke")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="sweep-scaling-") as tmp:
        folder = Path(tmp)
        for name in args.suites.split(","):
            suite = suite_path(name, folder)
            for rep in range(args.reps):
                outs = {}
                for i, mode in enumerate(MODES):
                    out = folder / f"{name}_{rep}_{i}.csv"
                    results.append({"suite": name, "rep": rep, **run(suite, mode, out)})
                    outs[mode] = out
                    print(json.dumps(results[-1]), flush=True)
                print(f"{name} rep {rep}: {check_same_rows(outs)}", flush=True)
    print("\n| suite | mode | wall s (median) | runs' own span s | points' time s | start-up s per worker/job |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.suites.split(","):
        for mode in MODES:
            rows = [r for r in results if r["suite"] == name and r["mode"] == mode]
            def med(key):
                return statistics.median(r[key] for r in rows) if all(r[key] is not None for r in rows) else None

            def fmt(value):
                return "-" if value is None else f"{value:,.1f}"

            print(f"| {name} | {mode} | {fmt(med('wall_s'))} | {fmt(med('span_s'))} | {fmt(med('point_s'))} | "
                  f"{fmt(med('start_s'))} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
