"""Memory of a measured point, in MiB (2**20 bytes; columns are labelled `mb`).

CUDA: the caching allocator's counters: `memory_allocated` before and after the model is built (weights),
`reset_peak_memory_stats` before the timed forwards and `max_memory_allocated` after them (peak: weights +
input + activations + workspaces; the CUDA context itself is not an allocation and is not counted).
CPU: the peak resident set size (RSS) of the isolated child process that measured the point, which includes
the interpreter and torch's own footprint (reported apart as `mem_base_mib`); weights are the parameter and
buffer bytes.

A sticky CUDA error (an illegal memory access, a device-side assert, ...) leaves the process's CUDA context
unusable: every later CUDA call, the cleanup after the point included, raises again. `release_checked` tells
the point runner so, in one line, instead of raising from its `finally`.
"""

from __future__ import annotations

import gc
import resource
import sys

from vitbench.errors import VitbenchError

MIB = 2**20

# Errors after which the CUDA context cannot be used again (CUDA runtime: "sticky" errors; cudaErrorIllegalAddress,
# cudaErrorAssert, cudaErrorLaunchFailure, cudaErrorMisalignedAddress, cudaErrorIllegalInstruction,
# cudaErrorHardwareStackError, cudaErrorInvalidPc, cudaErrorECCUncorrectable, cudaErrorLaunchTimeout).
STICKY_CUDA_ERRORS = (
    "illegal memory access", "device-side assert", "unspecified launch failure", "misaligned address",
    "illegal instruction", "hardware stack error", "invalid program counter", "uncorrectable ecc error",
    "the launch timed out",
)


def tensor_bytes(model) -> int:
    """Bytes of a module's parameters and buffers."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def cuda_allocated_mb(device: str) -> float:
    import torch

    return torch.cuda.memory_allocated(device) / MIB


def cuda_reset_peak(device: str) -> None:
    import torch

    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)


def cuda_peak_mb(device: str) -> float:
    import torch

    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / MIB


class CudaContextLost(VitbenchError):
    """Raised by the point runner, after writing the row, to stop a run whose CUDA context is unusable."""


def is_sticky_cuda_error(exc: BaseException | None) -> bool:
    """True when `exc` is a CUDA error after which this process's CUDA context is unusable."""
    text = str(exc).lower() if exc is not None else ""
    return ("cuda" in text or "cudnn" in text or "cublas" in text) and any(s in text for s in STICKY_CUDA_ERRORS)


def context_lost_message(cause: BaseException) -> str:
    """The one line a run stops with after a sticky CUDA error."""
    first = next((ln.strip() for ln in str(cause).splitlines() if ln.strip()), type(cause).__name__)
    return (f"the CUDA context is unusable ({first}); the point's row is written with status error and the run "
            "stops here; re-run with --isolate to measure every point in its own process")


def release_checked(device: str, point_error: BaseException | None = None) -> str | None:
    """`release(device)` plus, on CUDA, a synchronize; never raises.

    Returns None when the device is fine, or one line (`context_lost_message`) when the CUDA context is
    unusable: `point_error` was a sticky CUDA error, or the cleanup itself raised one. The caller writes the
    point's row (status 'error') first and then stops the run with that line."""
    cuda = str(device).startswith("cuda")
    if cuda and is_sticky_cuda_error(point_error):
        gc.collect()  # host-side only: no CUDA call on a broken context
        return context_lost_message(point_error)
    try:
        release(device)
        if cuda:
            import torch

            torch.cuda.synchronize(device)
    except Exception as e:  # noqa: BLE001 - any failure of the cleanup means the context cannot be trusted
        return context_lost_message(e) if cuda else None
    return None


def release(device: str) -> None:
    """Free what a finished point left behind (and, on CUDA, the allocator's cached blocks)."""
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def rss_mb() -> float:
    """Current resident set size of this process."""
    import psutil

    return psutil.Process().memory_info().rss / MIB


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024


class Tracker:
    """The memory tracker of one point, in MiB. CUDA: `memory_allocated` before and after the build (weights),
    `reset_peak_memory_stats` before the timed iterations and `max_memory_allocated` after them (peak). CPU:
    weights = parameter and buffer bytes; the peak is the isolated child's peak RSS (vitbench.measure.isolate)."""

    def __init__(self, device: str):
        self.device, self.cuda = device, device.startswith("cuda")
        self.base_mib = cuda_allocated_mb(device) if self.cuda else None

    def after_build(self, model) -> dict:
        if self.cuda:
            return {"mem_base_mib": self.base_mib, "mem_weights_mib": cuda_allocated_mb(self.device) - self.base_mib}
        return {"mem_weights_mib": tensor_bytes(model) / MIB}

    def before_timing(self) -> None:
        if self.cuda:
            cuda_reset_peak(self.device)

    def after_timing(self) -> dict:
        return {"mem_peak_mib": cuda_peak_mb(self.device)} if self.cuda else {}
