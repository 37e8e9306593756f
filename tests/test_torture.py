"""Issue 10's torture test: one sweep killed with SIGKILL, SIGINT and SIGTERM at random moments, 20 times,
resumed each time; it must end with exactly a plain run's keys, no duplicates, a valid CSV and sidecar."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

from vitbench.results_io import load_text, row_key

SUITE = """name: torture
measure: [params, flops]
grid: {model: vit_ti16, depth: [1, 2, 3, 4, 5], patch: [8, 16], res: [32, 64, 96, 128, 160]}
"""
SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)


class Sweep:
    """`vitbench sweep` in a forked child (the interpreter and vitbench are already imported here, so a run
    starts at once and the kill lands while it writes). Popen-like: poll, send_signal, wait."""

    def __init__(self, suite: Path, out: Path, resume: bool):
        argv = ["vitbench", "sweep", str(suite), "-o", str(out)] + (["--resume"] if resume else [])
        self.proc = multiprocessing.get_context("fork").Process(target=_cli, args=(argv,))
        self.proc.start()

    def poll(self):
        return self.proc.exitcode

    def send_signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def wait(self, timeout: float):
        self.proc.join(timeout)
        return self.proc.exitcode


def _cli(argv: list[str]) -> None:
    import io

    from vitbench.cli import main

    sys.argv, sys.stdout = argv, io.StringIO()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()


def sweep(suite: Path, out: Path, resume: bool) -> Sweep:
    return Sweep(suite, out, resume)


def keys(path: Path) -> list:
    return [row_key(r) for r in load_text(path).to_dict("records")]


@pytest.mark.slow
def test_twenty_random_kills_then_resume_give_the_plain_run(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    plain = tmp_path / "plain.csv"
    assert sweep(suite, plain, False).wait(timeout=60) == 0
    expected = sorted(keys(plain))
    rng = random.Random(20261125)
    out, kills = tmp_path / "tortured.csv", 0
    while kills < 20:
        before = out.stat().st_mtime_ns if out.exists() else None
        proc = sweep(suite, out, resume=before is not None)
        deadline = time.monotonic() + 30  # kill while the run writes, not while the interpreter starts
        while proc.poll() is None and time.monotonic() < deadline and (
                not out.exists() or out.stat().st_mtime_ns == before):
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.15))
        if proc.poll() is None:
            proc.send_signal(rng.choice(SIGNALS))
            kills += 1
        code = proc.wait(timeout=60)
        assert code in (0, 130, 143, -signal.SIGKILL), code
        if out.exists() and out.stat().st_size:
            got = keys(out)  # a valid CSV at every stop (a SIGKILL may leave a torn last line: resume cuts it)
            assert len(got) == len(set(got)) and set(got) <= set(expected)
            meta = json.loads(out.with_name("tortured.meta.json").read_text())
            assert meta["status"] in ("running", "interrupted", "terminated", "complete")
        if code == 0 and kills < 20:  # finished before the kill: start over so every trial can be killed
            for name in ("tortured.csv", "tortured.meta.json"):
                (tmp_path / name).unlink()
    assert sweep(suite, out, resume=True).wait(timeout=60) == 0
    assert sorted(keys(out)) == expected and out.read_bytes().endswith(b"\n")
    meta = json.loads(out.with_name("tortured.meta.json").read_text())
    assert meta["status"] == "complete" and len(meta["runs"]) >= 2
    assert not list(tmp_path.glob("*.lock"))
