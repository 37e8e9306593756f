import dataclasses
import sys
import types

import pytest
import torch

from vitbench.cost.analytic import cost_row
from vitbench.schema import ALL_COLUMNS
from vitbench.errors import VitbenchError
from vitbench import devices
from vitbench.measure import backends, point
from vitbench.measure.spec import BenchSpec

FAST = BenchSpec(batch=2, device="cpu", warmup=1, min_warmup_s=0.0, iters=5, memory=False)
TIMED = ("params", "flops", "latency")


def fast(**changes) -> BenchSpec:
    return dataclasses.replace(FAST, **changes)


def test_row_is_sane(tiny):
    row = point.run_point(tiny, fast(), TIMED).row
    assert list(row) == list(ALL_COLUMNS)
    assert row["status"] == "ok" and row["error"] is None
    assert row["latency_ms_p10"] <= row["latency_ms_median"] <= row["latency_ms_p90"]
    assert row["latency_ms_iqr"] >= 0 and row["n_iters"] >= 5
    assert row["throughput_ips"] == pytest.approx(2 / (row["latency_ms_median"] / 1e3))
    assert row["tflops_achieved"] == pytest.approx(2 * row["macs"] * 2 / (row["latency_ms_median"] / 1e3) / 1e12)
    assert row["mfu"] is None  # CPU: no datasheet peak
    assert row["params"] == cost_row(tiny)["params"]
    assert (row["device"], row["dtype"], row["attn"], row["batch"]) == ("cpu", "fp32", "sdpa", 2)
    assert row["threads"] == torch.get_num_threads() and row["device_name"]
    assert row["time_ms_mlp"] is None  # no split asked


def test_cost_only_point_allocates_no_weights(tiny, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("weights were built for a cost-only point")

    monkeypatch.setattr(point, "_build", boom)
    row = point.run_point(tiny, fast(), ("params", "flops")).row
    assert row["status"] == "ok" and row["macs"] == cost_row(tiny)["macs"]
    assert row["latency_ms_median"] is None and row["mem_peak_mib"] is None


CPU_FLASH = "_scaled_dot_product_flash_attention_for_cpu"


@pytest.mark.parametrize("attn, status, kernel", [
    ("sdpa", "ok", CPU_FLASH), ("flash", "ok", CPU_FLASH), ("math", "ok", "math"), ("manual", "ok", "math"),
    ("efficient", "unsupported", None), ("cudnn", "unsupported", None),
])
def test_each_backend_on_cpu_runs_the_kernel_it_names(tiny, attn, status, kernel):
    """torch 2.13 on CPU has the flash kernel and the math path only (issue 11: rows record what ran)."""
    row = point.run_point(tiny, fast(attn=attn, iters=2), TIMED).row
    assert (row["status"], row["attn_kernel"]) == (status, kernel), row["error"]
    if status == "unsupported":
        assert attn in row["error"] and row["latency_ms_median"] is None


def test_a_pin_whose_kernel_did_not_run_is_not_ok(tiny, monkeypatch):
    """A pinned row that timed another kernel (a compiled graph ignoring the pin, MHA's fast path) fails."""
    from vitbench.measure import kernels

    monkeypatch.setattr(kernels, "observe", lambda call, device: kernels.classify({"aten::bmm": 4,
                                                                                   "aten::_softmax": 2}))
    row = point.run_point(tiny, fast(attn="flash", iters=2), TIMED).row
    assert row["status"] == "unsupported" and row["attn_kernel"] == "math" and "flash" in row["error"]


def test_pinned_and_manual_attention_agree_with_sdpa(tiny):
    from vitbench.model import build_model, example_input

    torch.manual_seed(0)
    model = build_model(tiny)
    x = example_input(tiny, 2)
    with backends.forward_context("fp32", "sdpa", "cpu"):
        ref = model(x)
    for attn in ("math", "flash"):
        with backends.forward_context("fp32", attn, "cpu"):
            torch.testing.assert_close(model(x), ref, rtol=1e-4, atol=1e-5)
    model.set_attention_impl("manual")
    with backends.forward_context("fp32", "manual", "cpu"):
        torch.testing.assert_close(model(x), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["fp16", "bf16", "amp-fp16", "amp-bf16"])
def test_low_precision_runs_on_cpu(tiny, dtype):
    """torch 2.13's CPU build has fp16 and bf16 kernels for every op of the model (and autocast for both)."""
    row = point.run_point(tiny, fast(dtype=dtype, iters=2), TIMED).row
    assert row["status"] == "ok" and row["attn_kernel"] == CPU_FLASH, row["error"]


def test_tf32_on_cpu_is_unsupported_with_reason(tiny):
    row = point.run_point(tiny, fast(dtype="tf32"), TIMED).row
    assert row["status"] == "unsupported" and "CUDA" in row["error"]


def test_tf32_flags_are_restored():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with backends.precision("tf32"):
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    with backends.precision("fp32"):
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


class _Raises(torch.nn.Module):
    def __init__(self, exc):
        super().__init__()
        self.exc = exc

    def forward(self, x):
        raise self.exc


@pytest.mark.parametrize("exc, status", [
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"), "oom"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: 1 TB"), "oom"),
    (RuntimeError("No available kernel. Aborting execution."), "unsupported"),
    (RuntimeError("\"addmm_impl_cpu_\" not implemented for 'Half'"), "unsupported"),
    (ValueError("something else\nsecond line"), "error"),
])
def test_failures_become_status_rows_and_the_next_point_runs(tiny, monkeypatch, exc, status):
    monkeypatch.setattr(point, "_build", lambda cfg, spec: _Raises(exc))
    row = point.run_point(tiny, fast(), TIMED).row
    assert row["status"] == status
    assert "\n" not in row["error"] and row["latency_ms_median"] is None
    assert row["macs"] == cost_row(tiny)["macs"]  # the closed form survives
    monkeypatch.undo()
    assert point.run_point(tiny, fast(iters=2), TIMED).row['status'] == "ok"


