"""`vitbench sweep` and `vitbench merge` through the CLI: errors, dry run, output files, resume after a real
SIGINT, shards + merge, invalid points, and one real measured point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitbench.cli import app
from vitbench.results_io import load_text, row_key

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent

COST_SUITE = """
    name: cost_grid
    description: closed-form cost of tiny ViTs
    defaults: {device: cpu}
    measure: [params, flops, split]
    grid: {model: vit_ti16, depth: 2, patch: [8, 16], res: [32, 64, 96]}
"""


def suite_file(tmp_path, text: str = COST_SUITE, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("text, expected", [
    ("name: t\ngrid: {model: vit_b16, colour: [red]}\n", "grid.colour: unknown key (value ['red'])"),
    ("name: t\ngrid: {model: vit_b16, depth: [twelve]}\n",
     "grid.depth[0]: Input should be a valid integer (got 'twelve')"),
    ("name: !!python/object/apply:os.system [echo]\ngrid: {model: vit_b16}\n", "refused YAML tag !!python/object"),
    ("name: t\ngrid: {model: vit_b16, patch: [16, 14], res: [384]}\n",
     "grid point #1 (model=vit_b16, patch=14, res=384): resolution height 384 is not divisible by patch 14"),
    ("name: t\ngrid: {model: vit_b16, heads: [5]}\n", "width 768 is not divisible by 5 heads"),
])
def test_schema_errors_are_one_line_exit_2_naming_file_key_and_value(tmp_path, text, expected):
    path = suite_file(tmp_path, text)
    line = one_line_error(invoke("sweep", path, "-o", tmp_path / "out.csv"))
    assert str(path) in line and expected in line
    assert not (tmp_path / "out.csv").exists()  # nothing ran


@pytest.mark.parametrize("args, expected", [
    (["--shard", "5/4"], "--shard K/N needs 1 <= K <= N"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["-o", "out.json"], "results are written as CSV"),
])
def test_bad_options_are_one_line(tmp_path, args, expected):
    assert expected in one_line_error(invoke("sweep", suite_file(tmp_path), *args))


def test_missing_suite_file_is_one_line(tmp_path):
    assert "not found" in one_line_error(invoke("sweep", tmp_path / "none.yaml"))


def test_dry_run_prints_points_and_writes_nothing(tmp_path):
    result = invoke("sweep", suite_file(tmp_path), "--dry-run", "--results-dir", tmp_path / "results")
    assert result.exit_code == 0, result.output
    assert "cost_grid: 6 points" in result.output and "cost (closed form)" in result.output
    assert not (tmp_path / "results").exists()
    shard = invoke("sweep", suite_file(tmp_path), "--dry-run", "--shard", "2/4")
    assert "shard 2/4 has 2" in shard.output


def test_sweep_writes_csv_sidecar_and_pivoted_summary(tmp_path):
    result = invoke("sweep", suite_file(tmp_path), "--results-dir", tmp_path / "results")
    assert result.exit_code == 0, result.output
    [csv] = list((tmp_path / "results" / "cost_grid").glob("*_cpu.csv"))
    rows = load_text(csv)
    assert len(rows) == 6 and set(rows["status"]) == {"ok"}
    assert "rows: patch, columns: res" in result.output and "GMACs per image" in result.output
    meta = json.loads(csv.with_name(csv.stem + ".meta.json").read_text())
    suite = meta["settings"]["suite"]
    assert meta["kind"] == "sweep" and suite["name"] == "cost_grid" and len(suite["sha256"]) == 64
    assert "grid:" in suite["text"] and meta["runs"][0]["status"] == "complete" and meta["status"] == "complete"
    assert meta["start"] and meta["end"] and meta["environment"]["vitbench_version"]


def test_rerun_without_resume_refuses_and_resume_skips_everything(tmp_path):
    path, out = suite_file(tmp_path), tmp_path / "r.csv"
    assert invoke("sweep", path, "-o", out).exit_code == 0
    assert "already exists; pass --resume" in one_line_error(invoke("sweep", path, "-o", out))
    again = invoke("sweep", path, "-o", out, "--resume")
    assert again.exit_code == 0, again.output
    assert "0 row(s) written" in again.output and "6 already in the file" in again.output
    assert len(load_text(out)) == 6
    meta = json.loads((tmp_path / "r.meta.json").read_text())
    assert [r["status"] for r in meta["runs"]] == ["complete", "complete"]


def test_resume_without_output_finds_the_latest_file(tmp_path):
    path, results = suite_file(tmp_path), tmp_path / "results"
    assert "no earlier result" in one_line_error(invoke("sweep", path, "--resume", "--results-dir", results))
    assert invoke("sweep", path, "--results-dir", results, "--shard", "1/2").exit_code == 0
    [first] = list((results / "cost_grid").glob("*.csv"))
    resumed = invoke("sweep", path, "--results-dir", results, "--shard", "1/2", "--resume")
    assert resumed.exit_code == 0 and str(first) in resumed.output and "3 already in" in resumed.output


def test_skip_invalid_records_invalid_rows(tmp_path):
    path = suite_file(tmp_path, "name: t\nmeasure: [params]\ndefaults: {device: cpu}\n"
                                "grid: {model: vit_ti16, depth: 2, patch: [16, 14], res: [224, 384]}\n")
    out = tmp_path / "r.csv"
    result = invoke("sweep", path, "-o", out, "--skip-invalid")
    assert result.exit_code == 0, result.output
    rows = load_text(out)
    assert list(rows["status"]) == ["ok", "ok", "ok", "invalid"]
    assert "384 is not divisible by patch 14" in rows.loc[3, "error"]


def test_shards_then_merge_equal_the_full_sweep(tmp_path):
    path = suite_file(tmp_path)
    full = tmp_path / "full.csv"
    assert invoke("sweep", path, "-o", full).exit_code == 0
    shards = [tmp_path / f"s{k}.csv" for k in (1, 2, 3)]
    for k, shard in enumerate(shards, start=1):
        assert invoke("sweep", path, "-o", shard, "--shard", f"{k}/3").exit_code == 0
    assert [len(load_text(s)) for s in shards] == [2, 2, 2]
    merged = tmp_path / "merged.csv"
    result = invoke("merge", *shards, shards[0], "-o", merged)
    assert result.exit_code == 0, result.output
    assert "2 identical duplicate(s) dropped" in result.output
    keys = lambda p: sorted(row_key(r) for r in load_text(p).to_dict("records"))  # noqa: E731
    assert keys(merged) == keys(full) and len(load_text(merged)) == 6
    assert json.loads((tmp_path / "merged.meta.json").read_text())["kind"] == "merge"


def test_merge_refuses_conflicting_duplicates_in_one_line(tmp_path):
    path = suite_file(tmp_path)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert invoke("sweep", path, "-o", a).exit_code == 0
    text = a.read_text().splitlines()
    cells = text[1].split(",")
    cells[text[0].split(",").index("macs")] = "1"
    b.write_text("\n".join([text[0], ",".join(cells)]) + "\n")
    line = one_line_error(invoke("merge", a, b, "-o", tmp_path / "m.csv"))
    assert "differ in macs" in line and str(a) in line and str(b) in line
    assert not (tmp_path / "m.csv").exists()


SLOW_SUITE = """
    name: slow
    defaults: {device: cpu, warmup: 0, min_warmup_s: 0, iters: 1, min_time_s: 0.25}
    measure: [latency]
    grid: {model: vit_ti16, dim: 32, depth: 1, heads: 2, patch: [8, 16], res: [32, 48, 64, 80, 96, 112]}
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum, code, status", [(signal.SIGINT, 130, "interrupted"),
                                                  (signal.SIGTERM, 143, "terminated")])
