"""Points -> rows (vitbench.runner): cost rows, invalid rows, resume skipping, shards, callbacks, failures."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from vitbench import runner
from vitbench.errors import VitbenchError
from vitbench.schema import ALL_COLUMNS
from vitbench.cost.analytic import cost_row
from vitbench.results_io import row_key
from vitbench.expansion import expand
from vitbench.suite import load_suite


def cpu(device: str) -> str:
    return "cpu" if device == "auto" else device


def points_of(tmp_path, text: str):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return expand(load_suite(path), cpu)


COST_SUITE = """
    name: t
    measure: [params, flops, split]
    grid: {model: vit_ti16, depth: 2, patch: [8, 16], res: [32, 64, 96]}
"""


class Recorder:
    def __init__(self):
        self.events = []

    def point_started(self, point, position):
        self.events.append(("start", point.index, position))

    def point_finished(self, point, row, position):
        self.events.append(("done", point.index, position, row["status"]))


def test_parse_shard():
    assert runner.parse_shard("2/4") == (2, 4) and runner.parse_shard(None) is None
    for bad in ("0/4", "5/4", "1/0", "a/b", "3", "1/2/3"):
        with pytest.raises(VitbenchError, match="--shard"):
            runner.parse_shard(bad)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 13])
def test_shards_partition_the_points_exactly_once(tmp_path, n):
    points = points_of(tmp_path, COST_SUITE)
    shards = [runner.select_shard(points, (k, n)) for k in range(1, n + 1)]
    indices = sorted(p.index for shard in shards for p in shard)
    assert indices == list(range(len(points)))
    assert all(p.index % n == k for k, shard in enumerate(shards) for p in shard)


def test_cost_rows_are_the_closed_form_in_schema_order(tmp_path):
    point = points_of(tmp_path, COST_SUITE)[0]
    done = runner.execute(point)
    row = done.row
    assert not done.measured and done.samples == {}
    assert list(row) == list(ALL_COLUMNS) and row["status"] == "ok"
    assert {k: row[k] for k in point.cfg.to_row()} == point.cfg.to_row()
    assert {k: row[k] for k in cost_row(point.cfg)} == cost_row(point.cfg)
    assert (row["batch"], row["device"], row["dtype"], row["attn"], row["compile"]) == (1, "cpu", "fp32", "sdpa", False)
    assert row["latency_ms_median"] is None and row["mem_peak_mib"] is None
    assert row_key(row) == runner.point_row_key(point)


def test_invalid_rows_carry_the_config_and_the_reason(tmp_path):
    points = points_of(tmp_path, "name: t\nmeasure: [params]\ngrid: {model: vit_b16, patch: [14], res: [224, 384]}\n")
    row = runner.execute(points[1]).row
    assert row["status"] == "invalid" and "not divisible by patch 14" in row["error"]
    assert (row["model"], row["patch"], row["res_h"], row["dim"], row["tokens"]) == ("vit_b16", 14, 384, 768, None)
    assert row_key(row) == runner.point_row_key(points[1])


def test_run_appends_each_row_in_order_and_skips_done_keys(tmp_path):
    points = points_of(tmp_path, COST_SUITE)
    written, recorder = [], Recorder()
    done = {runner.point_row_key(points[1]), runner.point_row_key(points[4])}
    result = runner.run(points, lambda r: written.append(r.row), done, recorder)
    assert [r["patch"] for r in written] == [8, 8, 16, 16] and (result.written, result.skipped) == (4, 2)
    assert result.statuses == {"ok": 4}
    assert recorder.events[:2] == [("start", 0, 1), ("done", 0, 1, "ok")]
    assert [e[1] for e in recorder.events if e[0] == "done"] == [0, 2, 3, 5]


def test_interrupt_keeps_the_rows_before_it(tmp_path, monkeypatch):
    points = points_of(tmp_path, COST_SUITE)
    written = []
    real = runner.execute

    def interrupt_third(point):
        if point.index == 2:
            raise KeyboardInterrupt
        return real(point)

    with pytest.raises(KeyboardInterrupt):
        runner.run(points, lambda r: written.append(r.row), execute_point=interrupt_third)
    assert [r["patch"] for r in written] == [8, 8]


def test_measured_points_go_to_the_point_runner_and_failures_become_rows(tmp_path, monkeypatch):
    points = points_of(tmp_path, "name: t\nmeasure: [latency]\ngrid: {model: vit_ti16, depth: 2, res: [32, 64]}\n")
    calls = []

    def fake_bench(point):
        calls.append(point.index)
        if point.index == 1:
            raise RuntimeError("a bug in a measurement")
        return runner.Result(runner.cost_row(point) | {"latency_ms_median": 1.0}, {"latency_ms": (1.0,)})

    monkeypatch.setattr(runner, "measure", fake_bench)
    written = []
    result = runner.run(points, written.append)
    assert [w.measured for w in written] == [True, True] and written[0].samples == {"latency_ms": (1.0,)}
    written = [w.row for w in written]
    assert calls == [0, 1] and result.statuses == {"ok": 1, "error": 1}
    assert written[1]["error"] == "RuntimeError: a bug in a measurement" and written[1]["params"]


def test_bad_input_from_bench_stops_the_sweep(tmp_path, monkeypatch):
    points = points_of(tmp_path, "name: t\nmeasure: [latency]\ngrid: {model: vit_ti16, depth: 2}\n")

    def bad(point):
        raise VitbenchError("unknown dtype")

    monkeypatch.setattr(runner, "measure", bad)
    with pytest.raises(VitbenchError, match="unknown dtype"):
        runner.run(points, [].append)


def test_a_hundred_cost_points_never_import_torch(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: t\nmeasure: [params, flops, split]\n"
                     "grid: {model: [vit_ti16, vit_s16, vit_b16, vit_l16], patch: [8, 14, 16, 28, 32],"
                     " res: [224, 448, 672, 896, 1120]}\n")
    code = textwrap.dedent(f"""
        import sys
        from vitbench import runner
        from vitbench.expansion import expand
        from vitbench.suite import load_suite
        points = expand(load_suite({str(suite)!r}), lambda d: "cpu")
        rows = []
        runner.run(points, lambda r: rows.append(r.row))
        assert len(rows) == 100 and all(r["status"] == "ok" for r in rows), rows[0]
        assert "torch" not in sys.modules
        print("ok", len(rows))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok 100"


def test_a_real_tiny_point_through_bench(tmp_path):
    pytest.importorskip("torch")
    point = points_of(tmp_path, """
        name: t
        measure: [params, flops, latency]
        defaults: {device: cpu, warmup: 1, min_warmup_s: 0, iters: 3, min_time_s: 0}
        grid: {model: vit_ti16, dim: 64, depth: 2, heads: 2, res: 32}
    """)[0]
    done = runner.execute(point)
    row = done.row
    assert row["status"] == "ok", row["error"] and done.measured
    assert len(done.samples["latency_ms"]) == row["n_iters"]
    assert row["n_iters"] >= 3 and row["latency_ms_median"] > 0 and row["params"] == cost_row(point.cfg)["params"]
    assert row_key(row) == runner.point_row_key(point)
