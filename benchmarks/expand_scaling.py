"""How long `vitbench.suite` and `vitbench.expansion` take to load, count, expand and validate large grids, and its peak memory.

    .venv/bin/python benchmarks/expand_scaling.py [--points 10000 100000 1000000] [--shape mixed configs]

Each (shape, size) runs in a fresh child process (so its peak RSS is its own) that writes a suite, then times
`load_suite`, `count_points` (the cheap guard, where the module has it), `expand` (with a resolver that says
'cpu': no torch import) and `check_invalid`. It reports wall seconds (time.perf_counter), the CPU seconds of
`expand` beside them (time.process_time: steadier on a shared machine), and the child's peak RSS in MiB
(resource.getrusage ru_maxrss, which Linux reports in KiB). Shapes:

  mixed    depth × batch × registers: 1/100 of the points are distinct model configs (a runtime axis varies)
  configs  depth × registers × classes: every point is a distinct model config (the worst case)

Both measure latency on cpu (plan 'measure') and carry one exclude entry ({depth: 1}: 1 % of the points).
Figures: docs/sweep.md ("Large grids").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def suite_text(shape: str, points: int) -> str:
    """A suite of `points` points (before the exclude): three axes whose lengths multiply to `points`."""
    third = {10**4: 1, 10**5: 10, 10**6: 100}[points]
    depth, second = list(range(1, 101)), list(range(1, 101))
    if shape == "mixed":
        axes = {"depth": depth, "batch": second, "registers": list(range(third))}
    else:
        axes = {"depth": depth, "registers": list(range(100)), "classes": list(range(third))}
    grid = "\n".join(f"  {k}: {v}" for k, v in axes.items())
    return textwrap.dedent(f"""\
        name: expand_{shape}_{points}
        measure: [params, latency]
        defaults: {{device: cpu}}
        grid:
          model: [vit_ti16]
        """) + grid + "\nexclude:\n  - {depth: 1}\n"


CHILD = r"""
import json, resource, sys, time
from vitbench import expansion, suite

def timed(name, call):
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    out[name + "_s"], out[name + "_cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
    return result

out = {}
ls = timed("load", lambda: suite.load_suite(sys.argv[1]))
if hasattr(expansion, "count_points"):
    out["count"] = timed("count", lambda: expansion.count_points(ls))
points = timed("expand", lambda: expansion.expand(ls, lambda d: "cpu"))
timed("check", lambda: expansion.check_invalid(ls, points))
out["points"] = len(points)
out["distinct_configs"] = len({p.cfg for p in points})
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run_one(shape: str, points: int, folder: Path) -> dict:
    path = folder / f"{shape}_{points}.yaml"
    path.write_text(suite_text(shape, points))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    if proc.returncode:
        raise SystemExit(f"error: {shape} {points}: {proc.stderr.strip().splitlines()[-1]}")
    return json.loads(proc.stdout)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, nargs="+", default=[10**4, 10**5, 10**6], choices=[10**4, 10**5, 10**6])
    p.add_argument("--shape", nargs="+", default=["mixed", "configs"], choices=["mixed", "configs"])
    args = p.parse_args(argv)
    print("| shape | grid points | after exclude | distinct configs | load s | count s | expand s (CPU s) | "
          "check_invalid s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shape:
            for n in args.points:
                r = run_one(shape, n, Path(tmp))
                count = f"{r['count_s']:.3f}" if "count_s" in r else "-"
                print(f"| {shape} | {n:,} | {r['points']:,} | {r['distinct_configs']:,} | {r['load_s']:.3f} | "
                      f"{count} | {r['expand_s']:.2f} ({r['expand_cpu_s']:.2f}) | {r['check_s']:.3f} | "
                      f"{r['peak_rss_mib']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
