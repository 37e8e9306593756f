"""vitbench.measure.expectations: the table gpu-check holds a GPU to, row by row against torch's SDPA rules."""

import subprocess
import sys

import pytest

from vitbench.measure.expectations import (ARCHS, CUDNN, EFFICIENT, FLASH, NoExpectation, expect, prefers_cudnn,
                                           table)

SM80, SM86, SM89, SM90, SM100 = (8, 0), (8, 6), (8, 9), (9, 0), (10, 0)
ALL = (SM80, SM86, SM89, SM90, SM100)


def test_no_torch_import():
    code = "import sys, vitbench.measure.expectations as e; e.table(); assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("cap", ALL)
def test_fp32(cap):
    assert expect(cap, "fp32", "flash").status == "unsupported"
    assert expect(cap, "fp32", "cudnn").status == "unsupported"
    assert expect(cap, "fp32", "efficient") .kernel == EFFICIENT
    assert expect(cap, "fp32", "math").kernel == "math" and expect(cap, "fp32", "manual").kernel == "math"
    assert expect(cap, "fp32", "sdpa", cudnn_version=91600).kernel == EFFICIENT  # flash/cudnn take no fp32
    assert expect(cap, "tf32", "flash") == expect(cap, "fp32", "flash")


@pytest.mark.parametrize("cap", ALL)
@pytest.mark.parametrize("dtype", ["fp16", "bf16", "amp-fp16", "amp-bf16"])
def test_low_precision_runs_every_backend(cap, dtype):
    got = {a: (expect(cap, dtype, a).status, expect(cap, dtype, a).kernel)
           for a in ("flash", "efficient", "cudnn", "math", "manual")}
    assert got == {"flash": ("ok", FLASH), "efficient": ("ok", EFFICIENT), "cudnn": ("ok", CUDNN),
                   "math": ("ok", "math"), "manual": ("ok", "math")}


@pytest.mark.parametrize("cap, cudnn, cuda_major, kernel", [
    (SM80, 91600, 13, FLASH), (SM86, 91600, 12, FLASH), (SM89, 91600, 13, FLASH),
    (SM90, 91600, 13, CUDNN), (SM100, 91600, 12, CUDNN),
    (SM90, 91500, 13, FLASH), (SM90, 90100, 12, FLASH),      # cuDNN not above 9.15.0: flash first
    (SM90, None, 13, None),                                  # unknown cuDNN: not determined
    (SM86, None, 13, FLASH),                                 # sm86 never prefers cuDNN
])
def test_unpinned_sdpa_follows_the_priority_order(cap, cudnn, cuda_major, kernel):
    e = expect(cap, "bf16", "sdpa", cudnn_version=cudnn, cuda_major=cuda_major)
    assert e.status == "ok" and e.kernel == kernel


def test_cudnn_preference_rules():
    assert prefers_cudnn((10, 3), 91600, cuda_major=12) is True
    assert prefers_cudnn((12, 0), 91600) is False
    assert prefers_cudnn((9, 0), 91600, deprioritized=True) is False


def test_head_dim_rules():
    assert expect(SM90, "bf16", "flash", head_dim=80).status == "ok"      # ViT-H/14: 1280 / 16
    assert expect(SM90, "bf16", "flash", head_dim=288).status == "unsupported"
    assert expect(SM90, "fp32", "efficient", head_dim=36).status == "ok"  # fp32 alignment 4
    assert expect(SM90, "fp16", "efficient", head_dim=36).status == "unsupported"  # half alignment 8
    assert expect(SM90, "fp16", "cudnn", head_dim=36).status == "unsupported"
    with pytest.raises(NoExpectation):
        expect(SM90, "fp16", "cudnn", head_dim=256)


@pytest.mark.parametrize("cap, dtype, attn", [((7, 5), "fp16", "flash"), ((12, 0), "bf16", "sdpa"),
                                              (SM90, "int8", "sdpa"), (SM90, "bf16", "xformers")])
def test_outside_the_table_is_an_explicit_no(cap, dtype, attn):
    with pytest.raises(NoExpectation):
        expect(cap, dtype, attn)


def test_the_whole_table():
    rows = table(cudnn_version=91600, cuda_major=13)
    assert len(rows) == len(ARCHS) * 3 * 6
    unsupported = {(r["arch"], r["dtype"], r["attn"]) for r in rows if r["status"] == "unsupported"}
    assert unsupported == {(a, "fp32", b) for a in ARCHS.values() for b in ("flash", "cudnn")}
    assert all(r["kernel"] and r["rule"] for r in rows if r["status"] == "ok")
