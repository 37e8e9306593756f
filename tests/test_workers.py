"""vitbench.workers (sweep --devices): the device grammar, pinning, the JSON point round trip, and real worker
pools on `cpu,cpu` — the keys of a plain run, a worker SIGKILLed mid-point, Ctrl-C. Tiny models, 1-2 timed
iterations: each pool test is the start-up of two workers (python + torch) plus milliseconds of measuring."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitbench import runs, samples, storage
from vitbench.cli import app
from vitbench.errors import Stopped, VitbenchError
from vitbench.results_io import load_text, row_key
from vitbench.runner import point_row_key
from vitbench.workers.device_list import parse_devices, pool_kind, worker_env
from vitbench.workers.pool import Pool
from vitbench.workers.protocol import decode_point, encode_point

ROOT = Path(__file__).resolve().parent.parent
FLAKY = [sys.executable, str(ROOT / "tests" / "flaky_worker.py")]

# 4 points: 32 and 48 px are measured on cpu, 224 and 384 px are above cpu.max_gmacs (cost-only, no worker).
MIXED = """
    name: mixed
    defaults: {device: cpu, warmup: 0, min_warmup_s: 0, iters: 2, min_time_s: 0}
    measure: [params, flops, latency]
    cpu: {max_gmacs: 0.01}
    grid: {model: vit_ti16, dim: 64, depth: 1, heads: 2, patch: 16, res: [32, 48, 224, 384]}