def test_compile_failure_is_an_error_row(tiny, monkeypatch):
    def broken_compile(model, *a, **k):
        raise RuntimeError("inductor: no C++ compiler")

    monkeypatch.setattr(torch, "compile", broken_compile)
    row = point.run_point(tiny, fast(compile=True), TIMED).row
    assert row["status"] == "error" and "no C++ compiler" in row["error"] and row["compile"] is True


def test_split_columns_add_up_and_timing_carries_no_hooks(tiny, monkeypatch):
    built = []
    from vitbench.measure import timer

    real_build, real_samples = point._build, timer.samples

    def build(cfg, spec):
        built.append(real_build(cfg, spec))
        return built[-1]

    def samples(fn, device, iters, min_time_s=0.0):
        hooked = [m for m in built[-1].modules() if m._forward_hooks or m._forward_pre_hooks]
        assert not hooked, "the plain timing loop must not carry hooks"
        return real_samples(fn, device, iters, min_time_s)

    monkeypatch.setattr(point, "_build", build)
    monkeypatch.setattr(timer, "samples", samples)
    row = point.run_point(tiny, fast(iters=3), TIMED + ("split",)).row
    assert row["status"] == "ok", row["error"]
    parts = ("attn_proj", "attn_core", "mlp", "rest")
    assert all(row[f"time_ms_{c}"] is not None for c in parts)
    assert all(row[f"time_ms_{c}"] > 0 for c in parts[:3])
    assert sum(row[f"time_share_{c}"] for c in parts) == pytest.approx(1.0)
    assert not [m for m in built[-1].modules() if m._forward_hooks or m._forward_pre_hooks]  # removed after


def test_split_columns_from_medians():
    from vitbench.measure.split import split_columns

    cols = split_columns(10.0, {"attn_proj": 2.0, "attn_core": 1.0, "mlp": 5.0})
    assert cols["time_ms_rest"] == pytest.approx(2.0)
    assert cols["time_share_mlp"] == pytest.approx(0.5) and cols["time_share_rest"] == pytest.approx(0.2)


def test_memory_in_process_reports_parameter_bytes(tiny):
    # In-process CPU memory (what the isolated child runs): weights = parameter bytes; the peak RSS is the
    # child's and is added by vitbench.measure.isolate (tested there).
    row = point.measure_in_process(tiny, fast(memory=True).resolved("cpu"), ("memory",)).row
    assert row["status"] == "ok"
    assert row["mem_weights_mib"] == pytest.approx(cost_row(tiny)["params"] * 4 / 2**20)
    assert row["latency_ms_median"] is None


