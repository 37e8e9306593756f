"""vitbench.cluster (sweep --executor): options, shard semantics, the local executor end to end (real submitit
job processes, cost-only points: a job is its start-up), a failed job and the resubmission of only its points,
--no-wait and the merge command, the sbatch script a Slurm submission writes (fake sbatch/srun), and the one-line
error without submitit."""

from __future__ import annotations

import json
import os
import shlex
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitbench import runs, storage
from vitbench.cli import app
from vitbench.cluster.options import ClusterOptions, auto_device, resolver
from vitbench.cluster.submit import split
from vitbench.errors import VitbenchError
from vitbench.results_io import load_text, row_key
from vitbench.runner import select_shard

pytest.importorskip("submitit")

COST = """
    name: cost6
    defaults: {device: cpu}
    measure: [params, flops]
    grid: {model: vit_ti16, depth: 2, patch: [8, 16], res: [32, 64, 96]}
"""


def suite(tmp_path, text: str = COST) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def rows_of(path: Path) -> set:
    """Every row as text, without the order (jobs finish in any order)."""
    return {tuple(r.values()) for r in load_text(path).to_dict("records")}


def test_round_one_is_shard_k_of_n(tmp_path):
    points = runs.plan_suite(suite(tmp_path)).selected
    for n in (1, 2, 3, 4, 6, 7):
        parts = split([p.index for p in points], n)
        expected = [[p.index for p in select_shard(points, (k, n))] for k in range(1, n + 1)]
        assert [list(p) for p in parts] == [e for e in expected if e]


@pytest.mark.parametrize("opts, why", [
    (ClusterOptions("slurm"), "needs --slurm-partition"),
    (ClusterOptions("local", partition="gpu"), "--slurm-partition apply to --executor slurm only"),
    (ClusterOptions("local", gpus_per_job=2, setup=("module load cuda",)),
     "--slurm-gpus-per-job, --slurm-setup apply"),
])
def test_options_that_do_not_fit_the_executor_are_refused(opts, why):
    with pytest.raises(VitbenchError, match=why):
        opts.check()


def test_cli_refuses_shard_with_an_executor_and_names_the_extra_without_submitit(tmp_path, monkeypatch):
    path = suite(tmp_path)
    result = invoke("sweep", path, "--executor", "local", "--shard", "1/2", "-o", tmp_path / "b.csv")
    assert result.exit_code == 2 and "--shard and --executor do not combine" in result.stderr
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if it were not installed
    result = invoke("sweep", path, "--executor", "local", "-o", tmp_path / "b.csv")
    assert result.exit_code == 2 and result.stderr.strip().splitlines() == [
        "error: --executor needs submitit, which is not installed: pip install 'vitbench[cluster]'"]


def test_local_jobs_merge_into_the_rows_of_a_plain_run_and_a_failed_job_is_resubmitted_alone(tmp_path):
    path = suite(tmp_path)
    assert invoke("sweep", path, "-o", tmp_path / "plain.csv").exit_code == 0
    out = tmp_path / "b.csv"
    blocker = tmp_path / "b.jobs" / "r1_job2of2.csv"
    blocker.mkdir(parents=True)  # job 2 cannot write its file: it fails
    first = invoke("sweep", path, "--executor", "local", "--jobs", "2", "-o", out)
    assert first.exit_code == 1, first.output
    assert "submitted 2 local job(s) for 6 points" in first.output and "it is a folder" in first.output
    assert "3 point(s) have no row yet" in first.output
    meta = storage.read_metadata(out)
    assert meta["status"] == "incomplete" and [j["state"] for j in meta["jobs"]] == ["COMPLETED", "FAILED"]
    assert len(load_text(out)) == 3

    blocker.rmdir()
    again = invoke("sweep", path, "--executor", "local", "--jobs", "2", "-o", out)
    assert again.exit_code == 0, again.output
    assert "submitted 2 local job(s) for 3 points (3 of 6 points already have rows)" in again.output
    assert rows_of(out) == rows_of(tmp_path / "plain.csv")  # same rows, each once
    keys = [row_key(r) for r in load_text(out).to_dict("records")]
    assert len(keys) == len(set(keys)) == 6
    meta = storage.read_metadata(out)
    assert meta["status"] == "complete" and meta["points"] == {"in_suite": 6, "selected": 6, "merged": 6,
                                                               "missing": 0}
    jobs = meta["jobs"]
    assert [(j["round"], j["job"], j["state"], j["points"]) for j in jobs] == [
        (1, "1/2", "COMPLETED", 3), (1, "2/2", "FAILED", 3), (2, "1/2", "COMPLETED", 2), (2, "2/2", "COMPLETED", 1)]
    assert all(j["host"] and j["wall_s"] is not None and j["queue_s"] is not None for j in jobs if j["rows"])
    assert sorted(p.name for p in tmp_path.glob("b.*")) == ["b.csv", "b.jobs", "b.meta.json"]


