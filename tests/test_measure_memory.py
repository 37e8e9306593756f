"""vitbench.measure.memory: the guarded cleanup after a point reports an unusable CUDA context in one line."""

import pytest
import torch

from vitbench.errors import VitbenchError
from vitbench.measure import memory

ILLEGAL = RuntimeError("CUDA error: an illegal memory access was encountered\nCUDA kernel errors might be "
                       "asynchronously reported at some other API call")


@pytest.mark.parametrize("exc, sticky", [
    (ILLEGAL, True),
    (RuntimeError("CUDA error: device-side assert triggered"), True),
    (RuntimeError("CUDA error: unspecified launch failure"), True),
    (RuntimeError("CUDA error: misaligned address"), True),
    (RuntimeError("CUDA error: invalid configuration argument"), False),  # a launch error; the context lives
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), False),
    (RuntimeError("illegal memory access in my own code, no GPU involved"), False),
    (None, False),
])
def test_sticky_cuda_errors(exc, sticky):
    assert memory.is_sticky_cuda_error(exc) is sticky


def test_cpu_release_is_fine():
    assert memory.release_checked("cpu") is None
    assert memory.release_checked("cpu", ILLEGAL) is None  # a CPU point has no CUDA context to lose


class FakeCuda:
    """torch.cuda.empty_cache / synchronize stand-ins: fine, or raising as on a broken context."""

    def __init__(self, monkeypatch, error=None):
        self.calls = []
        self.error = error
        monkeypatch.setattr(torch.cuda, "empty_cache", lambda: self._call("empty_cache"))
        monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: self._call("synchronize"))

    def _call(self, name):
        self.calls.append(name)
        if self.error is not None:
            raise self.error


def test_cuda_release_after_a_healthy_point(monkeypatch):
    fake = FakeCuda(monkeypatch)
    assert memory.release_checked("cuda:0") is None
    assert fake.calls == ["empty_cache", "synchronize"]


def test_a_sticky_point_error_is_reported_without_touching_the_context(monkeypatch):
    fake = FakeCuda(monkeypatch)
    line = memory.release_checked("cuda", ILLEGAL)
    assert fake.calls == []
    assert "CUDA context is unusable" in line and "illegal memory access" in line and "--isolate" in line
    assert "\n" not in line


def test_cleanup_that_raises_again_is_reported_not_raised(monkeypatch):
    # The old `finally: memory.release(device)` re-raised here, losing the row and printing a traceback.
    FakeCuda(monkeypatch, error=RuntimeError("CUDA error: an illegal memory access was encountered"))
    with pytest.raises(RuntimeError):
        memory.release("cuda")
    line = memory.release_checked("cuda", RuntimeError("something unrelated"))
    assert line.startswith("the CUDA context is unusable (CUDA error: an illegal memory access")


def test_context_lost_is_a_one_line_vitbench_error():
    err = memory.CudaContextLost(memory.context_lost_message(ILLEGAL))
    assert isinstance(err, VitbenchError) and "\n" not in str(err)