def test_a_signal_keeps_finished_rows_and_resume_completes_without_duplicates(tmp_path, signum, code, status):
    """A real SIGINT / SIGTERM to `python -m vitbench sweep` in a child process, then --resume."""
    path = suite_file(tmp_path, SLOW_SUITE)
    out = tmp_path / "r.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "vitbench", "sweep", str(path), "-o", str(out)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if out.exists() and len(out.read_text().splitlines()) >= 3:  # header + 2 rows
            break
        time.sleep(0.05)
    child.send_signal(signum)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == code, stderr
    assert f"--resume -o {out}" in stderr and "Traceback" not in stderr
    before = load_text(out)
    assert 2 <= len(before) < 12  # stopped before the end, every finished row kept
    assert out.read_text().endswith("\n")
    meta = json.loads((tmp_path / "r.meta.json").read_text())
    assert meta["runs"][-1]["status"] == status == meta["status"]
    assert not list(tmp_path.glob("r.csv.lock"))

    resumed = invoke("sweep", path, "-o", out, "--resume")
    assert resumed.exit_code == 0, resumed.output
    after = load_text(out)
    keys = [row_key(r) for r in after.to_dict("records")]
    assert len(after) == 12 and len(set(keys)) == 12  # nothing lost, nothing duplicated
    assert after.iloc[:len(before)].equals(before)  # the rows written before the stop are untouched
    assert f"{len(before)} already in the file" in resumed.output


def test_resume_does_not_delete_a_finished_row_missing_only_its_newline(tmp_path):
    """Issue 10, defect 1: `head -c -1 f.csv > g.csv; sweep --resume -o g.csv` lost a row."""
    path = suite_file(tmp_path)
    f, g = tmp_path / "f.csv", tmp_path / "g.csv"
    assert invoke("sweep", path, "-o", f).exit_code == 0
    g.write_bytes(f.read_bytes()[:-1])
    result = invoke("sweep", path, "--resume", "-o", g)
    assert result.exit_code == 0, result.output
    assert g.read_bytes() == f.read_bytes()  # the cut row was recomputed, byte for byte


