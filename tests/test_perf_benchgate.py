"""tests/perf/benchgate.py: a tripped limit (`--benchmark-compare-fail` or `--perf-gate`) ends as exit 1 with one
line, no traceback; `--perf-gate` applies its group's limit to `min`.
Runs pytest in a subprocess on a one-line benchmark against a stored run made 1000x faster by hand; only the
gate's mechanics are asserted, never a timing."""

import json
import os
import subprocess
import sys
from pathlib import Path

PERF = Path(__file__).resolve().parent / "perf"


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))}
    env["PYTHONPATH"] = os.pathsep.join([str(PERF), os.environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(cwd),
                           "--benchmark-storage", f"file://{cwd / 'store'}", "--benchmark-max-time", "0.01",
                           *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _saved_run_1000x_faster(tmp_path: Path, group: str = "cost") -> None:
    """A one-benchmark project using benchgate's hooks, with a saved run (0001) whose times are divided by 1000."""
    (tmp_path / "conftest.py").write_text("from benchgate import (pytest_addoption, pytest_configure, "
                                          "pytest_sessionstart, pytest_terminal_summary)\n")
    (tmp_path / "test_b.py").write_text(f"import pytest\n\n@pytest.mark.benchmark(group={group!r})\n"
                                        "def test_sum(benchmark):\n    benchmark(sum, range(100))\n")
    first = _pytest(tmp_path, "--benchmark-autosave")
    assert first.returncode == 0, first.stdout + first.stderr
    saved, = (tmp_path / "store").glob("*/0001_*.json")
    data = json.loads(saved.read_text())
    for bench in data["benchmarks"]:
        bench["stats"] = {k: v / 1000 if isinstance(v, float) else v for k, v in bench["stats"].items()}
    saved.write_text(json.dumps(data))


def test_a_regression_is_exit_1_with_one_line_and_no_traceback(tmp_path):
    _saved_run_1000x_faster(tmp_path)
    gated = _pytest(tmp_path, "--benchmark-compare=0001", "--benchmark-compare-fail=min:25%")
    out = gated.stdout + gated.stderr
    assert gated.returncode == 1, out
    assert "Performance has regressed" in out and "perf gate: 1 benchmark(s) beyond the" in out
    assert "Traceback" not in out and "INTERNALERROR" not in out
    passed = _pytest(tmp_path, "--benchmark-compare=0001", "--benchmark-compare-fail=min:1000000%")
    assert passed.returncode == 0, passed.stdout + passed.stderr


def test_perf_gate_applies_the_group_limit_to_min(tmp_path):
    _saved_run_1000x_faster(tmp_path, group="counters")
    gated = _pytest(tmp_path, "--benchmark-compare=0001", "--perf-gate")
    out = gated.stdout + gated.stderr
    assert gated.returncode == 1, out
    assert "Field 'min' has failed GroupLimit" in out and "(--perf-gate limit of group 'counters')" in out
    assert "Traceback" not in out
    other = tmp_path / "other"
    other.mkdir()
    _saved_run_1000x_faster(other, group="not-gated")  # a group without a limit is not checked
    assert _pytest(other, "--benchmark-compare=0001", "--perf-gate").returncode == 0


def test_perf_gate_needs_a_saved_run_to_compare_with(tmp_path):
    (tmp_path / "conftest.py").write_text("from benchgate import pytest_addoption, pytest_configure\n")
    (tmp_path / "test_b.py").write_text("def test_nothing():\n    pass\n")
    result = _pytest(tmp_path, "--perf-gate")
    assert result.returncode == 4 and "--perf-gate compares with a saved run" in result.stderr
