"""A vitbench worker for tests: `python tests/flaky_worker.py [--die-on-res R] [--sleep S] --device D ...` runs
vitbench.workers.serve.main, but SIGKILLs itself when handed a point at resolution R (a crash mid-point) and
sleeps S seconds before each point (slow points to interrupt); with --fatal-on-res R the point at resolution R
reports its device unusable (as a sticky CUDA error would)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vitbench import runner  # noqa: E402
from vitbench.workers.serve import main  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--die-on-res", type=int, default=None)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--fatal-on-res", type=int, default=None)
own, rest = parser.parse_known_args()


def execute(point):
    time.sleep(own.sleep)
    if own.die_on_res is not None and point.cfg.img_size[0] == own.die_on_res:
        os.kill(os.getpid(), signal.SIGKILL)
    done = runner.execute(point)
    if own.fatal_on_res is not None and point.cfg.img_size[0] == own.fatal_on_res:
        return dataclasses.replace(done, fatal="CUDA error: an illegal memory access was encountered")
    return done


main(rest, execute)