def test_one_real_point_with_every_measure(tmp_path):
    pytest.importorskip("torch")
    path = suite_file(tmp_path, """
        name: tiny
        defaults: {device: cpu, warmup: 1, min_warmup_s: 0, iters: 3, min_time_s: 0}
        measure: [params, flops, split, latency, memory]
        grid: {model: vit_ti16, dim: 64, depth: 2, heads: 2, res: 32}
    """)
    out = tmp_path / "r.csv"
    result = invoke("sweep", path, "-o", out)
    assert result.exit_code == 0, result.output
    row = load_text(out).iloc[0]
    assert row["status"] == "ok", row["error"]
    for column in ("params", "macs", "latency_ms_median", "throughput_ips", "mem_peak_mib", "time_ms_attn_core"):
        assert float(row[column]) > 0, column
    assert "median ms" in result.output and "peak MiB" in result.output


def test_cpu_overrides_and_cost_only_points_are_announced(tmp_path):
    path = suite_file(tmp_path, """
        name: heavy
        defaults: {device: cpu, batch: 64, iters: 100}
        measure: [params, flops, latency, memory]
        grid: {model: [vit_l16, vit_h14]}
        cpu: {batch: 1, iters: 2, max_gmacs: 10}
    """)
    out = tmp_path / "r.csv"
    result = invoke("sweep", path, "-o", out)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "applied this suite's cpu overrides (batch 1, iters 2)" in flat
    assert "2 point(s) above cpu.max_gmacs = 10 GMACs per forward are cost-only on cpu" in flat
    rows = load_text(out)
    assert list(rows["batch"]) == ["1", "1"] and set(rows["status"]) == {"ok"}
    assert set(rows["latency_ms_median"]) == {""} and all(int(m) > 0 for m in rows["macs"])
    meta = json.loads((tmp_path / "r.meta.json").read_text())
    overrides = meta["settings"]["cpu_overrides"]
    assert overrides["applied"] and len(overrides["cost_only_points"]) == 2
    assert "model" in result.output and "cost only" in result.output  # one varying axis: the long table


def test_progress_lines_and_eta_weighted_by_work(tmp_path):
    import io

    from rich.console import Console

    from vitbench.render.sweep import POINT_OVERHEAD_GMACS, SweepProgress, point_weight
    from vitbench.runner import cost_row
    from vitbench.expansion import expand
    from vitbench.suite import load_suite

    path = suite_file(tmp_path, """
        name: eta
        defaults: {device: cpu, warmup: 1, iters: 4}
        measure: [latency]
        grid: {model: vit_b16, patch: [16, 32]}
    """)
    points = expand(load_suite(path), lambda d: d)
    forwards = 1 + 1 + 4  # probe + warm-up + timed
    assert [point_weight(p) for p in points] == pytest.approx(
        [POINT_OVERHEAD_GMACS + forwards * p.gmacs_per_forward for p in points])
    now = [0.0]
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=False)
    with SweepProgress(console, points, total=3, skipped=1, clock=lambda: now[0]) as progress:
        progress.point_started(points[0], 1)
        now[0] = 40.0
        progress.point_finished(points[0], cost_row(points[0]) | {"latency_ms_median": 250.0}, 1)
    line = buffer.getvalue()
    expected_eta = 40.0 / point_weight(points[0]) * point_weight(points[1])
    assert line.startswith("[2/3] vit_b16 · P16 · 224 px") and "ok 250 ms median" in line
    assert f"ETA ~0:{round(expected_eta):02d}" in line and "0:40 elapsed" in line


def test_points_runs_only_those_points_and_resume_adds_others(tmp_path):
    path, out = suite_file(tmp_path), tmp_path / "r.csv"
    dry = invoke("sweep", path, "--dry-run", "--points", "0,4-5")
    assert dry.exit_code == 0 and "6 points, --points selects 3" in dry.output
    assert invoke("sweep", path, "-o", out, "--points", "1").exit_code == 0
    assert list(load_text(out)[["patch", "res_h"]].itertuples(index=False, name=None)) == [("8", "64")]
    assert invoke("sweep", path, "-o", out, "--points", "1,3", "--resume").exit_code == 0
    assert list(load_text(out)["res_h"]) == ["64", "32"]  # point 1 kept, point 3 (patch 16, 32 px) added
    assert json.loads((tmp_path / "r.meta.json").read_text())["settings"]["points"] == [1, 3]
    assert "the suite has 6 point(s), numbered 0 to 5" in one_line_error(invoke("sweep", path, "--points", "6"))