def test_resolve_device():
    assert devices.resolve("cpu") == "cpu"
    assert devices.resolve("AUTO") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(VitbenchError, match="valid: auto, cpu, cuda, cuda:N"):
        devices.resolve("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_without_cuda_is_bad_input(tiny):
    for name in ("cuda", "cuda:1"):
        with pytest.raises(VitbenchError, match="CUDA"):
            devices.resolve(name)
    with pytest.raises(VitbenchError):
        point.run_point(tiny, fast(device="cuda"), TIMED)


@pytest.mark.parametrize("changes, match", [
    ({"dtype": "fp8"}, "valid: fp32, tf32"), ({"attn": "xformers"}, "valid: sdpa, flash"),
    ({"batch": 0}, "batch"), ({"iters": 0}, "iters"), ({"warmup": -1}, "warmup"), ({"min_time_s": -1.0}, "min_time_s"),
])
def test_bad_spec_raises(tiny, changes, match):
    with pytest.raises(VitbenchError, match=match):
        point.run_point(tiny, fast(**changes), TIMED)


def test_unknown_measure_raises(tiny):
    with pytest.raises(VitbenchError, match="valid: params"):
        point.run_point(tiny, fast(), ("latency", "energy"))


def test_known_gpu_peaks():
    from vitbench.measure.peak import known_peak_tflops

    assert known_peak_tflops("NVIDIA H100 80GB HBM3", "bf16") == pytest.approx(989.4)
    assert known_peak_tflops("NVIDIA H100 PCIe", "amp-fp16") == pytest.approx(756.5)
    assert known_peak_tflops("NVIDIA A100-SXM4-80GB", "tf32") == 156.0
    assert known_peak_tflops("NVIDIA A10G", "fp16") is None  # AWS-only, no NVIDIA datasheet (tests/test_hardware.py)
    assert known_peak_tflops("NVIDIA A10", "fp16") == 125.0
    assert known_peak_tflops("NVIDIA L40S", "fp32") == 91.6 and known_peak_tflops("NVIDIA L4", "fp32") == 30.3
    assert known_peak_tflops("Tesla T4", "bf16") is None  # T4 has no bf16
    assert known_peak_tflops("Tesla V100-SXM2-16GB", "fp16") == 125.0
    assert known_peak_tflops("NVIDIA GeForce RTX 3090 Ti", "fp16") is None
    assert known_peak_tflops("AMD EPYC", "fp32") is None


def test_measured_peaks_on_cpu_small():
    from vitbench.measure.peak import measure_peaks

    rows = {r["measure"]: r for r in measure_peaks("cpu", n=64, mib=1, iters=3, min_time_s=0.0)}
    assert rows["matmul fp32"]["value"] > 0 and rows["copy"]["value"] > 0
    assert rows["matmul tf32"]["value"] is None and "CUDA" in rows["matmul tf32"]["error"]


def _fake_timm(monkeypatch):
    """A stand-in `timm` whose create_model returns vitbench's ViT dressed with timm's attribute names."""
    from vitbench.model import VisionTransformer
    from vitbench.zoo import resolve

    def create_model(name, pretrained=False, img_size=None):
        cfg = resolve("vit_ti16", res=img_size or 32, depth=2, dim=64, heads=4)
        m = VisionTransformer(cfg)
        m.patch_embed.patch_size, m.patch_embed.img_size = (16, 16), cfg.img_size
        m.embed_dim, m.num_classes, m.global_pool, m.num_reg_tokens = 64, cfg.num_classes, "token", 0
        for block in m.blocks:
            block.attn.num_heads, block.attn.fused_attn = 4, True
        return m

    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(create_model=create_model))


def test_external_model_is_described_and_measured(monkeypatch, tiny):
    from vitbench.subject import external_subject

    _fake_timm(monkeypatch)
    external_subject.cache_clear()
    cfg = external_subject("timm:fake_vit", (48, 48)).require_cfg()
    assert cfg.name == "timm:fake_vit" and cfg.img_size == (48, 48)
    assert (cfg.dim, cfg.depth, cfg.heads, cfg.mlp_ratio) == (64, 2, 4, 4.0)
    row = point.run_point(cfg, fast(iters=2), TIMED).row
    assert row["status"] == "ok" and row["model"] == "timm:fake_vit" and row["tokens"] == 10


def test_external_missing_package_is_bad_input():
    from vitbench import external

    for ref in ("timm:vit_base_patch16_224", "torchvision:vit_b_16"):
        source = ref.split(":")[0]
        if source in sys.modules or _importable(source):
            continue
        with pytest.raises(VitbenchError, match=f"optional package '{source}'"):
            external.describe(ref)
    with pytest.raises(VitbenchError, match="valid: timm:NAME"):
        external.parse("hf:vit")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _benchmark_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "timm_vs_vitbench.py"
    spec = importlib.util.spec_from_file_location("timm_vs_vitbench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_timm_benchmark_exits_2_without_timm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm -> ImportError
    assert _benchmark_script().main(["--model", "vit_ti16", "--res", "32"]) == 2
    assert "timm is not installed" in capsys.readouterr().err


def test_timm_benchmark_compares_side_by_side(monkeypatch, capsys):
    from vitbench.model import VisionTransformer
    from vitbench.zoo import ViTConfig

    def fake_vit(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio, qkv_bias, num_classes,
                 global_pool, class_token, reg_tokens):
        return VisionTransformer(ViTConfig(patch=patch_size, img_size=tuple(img_size), dim=embed_dim, depth=depth,
                                           heads=num_heads, mlp_ratio=mlp_ratio, num_classes=num_classes))

    vt = types.SimpleNamespace(VisionTransformer=fake_vit)
    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(__version__="fake", models=None))
    monkeypatch.setitem(sys.modules, "timm.models", types.SimpleNamespace(vision_transformer=vt))
    monkeypatch.setitem(sys.modules, "timm.models.vision_transformer", vt)
    args = ["--model", "vit_ti16", "--res", "32", "--batch", "2", "--device", "cpu", "--repeats", "2", "--iters", "2"]
    assert _benchmark_script().main(args) == 0
    out = capsys.readouterr().out
    assert "ratio of medians vitbench / timm" in out and "n 4" in out and "timer overhead" in out
