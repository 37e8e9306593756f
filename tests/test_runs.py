"""vitbench.runs: planning a suite or a bench grid, naming outputs, running through a Session, stopping."""

from __future__ import annotations

import os
import textwrap

import pytest

from vitbench import runner, runs, storage
from vitbench.errors import Stopped, VitbenchError
from vitbench.results_io import load_text
from vitbench.runs import default_output, latest_output

COST_SUITE = """
    name: cost_grid
    defaults: {device: cpu}
    measure: [params, flops]
    grid: {model: vit_ti16, depth: 2, patch: [8, 16], res: [32, 64]}
"""


def suite(tmp_path, text: str = COST_SUITE):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_default_output_never_reuses_a_name_and_latest_finds_the_newest(tmp_path):
    first = default_output(tmp_path, "s", "cpu", None, "20250101-120000")
    assert first == tmp_path / "s" / "20250101-120000_cpu.csv"
    first.parent.mkdir()
    first.write_text("x")
    second = default_output(tmp_path, "s", "cpu", None, "20250101-120000")
    assert second.name == "20250101-120000.2_cpu.csv"
    second.write_text("x")
    os.utime(first, (1, 1))
    assert latest_output(tmp_path, "s", "cpu", None) == second
    sharded = default_output(tmp_path, "s", "cpu", (2, 4), "20250101-120001")
    assert sharded.name == "20250101-120001_cpu_shard2of4.csv"
    assert latest_output(tmp_path, "s", "cpu", (2, 4)) is None
    assert latest_output(tmp_path, "s", "cuda", None) is None


def test_plan_and_execute_a_suite(tmp_path):
    plan = runs.plan_suite(suite(tmp_path), shard="1/2")
    assert (plan.kind, plan.name, len(plan.points), [p.index for p in plan.selected]) == ("sweep", "cost_grid", 4,
                                                                                          [0, 2])
    path = runs.output_path(plan, None, False, tmp_path / "results")
    assert path.parent == tmp_path / "results" / "cost_grid" and path.name.endswith("_cpu_shard1of2.csv")
    headers = []
    outcome = runs.execute(plan, path, on_start=lambda header, notes: headers.append(header), argv=["sweep"])
    assert outcome.result.written == 2 and len(outcome.rows) == 2 and "running 2" in headers[0]
    meta = storage.read_metadata(path)
    assert meta["kind"] == "sweep" and meta["settings"]["suite"]["name"] == "cost_grid" and meta["status"] == \
        "complete"


def test_an_interrupted_run_stops_with_the_resume_command(tmp_path):
    plan = runs.plan_suite(suite(tmp_path))
    path = tmp_path / "r.csv"
    calls = []

    def second_is_interrupted(point):
        calls.append(point.index)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return runner.execute(point)

    with pytest.raises(Stopped) as stop:
        runs.execute(plan, path, execute_point=second_is_interrupted)
    assert stop.value.exit_code == 130 and f"--resume -o {path}" in str(stop.value)
    assert len(load_text(path)) == 1 and storage.read_metadata(path)["status"] == "interrupted"
    outcome = runs.execute(plan, path, resume=True)
    assert (outcome.result.written, outcome.result.skipped) == (3, 1)


def test_a_run_without_a_file_still_collects_rows(tmp_path):
    outcome = runs.execute(runs.plan_suite(suite(tmp_path)), None)
    assert outcome.path is None and len(outcome.rows) == 4


def test_output_must_be_csv(tmp_path):
    with pytest.raises(VitbenchError, match="ending in .csv"):
        runs.output_path(runs.plan_suite(suite(tmp_path)), tmp_path / "r.json", False, tmp_path)


def test_dry_run_device_needs_no_torch():
    assert runs.dry_run_device("cpu") == "cpu" and runs.dry_run_device("cuda:1") == "cuda:1"
    assert runs.dry_run_device("auto") in ("cpu", "cuda")


def test_points_selects_indices_and_ranges_and_combines_with_a_shard(tmp_path):
    path = suite(tmp_path)
    assert [p.index for p in runs.plan_suite(path, points="3,0").selected] == [0, 3]
    plan = runs.plan_suite(path, points="1-3")
    assert [p.index for p in plan.selected] == [1, 2, 3] and len(plan.points) == 4
    assert plan.settings["points"] == [1, 2, 3] and "--points 1-3" in plan.resume_args
    assert [p.index for p in runs.plan_suite(path, points="0-3", shard="2/2").selected] == [1, 3]
    assert runs.plan_suite(path).settings["points"] is None


@pytest.mark.parametrize("text, message", [
    ("4", "--points 4: the suite has 4 point(s), numbered 0 to 3"),
    ("2-9", "--points 2-9: the suite has 4 point(s)"),
    ("a", "--points takes point indices like 0,3,5 or 2-4, got 'a'"),
    ("1,,2", "--points takes point indices"),
    ("-1", "--points takes point indices"),
])
def test_bad_points_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(VitbenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        runs.plan_suite(suite(tmp_path), points=text)