"""


def suite(tmp_path, text: str = MIXED) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_devices_grammar():
    assert parse_devices("cpu,cpu") == ["cpu", "cpu"]
    assert parse_devices(" cuda:0, cuda:3 ") == ["cuda:0", "cuda:3"]
    assert parse_devices("cuda") == ["cuda:0"]
    for text, why in (("cpu,cuda:0", "mixes cpu and cuda"), ("cuda:1,cuda:1", "listed twice"),
                      ("auto", "not auto"), ("tpu", "unknown device"), (",", "comma-separated")):
        with pytest.raises(VitbenchError, match=why):
            parse_devices(text)
    assert pool_kind(["cuda:0", "cuda:1"]) == "cuda"


def test_a_cuda_worker_sees_its_gpu_alone_and_a_cpu_worker_its_threads():
    assert worker_env("cuda:1", None, {})["CUDA_VISIBLE_DEVICES"] == "1"
    assert worker_env("cuda:1", None, {"CUDA_VISIBLE_DEVICES": "4,6"})["CUDA_VISIBLE_DEVICES"] == "6"
    cpu = worker_env("cpu", 3, {"CUDA_VISIBLE_DEVICES": "0"})
    assert (cpu["OMP_NUM_THREADS"], cpu["MKL_NUM_THREADS"], cpu["CUDA_VISIBLE_DEVICES"]) == ("3", "3", "0")
    assert Pool(["cpu", "cpu"], threads=5).cpu_threads == 2
    assert Pool(["cpu"] * 4, threads=2).cpu_threads == 1
    assert Pool(["cuda:0"], threads=8).cpu_threads is None


def test_points_survive_the_json_protocol(tmp_path):
    plan = runs.plan_suite(suite(tmp_path))
    for p in plan.selected:
        back = decode_point(json.loads(json.dumps(encode_point(p))))
        assert back == p and point_row_key(back) == point_row_key(p)


def test_devices_cpu_cpu_writes_the_rows_of_a_plain_run(tmp_path):
    """The keys a plain run writes (runner.execute checks each row against point_row_key) and its exact cost
    columns (the closed form), each once; measured rows say which worker ran them."""
    from vitbench.runner import cost_row

    path = suite(tmp_path)
    pooled = CliRunner().invoke(app, ["sweep", str(path), "-o", str(tmp_path / "pool.csv"), "--devices", "cpu,cpu"])
    assert pooled.exit_code == 0, pooled.output
    assert "on 2 workers (cpu, cpu)" in pooled.output
    plan = runs.plan_suite(path)
    b = load_text(tmp_path / "pool.csv")
    keys = [row_key(r) for r in b.to_dict("records")]
    assert sorted(keys) == sorted(point_row_key(p) for p in plan.selected) and len(set(keys)) == 4
    cost = ["tokens", "params", "macs", "macs_attn_core", "macs_mlp"]
    closed = {point_row_key(p): cost_row(p) for p in plan.selected}
    assert all(str(closed[k][c]) == r[c] for k, r in zip(keys, b.to_dict("records")) for c in cost)
    measured = b[b["latency_ms_median"] != ""]
    assert len(measured) == 2 and set(measured["worker_device"]) == {"cpu"} and set(measured["threads"]) == {"1"}
    assert set(b[b["latency_ms_median"] == ""]["worker_device"]) == {""}  # cost-only: computed by the parent
    assert all(float(r["point_s"]) >= float(r["timing_s"]) > 0 for r in measured.to_dict("records"))
    assert len(samples.by_key(samples.path_for(tmp_path / "pool.csv"))) == 2
    meta = storage.read_metadata(tmp_path / "pool.csv")
    listed = meta["runs"][-1]["workers"]
    assert meta["settings"]["devices"] == ["cpu", "cpu"] and len(listed) == 2
    assert sum(w["points"] for w in listed) == 2 and all(w["ended"] == "finished" for w in listed)
    assert all(w["startup_s"] > 0 and w["wall_s"] >= w["busy_s"] for w in listed)


def test_a_worker_killed_mid_point_leaves_an_error_row_and_is_replaced(tmp_path):
    plan = runs.plan_suite(suite(tmp_path), workers=["cpu"])
    out = tmp_path / "r.csv"
    pool = Pool(["cpu"], argv=FLAKY + ["--die-on-res", "32"])
    outcome = runs.execute(plan, out, pool=pool)
    rows = {int(r["res_h"]): r for r in load_text(out).to_dict("records")}
    assert sorted(rows) == [32, 48, 224, 384] and outcome.result.statuses == {"ok": 3, "error": 1}
    assert rows[32]["status"] == "error" and "worker process (cpu, pid" in rows[32]["error"]
    assert "killed by SIGKILL (9)" in rows[32]["error"] and rows[32]["error"].endswith("while running this point")
    assert rows[32]["worker_device"] == "cpu" and rows[32]["macs"] != ""
    assert rows[48]["status"] == "ok" and rows[48]["worker_device"] == "cpu"  # measured by the replacement
    assert out.read_bytes().endswith(b"\n")
    ended = [w["ended"] for w in storage.read_metadata(out)["runs"][-1]["workers"]]
    assert len(ended) == 2 and ended[0].startswith("died: worker process (cpu, pid") and ended[1] == "finished"


def test_ctrl_c_stops_every_worker_keeps_the_rows_and_resume_completes(tmp_path):
    plan = runs.plan_suite(suite(tmp_path), workers=["cpu"])
    out = tmp_path / "r.csv"
    pool = Pool(["cpu"], argv=FLAKY + ["--sleep", "60"])

    class InterruptOnTheFirstMeasuredPoint:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def point_started(self, point, position):
            if point.plan == "measure":
                os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would, while the worker sleeps in its point

        def point_finished(self, point, row, position):
            pass

    with pytest.raises(Stopped) as stop:
        runs.execute(plan, out, pool=pool, listener_for=lambda *a: InterruptOnTheFirstMeasuredPoint())
    assert stop.value.exit_code == 130 and "--resume" in str(stop.value)
    assert len(load_text(out)) == 2  # the two cost-only rows, written before any worker started
    meta = storage.read_metadata(out)
    assert meta["status"] == "interrupted"
    (worker,) = meta["runs"][-1]["workers"]
    assert worker["ended"] == "stopped while running a point"
    with pytest.raises(ProcessLookupError):
        os.kill(worker["pid"], 0)
    outcome = runs.execute(plan, out, resume=True, pool=Pool(["cpu"]))
    assert (outcome.result.written, outcome.result.skipped) == (2, 2)
    keys = [row_key(r) for r in load_text(out).to_dict("records")]
    assert len(keys) == len(set(keys)) == 4


def test_a_cost_only_sweep_starts_no_worker(tmp_path):
    plan = runs.plan_suite(suite(tmp_path, MIXED.replace("latency", "split")), workers=["cpu", "cpu"])
    pool = Pool(["cpu", "cpu"])
    assert runs.execute(plan, tmp_path / "r.csv", pool=pool).result.written == 4
    assert pool.records == []


def test_a_device_whose_context_is_lost_is_retired_and_the_run_stops_when_none_is_left(tmp_path):
    from vitbench.measure.memory import CudaContextLost

    plan = runs.plan_suite(suite(tmp_path), workers=["cpu"])
    out = tmp_path / "r.csv"
    pool = Pool(["cpu"], argv=FLAKY + ["--fatal-on-res", "32"])
    with pytest.raises(CudaContextLost, match="no device left to run on: cpu: CUDA error: an illegal memory"):
        runs.execute(plan, out, pool=pool)
    rows = load_text(out)
    assert len(rows) == 3 and "48" not in set(rows["res_h"])  # the row that found the error is kept
    meta = storage.read_metadata(out)
    assert meta["status"] == "failed" and meta["runs"][-1]["workers"][0]["ended"].startswith("retired: CUDA error")
