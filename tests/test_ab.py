"""vitbench.ab, vitbench.gittree and `vitbench ab`: sides from refs, trees and interpreters, the ABBA order, the
paired verdict, and whole A/B runs of this checkout against copies of it (cost-only, a config change, a measured
point made slower). No timing is asserted on beyond a 10x injected slowdown."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitbench import ab, gittree
from vitbench.cli import app
from vitbench.errors import VitbenchError

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

COST_SUITE = """\
name: ab_cost
description: cost only
defaults: {device: cpu}
measure: [params, flops]
grid:
  model: [vit_ti16, vit_s16]
  res: [224]
"""
TIMED_SUITE = """\
name: ab_timed
description: one tiny timed point
defaults: {device: cpu, batch: 1, warmup: 2, min_warmup_s: 0, iters: 10, min_time_s: 0}
measure: [latency]
grid:
  model: [vit_ti16]
  dim: 64
  depth: 1
  heads: 2
  res: [32]
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def copy_tree(dest: Path, edit: tuple[str, str, str] | None = None) -> Path:
    """A copy of this checkout's vitbench/ in `dest`; `edit` = (file, old, new) changes one line of it."""
    shutil.copytree(ROOT / "vitbench", dest / "vitbench", ignore=shutil.ignore_patterns("__pycache__"))
    if edit:
        path = dest / "vitbench" / edit[0]
        text = path.read_text()
        assert text.count(edit[1]) == 1
        path.write_text(text.replace(edit[1], edit[2]))
    return dest


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository (the working directory) whose one commit holds a copy of vitbench/."""
    path = copy_tree(tmp_path / "repo")
    git(path, "init", "-q")
    git(path, "add", "vitbench")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    monkeypatch.chdir(path)
    return path


# ---------------------------------------------------------------------------------------------- order, verdict

def test_schedule_alternates_which_side_goes_first_abba():
    order = ab.schedule(2, 4)
    assert [(r, p) for r, p, _ in order] == [(r, p) for r in range(4) for p in range(2)]
    processes = "".join("AB" if o == ab.SIDES else "BA" for _, _, o in order)
    assert processes == "ABBABAABABBABAAB"
    for p in range(2):  # with an even repeat count, each point runs first on each side equally often
        firsts = [o[0] for _, q, o in order if q == p]
        assert firsts.count("baseline") == firsts.count("candidate") == 2


def test_paired_finding_twice_as_slow_in_every_pair_is_a_regression():
    f = ab.paired_finding("latency_ms_median", [1.0, 2.0], [2.0, 4.0], 0.10, "p", {})
    assert (f.verdict, f.method, f.change, f.interval) == ("regression", "paired", 1.0, (1.0, 1.0))
    assert math.isclose(f.baseline, math.sqrt(2)) and math.isclose(f.candidate, math.sqrt(8))  # geometric means
    t = ab.paired_finding("throughput_ips", [100.0, 100.0], [50.0, 50.0], 0.10, "p", {})
    assert t.verdict == "regression" and math.isclose(t.change, -0.5) and math.isclose(t.worse, 1.0)


def test_paired_finding_beyond_the_limit_but_not_over_the_whole_interval_is_noise():
    # d = ln 1.2, 0, ln 1.4: mean 0.17293 (x1.189), sd 0.16843, t(2 df) = 4.303: low = exp(0.17293 - 0.41845) = 0.782
    f = ab.paired_finding("latency_ms_median", [1.0, 1.0, 1.0], [1.2, 1.0, 1.4], 0.10, "p", {})
    assert f.verdict == "noise"
    assert math.isclose(f.change, 0.18878, abs_tol=1e-4) and math.isclose(f.interval[0], 0.782 - 1, abs_tol=1e-3)
    assert ab.paired_finding("latency_ms_median", [1.0, 1.0], [1.02, 0.99], 0.10, "p", {}).verdict == "ok"
    assert ab.paired_finding("latency_ms_median", [2.0, 2.0], [1.0, 1.0], 0.10, "p", {}).verdict == "improved"


# ---------------------------------------------------------------------------------------------- sides

def test_a_ref_resolves_and_exports_its_tree(repo, tmp_path):
    sha = gittree.resolve("HEAD")
    assert sha == git(repo, "rev-parse", "HEAD") and len(sha) == 40
    tree = gittree.export(sha, tmp_path / "out")
    assert (tree / "vitbench" / "ab.py").read_text() == (ROOT / "vitbench" / "ab.py").read_text()


def test_unknown_ref_and_no_repository_are_one_line_errors(repo, tmp_path, monkeypatch):
    with pytest.raises(VitbenchError, match=r"--baseline-ref nosuch: no such commit in .*check the name"):
        gittree.resolve("nosuch")
    with pytest.raises(VitbenchError, match="not a git ref"):
        gittree.resolve("--help")
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(VitbenchError, match=r"--baseline-ref HEAD: .*plain is not inside a git repository"):
        gittree.resolve("HEAD")


def test_a_commit_without_vitbench_is_refused(repo, tmp_path):
    git(repo, "rm", "-q", "-r", "vitbench")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "gone")
    sha = gittree.resolve("HEAD")
    with pytest.raises(VitbenchError, match=r"that commit's tree has no vitbench package"):
        gittree.export(sha, tmp_path / "out")


def test_side_options_are_checked(tmp_path):
    with pytest.raises(VitbenchError, match="give --baseline-ref or --baseline-tree, not both"):
        ab.make_side("baseline", tmp_path, ref="HEAD", tree=tmp_path)
    with pytest.raises(VitbenchError, match="--baseline-tree .*: no vitbench package there"):
        ab.make_side("baseline", tmp_path, tree=tmp_path)
    with pytest.raises(VitbenchError, match="--candidate-python /nonexistent/python: not an executable file"):
        ab.make_side("candidate", tmp_path, python="/nonexistent/python")


def test_a_side_whose_vitbench_does_not_import_is_refused(tmp_path):
    tree = copy_tree(tmp_path / "t")
    with open(tree / "vitbench" / "__init__.py", "a") as fh:
        fh.write('\nraise RuntimeError("broken tree")\n')
    side = ab.make_side("baseline", tmp_path, tree=tree)
    with pytest.raises(VitbenchError, match=r"baseline \(tree .*\): cannot import vitbench: RuntimeError: broken"):
        ab.check(side, tmp_path)


def test_a_side_is_checked_to_import_its_own_tree(tmp_path):
    side = ab.check(ab.make_side("candidate", tmp_path, tree=copy_tree(tmp_path / "t")), tmp_path)
    assert Path(side.package) == (tmp_path / "t" / "vitbench").resolve() and side.version


# ---------------------------------------------------------------------------------------------- the command

def test_no_baseline_and_a_bad_output_folder_are_one_line_errors(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(COST_SUITE)
    result = invoke("ab", suite)
    assert result.exit_code == 2 and "needs a baseline: --baseline-ref REF" in result.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    result = invoke("ab", suite, "--baseline-tree", ROOT, "-o", tmp_path / "full")
    assert result.exit_code == 2 and "exists and is not an empty folder" in result.output
    result = invoke("ab", suite, "--baseline-ref", "nosuch", "--repeats", "0")
    assert result.exit_code == 2 and "--repeats" in result.output


def test_cost_only_ab_of_a_ref_against_this_checkout_passes(repo, tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(COST_SUITE)
    out = tmp_path / "ab"
    result = invoke("ab", suite, "--baseline-ref", "HEAD", "-o", out, "--json", tmp_path / "ab.json")
    assert result.exit_code == 0, result.output
    assert "PASS: 0 regression(s)" in result.output and "A/B on one machine, one repeat" in result.output
    report = json.loads((tmp_path / "ab.json").read_text())
    assert report["ab"]["repeats"] == 1  # nothing timed: one repeat
    assert report["ab"]["sides"]["baseline"]["sha"] == git(repo, "rev-parse", "HEAD")
    assert report["ab"]["sides"]["candidate"]["package"] == str(ROOT / "vitbench")
    assert sorted(p.name for p in (out / "baseline").iterdir()) == ["r1.csv", "r1.meta.json"]
    assert (out / "candidate" / "r1.csv").read_text() == (out / "baseline" / "r1.csv").read_text()


def test_a_deeper_preset_in_the_candidate_is_a_named_config_change(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(COST_SUITE)
    deeper = copy_tree(tmp_path / "cand", ("zoo.py", '"s": (384, 12, 6)', '"s": (384, 13, 6)'))
    result = invoke("ab", suite, "--baseline-tree", ROOT, "--candidate-tree", deeper, "-o", tmp_path / "ab")
    assert result.exit_code == 1, result.output
    assert "config changed: vit_s16 224: depth 12 → 13" in result.output and "FAIL" in result.output


def test_a_side_that_fails_to_run_is_one_line_naming_its_log(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(COST_SUITE)
    old = copy_tree(tmp_path / "old", ("__main__.py", "main()", 'raise SystemExit("error: no such command")'))
    result = invoke("ab", suite, "--baseline-tree", old, "-o", tmp_path / "ab")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith(
        "error: baseline (tree ") and "failed on point 0 (exit 1): error: no such command; log: " in result.output


@pytest.mark.slow
def test_a_slowed_candidate_fails_on_the_paired_repeats(tmp_path, monkeypatch):
    # 10 ms of sleep in every forward of a model that takes well under 1 ms: > 10x, whatever the machine's load
    # (one torch thread, as on any shared CPU: two threads on a loaded 2-core machine take 20-150 ms a forward)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    suite = tmp_path / "s.yaml"
    suite.write_text(TIMED_SUITE)
    slow = copy_tree(tmp_path / "slow", ("model.py", "        return self.forward_head(self.forward_features(x))",
                                         "        __import__('time').sleep(0.01)\n"
                                         "        return self.forward_head(self.forward_features(x))"))
    out, js = tmp_path / "ab", tmp_path / "ab.json"
    result = invoke("ab", suite, "--baseline-tree", ROOT, "--candidate-tree", slow, "--repeats", "2", "-o", out,
                    "--json", js, "--markdown", tmp_path / "ab.md")
    assert result.exit_code == 1, result.output
    report = json.loads(js.read_text())
    timing = {f["metric"]: f for f in report["findings"] if f["method"] == "paired"}
    assert set(timing) == {"latency_ms_median", "throughput_ips"}
    assert all(f["verdict"] == "regression" for f in timing.values())
    assert timing["latency_ms_median"]["interval"][0] > 1.0  # the whole interval above +100 %
    assert [(p["repeat"], p["ratio"] > 5) for p in report["pairs"]] == [(1, True), (2, True)]
    assert (out / "pairs.csv").read_text().startswith("point,repeat,baseline_ms,candidate_ms,ratio\n")
    assert sorted(p.name for p in (out / "candidate").iterdir()) == [
        "r1.csv", "r1.meta.json", "r1.samples.csv", "r2.csv", "r2.meta.json", "r2.samples.csv"]
    assert "paired t interval" in (tmp_path / "ab.md").read_text()
    assert "[low, high]: 95% paired t interval of the change over the A/B repeats" in result.output


def test_a_status_that_fails_in_several_repeats_is_one_regression(tmp_path):
    from vitbench.cost.analytic import cost_row
    from vitbench.schema import make_row
    from vitbench.storage import write_rows
    from vitbench.zoo import resolve

    cfg = resolve("vit_ti16", 32, depth=2, dim=64, heads=4)
    key = {**cfg.to_row(), **cost_row(cfg), "batch": 2, "device": "cpu", "dtype": "fp32", "attn": "sdpa",
           "compile": False, "mode": "infer", "threads": 1}
    ok = make_row(**key, latency_ms_median=1.0, throughput_ips=2000.0, status="ok")
    failed = make_row(**key, status="error", error="RuntimeError: boom")
    files = {"baseline": [], "candidate": []}
    for r, cand in enumerate((ok, failed, failed, ok)):
        for side, row in (("baseline", ok), ("candidate", cand)):
            files[side].append(write_rows([row], tmp_path / side / f"r{r + 1}.csv"))
    side = ab.Side("x", sys.executable, None, "tree x")
    run = ab.Run(tmp_path, tmp_path / "s.yaml", {"baseline": side, "candidate": side}, 4, [0], ["p"], files)
    result, _ = ab.comparison(run, max_slowdown=0.25)
    statuses = [f for f in result.findings if f.metric == "status" and f.verdict == "regression"]
    assert len(statuses) == 1 and result.exit_code == 1
