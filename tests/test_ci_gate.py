"""The project's own timing gate: results/baselines/gate_ref, .ci/timing_gate (its skip where the commit is not
in the clone, and the command it runs where it is), the Makefile's gate target and suites/ci_gate.yaml."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from vitbench.expansion import expand
from vitbench.suite import load_suite

ROOT = Path(__file__).resolve().parent.parent
GATE_REF = (ROOT / "results" / "baselines" / "gate_ref").read_text().strip()


def gate_copy(tmp_path: Path) -> Path:
    """The gate script and gate_ref in a folder of their own, with a stand-in for vitbench that prints its args."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "timing_gate", tmp_path / ".ci" / "timing_gate")
    (tmp_path / "results" / "baselines").mkdir(parents=True)
    shutil.copy(ROOT / "results" / "baselines" / "gate_ref", tmp_path / "results" / "baselines" / "gate_ref")
    stub = tmp_path / "vitbench-stub"
    stub.write_text('#!/usr/bin/env bash\necho "vitbench $* OMP_NUM_THREADS=$OMP_NUM_THREADS"\n')
    stub.chmod(0o755)
    return tmp_path


def run_gate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(path / ".ci" / "timing_gate")], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "VITBENCH": str(path / "vitbench-stub")})


def test_gate_ref_is_a_full_sha_of_this_history():
    assert re.fullmatch(r"[0-9a-f]{40}", GATE_REF)
    inside = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{GATE_REF}^{{commit}}"],
                            capture_output=True)
    shallow = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"], capture_output=True,
                             text=True).stdout.strip()
    if shallow != "false":
        pytest.skip("not a full git clone: the gate skips itself there (next test)")
    assert inside.returncode == 0, f"gate_ref {GATE_REF} is not a commit of this repository"


def test_without_the_commit_the_timing_gate_skips_with_exit_0(tmp_path):
    path = gate_copy(tmp_path)  # not a git repository at all
    done = run_gate(path)
    assert done.returncode == 0, done.stderr
    assert f"gate: timing A/B SKIPPED: commit {GATE_REF}" in done.stdout and "fetch-depth: 0" in done.stdout
    assert "vitbench ab" not in done.stdout
    subprocess.run(["git", "init", "-q", str(path)], check=True)  # a repository without that commit, no remote
    done = run_gate(path)
    assert done.returncode == 0 and "SKIPPED" in done.stdout


def test_with_the_commit_the_timing_gate_runs_ab_against_it(tmp_path):
    path = gate_copy(tmp_path)
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "x"], check=True)
    sha = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    (path / "results" / "baselines" / "gate_ref").write_text(sha + "\n")
    done = run_gate(path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"vitbench ab suites/ci_gate.yaml --baseline-ref {sha} --repeats 6 "
                                   f"--max-slowdown 25% -o results/ci/ab --markdown results/ci/ab.md --json "
                                   f"results/ci/ab.json OMP_NUM_THREADS=1")


def test_make_gate_runs_the_cost_gate_then_the_timing_gate():
    text = (ROOT / "Makefile").read_text()
    gate = text[text.index("\ngate:"):].split("\n\n")[0]
    assert "vitbench compare results/baselines/zoo_cost.csv results/ci/zoo_cost.csv --strict" in gate
    assert gate.rstrip().endswith(".ci/timing_gate")
    assert "make gate" in (ROOT / ".ci" / "run").read_text()


def test_the_gate_suite_times_one_cheap_point_on_cpu():
    points = expand(load_suite(ROOT / "suites" / "ci_gate.yaml"), lambda d: "cpu")
    assert len(points) == 1 and points[0].plan == "measure" and points[0].spec.device == "cpu"
    assert points[0].measures == ("params", "flops", "latency")  # no memory child, no split: one process each
