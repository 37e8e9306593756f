import dataclasses

import pytest

from vitbench.measure import isolate
from vitbench.measure.bench import run_point
from vitbench.measure.spec import BenchSpec

SPEC = BenchSpec(batch=2, device="cpu", warmup=1, min_warmup_s=0.0, iters=3, isolate=True)


def test_isolated_point_returns_the_childs_row_with_peak_rss(tiny):
    row = run_point(tiny, SPEC, ("params", "latency", "memory"))
    assert row["status"] == "ok", row["error"]
    assert row["latency_ms_p10"] <= row["latency_ms_median"] <= row["latency_ms_p90"]
    # peak RSS of the child includes python + torch (mem_base_mib) and the model's weights
    assert row["mem_peak_mib"] >= row["mem_base_mib"] > 50
    assert row["mem_peak_mib"] >= row["mem_weights_mib"] > 0


def test_cpu_memory_runs_in_a_child_even_without_isolate(tiny, monkeypatch):
    calls = []
    real = isolate.run_isolated

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(isolate, "run_isolated", spy)
    row = run_point(tiny, dataclasses.replace(SPEC, isolate=False), ("memory",))
    assert calls and row["status"] == "ok" and row["mem_peak_mib"] > 0


@pytest.mark.parametrize("how, expect", [("sigkill", "SIGKILL"), ("exit:9", "exited with code 9")])
def test_a_child_that_dies_becomes_an_error_row(tiny, monkeypatch, how, expect):
    monkeypatch.setenv(isolate.DIE_ENV, how)
    row = run_point(tiny, SPEC, ("params", "flops", "latency"))
    assert row["status"] == "error" and expect in row["error"]
    assert row["macs"] is not None and row["latency_ms_median"] is None  # config and cost columns kept
    monkeypatch.delenv(isolate.DIE_ENV)
    assert run_point(tiny, SPEC, ("latency",))["status"] == "ok"  # and the next point runs


def test_child_timeout_becomes_an_error_row(tiny):
    row = isolate.run_isolated(tiny, SPEC, ("latency",), "cpu", timeout_s=0.01)
    assert row["status"] == "error" and "timed out" in row["error"]


def test_exit_reason_is_one_line():
    assert isolate.exit_reason(-11, "") == "child process killed by SIGSEGV (11)"
    assert isolate.exit_reason(1, "Traceback\n  ...\nValueError: bad\n") == "child process exited with code 1: ValueError: bad"
