"""CUDA paths of the measurement pieces: kernels that ran, compiled pins, profiler split, sticky errors,
environment, max-batch search. Expectations come from vitbench.measure.expectations. Skipped without CUDA."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from vitbench.measure import backends, kernels, split
from vitbench.measure.expectations import expect
from vitbench.model import build_model, example_input
from vitbench.zoo import resolve

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
ROOT = Path(__file__).resolve().parent.parent


def cap():
    return torch.cuda.get_device_capability()


def cuda_major():
    return int(torch.version.cuda.split(".")[0])


def small():
    return resolve("vit_s16", res=64, depth=2, dim=128, heads=2)  # head dim 64, as every ViT-B/L preset


def run_backend(attn, dtype, compiled=False):
    cfg = small()
    wdtype = backends.weight_dtype(dtype)
    model = build_model(cfg, "cuda", attn_impl=backends.attn_impl(attn),
                        dtype=None if wdtype == torch.float32 else wdtype)
    x = example_input(cfg, 4, "cuda", wdtype)
    try:
        with backends.precision(dtype), backends.forward_context(dtype, attn, "cuda"):
            backends.probe(lambda: model(x), attn, dtype)
            if compiled:
                from vitbench.measure.compiled import compiled_point

                with compiled_point(model, x, "cuda") as p:
                    record = kernels.observe(p.call, "cuda")
            else:
                record = kernels.observe(lambda: model(x), "cuda")
        kernels.check_pin(attn, record)
        return "ok", record.label
    except Exception as e:  # noqa: BLE001
        return backends.describe_error(e, attn)


@pytest.mark.parametrize("attn", ["sdpa", "flash", "efficient", "cudnn", "math", "manual"])
@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
def test_each_backend_runs_the_kernel_the_table_says(attn, dtype):
    e = expect(cap(), dtype, attn, 64, torch.backends.cudnn.version(), cuda_major())
    status, label = run_backend(attn, dtype)
    assert status == e.status, label
    if e.status == "ok" and e.kernel is not None:
        assert label == e.kernel


@pytest.mark.parametrize("attn", ["math", "flash"])
def test_compiled_points_run_their_pinned_kernel(attn):
    e = expect(cap(), "bf16", attn, 64)
    assert run_backend(attn, "bf16", compiled=True) == ("ok", e.kernel)


def test_profiler_split_adds_up_and_sees_a_launch_bound_forward():
    from vitbench.measure import timer
    from vitbench.measure.stats import summarize

    cfg = small()
    model, x = build_model(cfg, "cuda"), example_input(cfg, 1, "cuda")
    with backends.forward_context("fp32", "sdpa", "cuda"):
        timer.warm_up(lambda: model(x), "cuda", 20, 0.2)
        latency = summarize(timer.samples(lambda: model(x), "cuda", 50)).median
        r = split.measure(model, lambda: model(x), "cuda", 20, latency_ms=latency)
    assert r.method == "profiler" and all(r.times_ms[c] > 0 for c in split.COMPONENTS)
    assert r.times_ms["rest"] >= 0 and sum(r.times_ms.values()) == pytest.approx(r.total_ms)
    # A 2-block width-128 ViT at batch 1: microsecond kernels, so the GPU mostly waits for the host.
    assert r.gpu_busy < split.LAUNCH_BOUND_BELOW and "launch-bound" in r.note()


def test_profiler_split_of_a_gpu_bound_forward_is_busy():
    from vitbench.measure import timer
    from vitbench.measure.stats import summarize

    cfg = resolve("vit_b16", depth=4)
    model, x = build_model(cfg, "cuda", dtype=torch.bfloat16), example_input(cfg, 64, "cuda", torch.bfloat16)
    with backends.forward_context("bf16", "sdpa", "cuda"):
        timer.warm_up(lambda: model(x), "cuda", 10, 0.5)
        latency = summarize(timer.samples(lambda: model(x), "cuda", 30)).median
        r = split.measure(model, lambda: model(x), "cuda", 10, latency_ms=latency)
    assert split.LAUNCH_BOUND_BELOW <= r.gpu_busy <= 1.02 and r.note() is None
    assert r.times_ms["mlp"] > r.times_ms["attn_core"]  # 197 tokens: the MLP dominates (closed form: 15x MACs)


def test_a_sticky_error_is_reported_by_the_guarded_release():
    code = textwrap.dedent("""
        import torch
        from vitbench.measure import memory
        x = torch.arange(10, device="cuda")
        try:
            x[torch.tensor([100], device="cuda")]
            torch.cuda.synchronize()
            err = None
        except Exception as e:  # device-side assert: sticky
            err = e
        print("sticky", memory.is_sticky_cuda_error(err))
        print("line", memory.release_checked("cuda", err))
        print("again", memory.release_checked("cuda", RuntimeError("unrelated")))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert out["sticky"] == "True", proc.stderr[-2000:]
    assert "CUDA context is unusable" in out["line"] and "--isolate" in out["line"]
    assert "CUDA context is unusable" in out["again"]  # the cleanup itself fails on the broken context


def test_environment_names_the_device_used():
    from vitbench.environment import environment

    index = torch.cuda.device_count() - 1
    env = environment(device=f"cuda:{index}")
    assert env["gpu_index"] == index and env["gpu"] == torch.cuda.get_device_name(index)
    assert env["gpu_capability"] == "{}.{}".format(*torch.cuda.get_device_capability(index))
    assert env["driver"] is not None and env["gpu_clock_max_sm_mhz"] > 0


def test_timing_check_agrees_with_the_wall_clock():
    from vitbench import gpucheck

    check = gpucheck.run_timing("cuda")
    assert check.ok, check.detail


def test_max_batch_search_with_the_real_point_runner():
    from vitbench.measure.max_batch import find_max_batch
    from vitbench.measure.point import run_point
    from vitbench.measure.spec import BenchSpec

    r = find_max_batch(resolve("vit_ti16"), BenchSpec(device="cuda", dtype="bf16", compile=True),
                       lambda c, s, m: run_point(c, s, m).row, limit=64)
    assert r.batch == 64 and r.exact and r.note is None and len(r.trials) == 7
