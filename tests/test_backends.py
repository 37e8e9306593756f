"""vitbench.measure.backends: failure classification by the pinned backend, and the MHA fast path under a pin."""

import pytest
import torch

from vitbench.measure import backends

PLAN = RuntimeError("cuDNN Frontend error: [cudnn_frontend] Error: No execution plans support the graph.")
GRID = RuntimeError("CUDA error: invalid configuration argument\nCompile with `TORCH_USE_CUDA_DSA`")


@pytest.mark.parametrize("exc, attn, status", [
    (PLAN, "cudnn", "unsupported"),
    (RuntimeError("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED"), "cudnn", "unsupported"),
    (GRID, "efficient", "unsupported"),
    (GRID, "flash", "unsupported"),
    (RuntimeError("CUDA error: too many resources requested for launch"), "math", "unsupported"),
    (PLAN, "sdpa", "error"),      # torch chose the kernel itself: a failure, not an unsupported pin
    (GRID, None, "error"),
    (GRID, "manual", "error"),
    (RuntimeError("CUDA error: an illegal memory access was encountered"), "cudnn", "error"),
    (RuntimeError("something else"), "cudnn", "error"),
])
def test_pinned_kernel_that_cannot_run_the_shape_is_unsupported(exc, attn, status):
    got, line = backends.describe_error(exc, attn)
    assert got == status and "\n" not in line
    if status == "unsupported":
        assert line.startswith(f"the pinned {attn} kernel cannot run this shape:")


def test_describe_error_without_attn_keeps_its_old_answers():
    assert backends.describe_error(torch.OutOfMemoryError("CUDA out of memory"))[0] == "oom"
    assert backends.describe_error(backends.Unsupported("no flash"))[0] == "unsupported"
    assert backends.describe_error(PLAN) == ("error", f"RuntimeError: {PLAN}")


def test_mha_fastpath_context_restores_the_flag():
    before = torch.backends.mha.get_fastpath_enabled()
    with backends.mha_fastpath(not before):
        assert torch.backends.mha.get_fastpath_enabled() is (not before)
    assert torch.backends.mha.get_fastpath_enabled() is before


@pytest.mark.parametrize("attn, fastpath", [("sdpa", True), ("manual", True), ("flash", False), ("math", False)])
def test_only_a_pin_turns_the_fast_path_off(attn, fastpath):
    with backends.mha_fastpath(True), backends.forward_context("fp32", attn, "cpu"):
        assert torch.backends.mha.get_fastpath_enabled() is fastpath
