"""vitbench.gpucheck: one line without CUDA; the verdict rules on hand-made numbers and rows."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vitbench import gpucheck
from vitbench.measure.expectations import CUDNN, EFFICIENT, FLASH

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_without_cuda_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vitbench.gpucheck", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines() == [gpucheck.no_cuda_line()]
    assert "no CUDA device" in proc.stdout and not proc.stderr.strip() and not list(tmp_path.iterdir())


def test_slug():
    assert gpucheck.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    assert gpucheck.slug("NVIDIA A100-SXM4-40GB MIG 1g.5gb") == "nvidia-a100-sxm4-40gb-mig-1g-5gb"


@pytest.mark.parametrize("events, wall, ok", [
    ([10.0] * 100, 1010.0, True),    # 99.0 %: launch latency and final sync
    ([10.0] * 100, 1000.5, True),
    ([10.0] * 100, 1030.0, False),   # 97.1 %: 3 % of the loop is not in the events
    ([10.0] * 100, 990.0, False),    # events longer than the loop that contains them
])
def test_timing_agreement(events, wall, ok):
    check = gpucheck.timing_agreement(events, wall)
    assert check.ok is ok and "1000.0 ms" in check.detail


def row(attn, dtype, status="ok", kernel=None, mfu=0.5, device="cuda", name="NVIDIA H100 80GB HBM3", **extra):
    r = {"model": "vit_b16", "res_h": "224", "batch": "8", "dim": "768", "heads": "12", "device": device,
         "device_name": name, "dtype": dtype, "attn": attn, "status": status, "error": "",
         "latency_ms_median": "5.0" if status == "ok" else "", "mfu": "" if mfu is None else str(mfu)}
    if kernel is not False:
        r["attn_kernel"] = kernel or ""
    r.update(extra)
    return r


H100 = (9, 0)


def checks(rows):
    return {c.name: c for c in gpucheck.check_rows(rows, H100, cudnn_version=91600, cuda_major=13)}


def test_rows_that_match_the_table_pass():
    got = checks([row("sdpa", "bf16", kernel=CUDNN), row("flash", "fp16", kernel=FLASH),
                  row("flash", "fp32", status="unsupported", mfu=None), row("efficient", "fp32", kernel=EFFICIENT),
                  row("math", "bf16", kernel="math"), row("manual", "fp16", kernel="math"),
                  row("math", "fp32", device="cpu", status="error")])  # cpu rows are not judged
    assert all(c.ok for c in got.values()), [c.line() for c in got.values()]
    assert "5 ok rows ran" in got["suite kernels"].detail and "6 CUDA rows" in got["suite statuses"].detail


@pytest.mark.parametrize("bad, check, words", [
    (row("flash", "bf16", status="unsupported", mfu=None), "suite statuses", "expected ok, got unsupported"),
    (row("cudnn", "fp32", kernel=CUDNN), "suite statuses", "expected unsupported, got ok"),
    (row("efficient", "bf16", status="oom", mfu=None), "suite statuses", "got oom"),
    (row("manual", "bf16", kernel=FLASH), "suite kernels", "fuse_attention"),
    (row("sdpa", "bf16", kernel=FLASH), "suite kernels", f"expected {CUDNN}"),
    (row("math", "bf16", kernel="math", mfu=1.3), "MFU", "outside (0, 1]"),
    (row("math", "bf16", kernel="math", mfu=0.0), "MFU", "outside (0, 1]"),
    (row("math", "bf16", kernel="math", mfu=None), "MFU", "datasheet peak is known"),
    (row("cudnn", "bf16", kernel=CUDNN, dim="1280", heads="5"), "suite statuses", "no expectation"),
])
def test_rows_that_do_not_match_fail_with_the_reason(bad, check, words):
    got = checks([row("math", "bf16", kernel="math"), bad])
    assert not got[check].ok and words in got[check].detail
    assert sum(not c.ok for c in got.values()) == 1


def test_fp32_rows_with_tensor_core_attention_have_mixed_mfu():
    got = checks([row("efficient", "fp32", kernel=EFFICIENT, mfu=1.2), row("sdpa", "fp32", kernel=EFFICIENT, mfu=0.9)])
    assert got["MFU"].ok and "2 fp32 rows with tensor-core attention" in got["MFU"].detail
    assert not checks([row("math", "fp32", kernel="math", mfu=1.2)])["MFU"].ok  # fp32 cores only: bounded
    assert not gpucheck.mixed_mfu((7, 5), "fp32", "efficient") and not gpucheck.mixed_mfu(H100, "bf16", "sdpa")


def test_rows_without_attn_kernel_are_judged_on_status_and_mfu():
    got = checks([row("flash", "bf16", kernel=False), row("math", "bf16", kernel=False, mfu=None,
                                                          name="Some Unknown GPU")])
    assert all(c.ok for c in got.values()) and "no attn_kernel column" in got["suite kernels"].detail


@pytest.mark.parametrize("attn, expected", [("flash", ("ok", "_scaled_dot_product_flash_attention_for_cpu", None)),
                                            ("manual", ("ok", "math", None))])
def test_observe_backend_runs_and_labels_a_forward(attn, expected):
    assert gpucheck.observe_backend(attn, "fp32", "cpu") == expected


def test_observe_backend_turns_a_missing_kernel_into_its_status():
    status, label, why = gpucheck.observe_backend("efficient", "fp32", "cpu")
    assert (status, label) == ("unsupported", None) and "efficient" in why