def test_no_wait_prints_the_merge_command_and_the_same_command_later_waits_and_merges(tmp_path):
    path = suite(tmp_path)
    out = tmp_path / "b.csv"
    submitted = invoke("sweep", path, "--executor", "local", "--jobs", "2", "--no-wait", "-o", out)
    assert submitted.exit_code == 0 and not out.exists()
    merge_line = next(ln.strip() for ln in submitted.output.splitlines() if ln.strip().startswith("vitbench merge"))
    again = invoke("sweep", path, "--executor", "local", "--jobs", "2", "-o", out)
    assert again.exit_code == 0, again.output
    assert "still queued or running" in again.output or "every point of the suite has a row" in again.output
    assert len(load_text(out)) == 6
    merged = invoke(*shlex.split(merge_line)[1:-3], "-o", tmp_path / "m.csv")
    assert merged.exit_code == 0 and rows_of(tmp_path / "m.csv") == rows_of(out)


FAKE_SLURM = """#!/bin/sh
cp "$1" "{keep}"
echo "Submitted batch job 4242"
"""


def test_slurm_submission_maps_the_options_to_sbatch(tmp_path, monkeypatch):
    """sbatch and srun are fakes: the submission is real submitit up to the sbatch call."""
    bin_dir, keep = tmp_path / "bin", tmp_path / "submitted.sh"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SLURM.format(keep=keep))
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    for tool in ("sbatch", "srun"):
        os.chmod(bin_dir / tool, 0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    path = suite(tmp_path, COST.replace("device: cpu", "device: auto"))
    out = tmp_path / "g.csv"
    result = invoke("sweep", path, "--executor", "slurm", "--jobs", "3", "--slurm-partition", "gpu",
                    "--slurm-gpus-per-job", "2", "--slurm-time", "30", "--slurm-setup", "module load cuda",
                    "--no-wait", "-o", out)
    assert result.exit_code == 0, result.output
    script = keep.read_text()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=2", "#SBATCH --time=30",
                 "#SBATCH --array=0-2%3", "#SBATCH --job-name=vitbench-cost6", "module load cuda"):
        assert line in script, line
    state = json.loads((tmp_path / "g.jobs" / "state.json").read_text())
    assert [j["job_id"] for j in state["jobs"]] == ["4242_0", "4242_1", "4242_2"]
    assert "vitbench merge" in result.output and "g.jobs/r1_job3of3.csv -o" in result.output
    # planned for the GPU nodes: auto -> cuda (2 GPUs per job: a worker each), keys known on this login node
    plan = runs.plan_suite(path, workers=["cuda:0", "cuda:1"],
                           resolve_device=resolver(auto_device(ClusterOptions("slurm", partition="gpu",
                                                                              gpus_per_job=2))))
    assert {p.spec.device for p in plan.selected} == {"cuda"}
