"""Memory of a measured point, in MiB (2**20 bytes; columns are labelled `mb`).

CUDA: the caching allocator's counters: `memory_allocated` before and after the model is built (weights),
`reset_peak_memory_stats` before the timed forwards and `max_memory_allocated` after them (peak: weights +
input + activations + workspaces; the CUDA context itself is not an allocation and is not counted).
CPU: the peak resident set size (RSS) of the isolated child process that measured the point, which includes
the interpreter and torch's own footprint (reported apart as `mem_base_mib`); weights are the parameter and
buffer bytes.
"""

from __future__ import annotations

import gc
import resource
import sys

MIB = 2**20


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
