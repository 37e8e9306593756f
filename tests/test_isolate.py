"""Points measured in a child process (vitbench.measure.isolate, .child): the row comes back with the child's
peak RSS and raw samples; a child that dies or hangs becomes an error row; a child dies with its parent."""

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from vitbench.measure import isolate, point
from vitbench.measure.spec import BenchSpec

SPEC = BenchSpec(batch=2, device="cpu", warmup=1, min_warmup_s=0.0, iters=3, min_time_s=0.0, isolate=True)


def test_isolated_point_returns_the_childs_row_with_peak_rss_and_samples(tiny):
    measured = point.run_point(tiny, SPEC, ("params", "latency", "memory"))
    row = measured.row
    assert row["status"] == "ok", row["error"]
    assert row["latency_ms_p10"] <= row["latency_ms_median"] <= row["latency_ms_p90"]
    # peak RSS of the child includes python + torch (mem_base_mib) and the model's weights
    assert row["mem_peak_mib"] >= row["mem_base_mib"] > 50
    assert row["mem_peak_mib"] >= row["mem_weights_mib"] > 0
    assert len(measured.samples["latency_ms"]) == row["n_iters"] >= 3


def test_cpu_memory_runs_in_a_child_even_without_isolate(tiny, monkeypatch):
    calls = []
    real = point.run_isolated

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(point, "run_isolated", spy)
    row = point.run_point(tiny, dataclasses.replace(SPEC, isolate=False), ("memory",)).row
    assert calls and row["status"] == "ok" and row["mem_peak_mib"] > 0


def _dies(code: str):
    """A launcher that runs `code` in a real child process instead of the measuring child."""
    return lambda argv, timeout_s: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  timeout=timeout_s)


@pytest.mark.parametrize("code, expect", [
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL (9) (the kernel OOM killer"),
    ("import sys; print('boom', file=sys.stderr); sys.exit(9)", "exited with code 9: boom"),
])
def test_a_child_that_dies_becomes_an_error_row(tiny, code, expect):
    row = point.run_isolated(tiny, SPEC.resolved("cpu"), ("params", "flops", "latency"), launcher=_dies(code)).row
    assert row["status"] == "error" and expect in row["error"]
    assert row["macs"] is not None and row["latency_ms_median"] is None  # config and cost columns kept


def test_child_timeout_becomes_an_error_row():
    ok, why = isolate.run_in_child({}, timeout_s=0.05, launcher=lambda argv, t: subprocess.run(
        [sys.executable, "-c", "import time; time.sleep(5)"], timeout=t))
    assert ok is None and why == "child process timed out after 0.05 s"


def test_exit_reason_is_one_line():
    assert isolate.exit_reason(-11, "") == "child process killed by SIGSEGV (11)"
    assert isolate.exit_reason(1, "Traceback\n  ...\nValueError: bad\n") == "child process exited with code 1: ValueError: bad"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_the_child_dies_with_its_parent(tmp_path):
    """A parent killed with SIGKILL (no chance to clean up) takes its measuring child with it."""
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from vitbench.measure import isolate
        child = "import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
        isolate.launch([sys.executable, "-c", child], 120)
    """)])
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "zombie" not in f.read()
    except FileNotFoundError:
        return False
