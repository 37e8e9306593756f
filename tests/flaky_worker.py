"""A vitbench worker for tests: `python tests/flaky_worker.py [--die-on-res R] [--sleep S] --device D ...` runs
vitbench.workers.main, but SIGKILLs itself when handed a point at resolution R (a crash mid-point) and sleeps S
seconds before each point (slow points to interrupt)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vitbench import runner, workers  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--die-on-res", type=int, default=None)
parser.add_argument("--sleep", type=float, default=0.0)
own, rest = parser.parse_known_args()


def execute(point):
    time.sleep(own.sleep)
    if own.die_on_res is not None and point.cfg.img_size[0] == own.die_on_res:
        os.kill(os.getpid(), signal.SIGKILL)
    return runner.execute(point)


workers.main(rest, execute)
