"""CUDA paths of vitbench bench: events, allocator memory, OOM, pinned SDPA backends, MFU. Skipped without CUDA."""

import dataclasses

import pytest
import torch

from vitbench.measure import point
from vitbench.measure.spec import BenchSpec
from vitbench.cost.analytic import cost_row
from vitbench.zoo import resolve

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

SPEC = BenchSpec(batch=4, device="cuda", warmup=3, min_warmup_s=0.0, iters=10)
ALL = ("params", "flops", "latency", "memory")


def spec(**changes) -> BenchSpec:
    return dataclasses.replace(SPEC, **changes)


def test_cuda_row_with_events_memory_and_mfu(tiny):
    row = point.run_point(tiny, spec(), ALL).row
    assert row["status"] == "ok", row["error"]
    assert row["latency_ms_p10"] <= row["latency_ms_median"] <= row["latency_ms_p90"]
    assert row["throughput_ips"] == pytest.approx(4 / (row["latency_ms_median"] / 1e3))
    weights_mb = cost_row(tiny)["params"] * 4 / 2**20
    assert row["mem_weights_mib"] == pytest.approx(weights_mb, rel=0.05, abs=0.5)  # allocator rounds to blocks
    assert row["mem_peak_mib"] >= row["mem_weights_mib"]
    assert row["device_name"] == torch.cuda.get_device_name(0)
    from vitbench.measure.peak import known_peak_tflops

    peak = known_peak_tflops(row["device_name"], "fp32")
    assert row["mfu"] == (None if peak is None else pytest.approx(row["tflops_achieved"] / peak))


def test_cuda_timer_uses_events_and_one_sync_per_batch(monkeypatch):
    from vitbench.measure import timer

    syncs = []
    real = torch.cuda.synchronize
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: (syncs.append(1), real(*a)))
    x = torch.randn(256, 256, device="cuda")
    out = timer.samples(lambda: x @ x, "cuda", 20)
    assert len(out) == 20 and len(syncs) == 1 and all(s > 0 for s in out)


def test_oom_is_a_row_and_the_run_goes_on():
    big = resolve("vit_h14", res=518)
    row = point.run_point(big, spec(batch=4096, iters=1, warmup=0), ALL).row
    assert row["status"] == "oom" and "out of memory" in row["error"]
    assert point.run_point(resolve("vit_ti16", res=32, depth=2), spec(), ALL).row["status"] == "ok"


@pytest.mark.parametrize("attn", ["sdpa", "flash", "efficient", "cudnn", "math", "manual"])
@pytest.mark.parametrize("dtype", ["fp32", "bf16", "fp16", "amp-bf16"])
def test_backends_are_ok_or_unsupported(attn, dtype):
    cfg = resolve("vit_s16", res=224, depth=2)
    row = point.run_point(cfg, spec(attn=attn, dtype=dtype), ALL).row
    assert row["status"] in ("ok", "unsupported"), row["error"]
    sm80 = torch.cuda.get_device_capability()[0] >= 8
    if attn in ("sdpa", "math", "manual") and (dtype not in ("bf16", "amp-bf16") or sm80):
        assert row["status"] == "ok", row["error"]


def test_flash_rejects_fp32_with_a_reason():
    row = point.run_point(resolve("vit_s16", depth=2), spec(attn="flash", dtype="fp32"), ALL).row
    assert row["status"] == "unsupported" and "flash" in row["error"]


def test_split_on_cuda(tiny):
    row = point.run_point(tiny, spec(split=True), ALL).row
    assert row["status"] == "ok"
    assert sum(row[f"time_share_{c}"] for c in ("attn_proj", "attn_core", "mlp", "rest")) == pytest.approx(1.0)


def test_find_max_batch_on_cuda():
    best, why = point.find_max_batch(resolve("vit_b16"), spec(dtype="bf16"), limit=256)
    assert why is None and 1 <= best <= 256


def test_isolated_cuda_point(tiny):
    row = point.run_point(tiny, spec(isolate=True), ALL).row
    assert row["status"] == "ok" and row["mem_peak_mib"] > 0


def test_tf32_runs_on_ampere():
    if torch.cuda.get_device_capability()[0] < 8:
        pytest.skip("TF32 needs sm80+")
    row = point.run_point(resolve("vit_s16", depth=2), spec(dtype="tf32"), ALL).row
    assert row["status"] == "ok"


def test_peak_measures_on_cuda():
    from vitbench.measure.peak import measure_peaks

    from vitbench.measure.peak import device_peak

    rows = {r["measure"]: r for r in measure_peaks("cuda", n=2048, mib=64, iters=5)}
    assert rows["matmul fp32"]["value"] > 0 and rows["copy"]["value"] > 0
    found = device_peak("cuda")
    if found.peak is not None:  # a datasheet GPU: measured copy below its HBM bandwidth, matmuls below the peak
        assert rows["copy"]["datasheet"] == found.peak.hbm_gbps
        assert found.peak.hbm_gbps is None or 0 < rows["copy"]["ratio"] < 1
        for prec in ("fp32", "fp16"):
            assert 0 < rows[f"matmul {prec}"]["ratio"] <= 1.0, rows[f"matmul {prec}"]
