"""What counting an external model costs end to end: wall time and peak RSS of a fresh process per count.

    .venv-external/bin/python benchmarks/external_count.py [--models timm:NAME ...] [--repeats 3]
        [--modes closed,all] [--markdown PATH]

Each run is a new Python process doing what `vitbench flops --model M` does through the library: import
vitbench and the model's package, build the model on the meta device (`pretrained=False`, no weights) and read
it (`vitbench.external.describe`), then either the closed form only (`closed`: params + MACs) or the closed
form and both counters on meta with vitbench's handles (`all`: `--counter all`), asserting that the three
agree. Wall time is measured from process start to exit (interpreter start and imports included); peak RSS is
the process's own high-water mark (VmHWM, read by the child as it ends), shown beside os.wait4's ru_maxrss,
which reads 120-150 MiB higher here (not isolated; importing torch spawns `ldconfig -p` through vfork).
Prints one row per model and mode: median and max wall time over the repeats, the largest of each memory
reading (MiB), and the 1-minute load average before and after (a loaded 2-core machine reads slower). The
issue's budget: < 5 s and < 1.5 GB per count on the project's 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

MODELS = ["timm:vit_base_patch16_224", "timm:vit_base_patch16_384", "timm:vit_small_patch14_dinov2",
          "timm:vit_base_patch14_reg4_dinov2", "timm:vit_huge_patch14_224", "torchvision:vit_b_16",
          "torchvision:vit_l_16"]
MIB = 2**20

CHILD = """
import sys
from vitbench import external
from vitbench.cost.breakdown import BREAKDOWN_COMPONENTS
ext = external.describe(sys.argv[1])
closed = external.count(ext, "analytic")
assert external.params(ext).total == ext.numel
if sys.argv[2] == "all":
    for counter in ("fvcore", "torch"):
        got = external.count(ext, counter, "meta")
        assert all(getattr(got, c) == getattr(closed, c) for c in BREAKDOWN_COMPONENTS), (counter, got, closed)
print(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1])  # KiB
"""


def run_once(python: str, model: str, mode: str) -> tuple[float, float, float]:
    """(wall seconds, the process's peak RSS (VmHWM) MiB, wait4's ru_maxrss MiB) of one child counting `model`."""
    start = time.perf_counter()
    child = subprocess.Popen([python, "-W", "ignore", "-c", CHILD, model, mode], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    out, err = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"error: counting {model} ({mode}) failed:\n{err.decode()}")
    return wall, int(out.split()[-1]) / 1024, usage.ru_maxrss / 1024  # both in KiB on Linux


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--modes", default="closed,all", help="comma-separated: closed, all")
    p.add_argument("--python", default=sys.executable, help="interpreter of the venv with timm/torchvision")
    p.add_argument("--markdown", help="also write the table to this file")
    args = p.parse_args(argv)
    lines = ["| model | mode | wall s (median) | wall s (max) | peak RSS MiB (VmHWM) | wait4 ru_maxrss MiB "
             "| load before → after |", "|---|---|---|---|---|---|---|"]
    print(lines[0], lines[1], sep="\n", flush=True)
    for model in args.models:
        for mode in args.modes.split(","):
            load = os.getloadavg()[0]
            runs = [run_once(args.python, model, mode) for _ in range(args.repeats)]
            walls = [w for w, _, _ in runs]
            line = (f"| {model} | {mode} | {statistics.median(walls):.2f} | {max(walls):.2f} | "
                    f"{max(r for _, r, _ in runs):.0f} | {max(r for _, _, r in runs):.0f} | "
                    f"{load:.2f} → {os.getloadavg()[0]:.2f} |")
            lines.append(line)
            print(line, flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
