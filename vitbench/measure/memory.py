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
