"""Peak compute and bandwidth of a device: the datasheet (vitbench.hardware) beside a measurement (`vitbench peak`).

Measurement method, per matmul precision and for the copy:
  1. one throwaway call, synchronized (it pays cuBLAS handle creation, kernel selection and lazy allocation);
  2. warm-up by time: calls until `warmup_s` (0.25 s) has passed, at least one (synchronized, untimed);
  3. timing: at least `iters` calls *and* at least `min_time_s` seconds of timed calls (default 1 s); a call so
     slow that this would pass `max_time_s` (5 s) stops at 3 timed calls (fp16 matmul on a CPU, ~2 s a call);
     CUDA: a `torch.cuda.Event(enable_timing=True)` pair around each call, one synchronize per batch of calls;
     CPU: `time.perf_counter_ns`;
  4. CUDA, when the operands fit in L2 (`torch.cuda.get_device_properties(d).L2_cache_size`): a buffer of twice
     the L2 size is zeroed between timed calls, outside the event pair, so every call reads from HBM.
The result is the median call. matmul: 2·n³ FLOPs per n×n @ n×n call, TFLOP/s = 1e12 FLOP/s. copy: bytes read +
bytes written per second, GB/s = 1e9 B/s, beside the datasheet HBM bandwidth (CUDA).
"""

from __future__ import annotations

import time
from typing import Callable

from vitbench.hardware import PRECISION_OF_DTYPE, PRECISIONS, PeakLookup, lookup

__all__ = ["PRECISION_OF_DTYPE", "device_peak", "known_gpu", "known_peak_tflops", "measure_copy_gbps",
           "measure_matmul_tflops", "measure_peaks"]

MAX_TIMED_CALLS = 100_000


def known_gpu(device_name: str | None, sm_count: int | None = None) -> tuple[str, dict[str, float]] | None:
    """(label, dense TFLOP/s per precision) of the datasheet entry for a GPU name, or None (see hardware.lookup)."""
    found = lookup(device_name, sm_count).peak
    return (found.label, dict(found.tflops)) if found else None


def known_peak_tflops(device_name: str | None, dtype: str, sm_count: int | None = None) -> float | None:
    """Datasheet dense peak (TFLOP/s) of a GPU for a bench dtype; None when unknown, not offered, or a MIG slice
    whose SM count is not given (hardware.lookup says why)."""
    found = lookup(device_name, sm_count).peak
    return found.peak_tflops(PRECISION_OF_DTYPE.get(dtype, dtype)) if found else None


def device_peak(device: str) -> PeakLookup:
    """The datasheet entry of a CUDA device in hand (its name and SM count), or why there is none."""
    if not device.startswith("cuda"):
        return PeakLookup(None, "not a CUDA device: no datasheet peak")
    import torch

    props = torch.cuda.get_device_properties(device)
    return lookup(props.name, props.multi_processor_count)


def default_sizes(device: str) -> tuple[int, int]:
    """(square matmul side, copy buffer MiB): large on CUDA, small enough to be quick on CPU."""
    return (8192, 1024) if device.startswith("cuda") else (1024, 64)


def _l2_flusher(device: str, operand_bytes: int) -> Callable[[], object] | None:
    """A call that evicts L2 (zeroing a buffer of 2 × L2), when the operands would fit in it; else None."""
    if not device.startswith("cuda"):
        return None
    import torch

    l2 = torch.cuda.get_device_properties(device).L2_cache_size
    if operand_bytes > l2:
        return None
    buffer = torch.empty(2 * l2, dtype=torch.uint8, device=device)
    return buffer.zero_


def _cuda_batch_ms(fn: Callable[[], object], n: int, flush: Callable[[], object] | None) -> list[float]:
    import torch

    starts = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    for start, end in zip(starts, ends):
        if flush is not None:
            flush()
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in zip(starts, ends)]


def _cuda_samples_ms(fn: Callable[[], object], call_s: float, iters: int, min_time_s: float, max_time_s: float,
                     flush: Callable[[], object] | None) -> list[float]:
    """Batches of event-timed calls (one synchronize per batch), sized from the median call so far."""
    samples: list[float] = []
    while len(samples) < MAX_TIMED_CALLS:
        total_s = sum(samples) / 1e3
        per_call_s = max((sorted(samples)[len(samples) // 2] / 1e3) if samples else call_s, 1e-9)
        if len(samples) >= iters and total_s >= min_time_s:
            break
        if len(samples) >= 3 and total_s + per_call_s > max_time_s:
            break
        missing = max(iters - len(samples), int((min_time_s - total_s) / per_call_s) + 1, 1)
        room = max(1, int((max_time_s - total_s) / per_call_s))
        samples += _cuda_batch_ms(fn, min(missing, room, MAX_TIMED_CALLS - len(samples)), flush)
    return samples


def _cpu_samples_ms(fn: Callable[[], object], iters: int, min_time_s: float, max_time_s: float) -> list[float]:
    """Timed calls until >= iters and >= min_time_s, or >= 3 and one more would pass max_time_s."""
    out: list[float] = []
    total_ns = 0
    while len(out) < MAX_TIMED_CALLS:
        if len(out) >= iters and total_ns >= min_time_s * 1e9:
            break
        if len(out) >= 3 and total_ns + out[-1] * 1e6 > max_time_s * 1e9:
            break
        t0 = time.perf_counter_ns()
        fn()
        elapsed = time.perf_counter_ns() - t0
        total_ns += elapsed
        out.append(elapsed / 1e6)
    return out


def timed_median_ms(fn: Callable[[], object], device: str, *, iters: int = 20, warmup_s: float = 0.25,
                    min_time_s: float = 1.0, max_time_s: float = 5.0, flush: Callable[[], object] | None = None,
                    ) -> float:
    """Median ms per call of `fn` by the method in the module docstring."""
    from vitbench.measure.stats import summarize
    from vitbench.measure.timer import synchronize

    context = _cuda_context(device)
    with context:
        fn()  # throwaway: start-up costs
        synchronize(device)
        warm_start = time.perf_counter()
        while True:  # warm-up by time, at least one call; the last one estimates the cost of a call
            t0 = time.perf_counter()
            fn()
            synchronize(device)
            first_s = time.perf_counter() - t0
            if time.perf_counter() - warm_start >= warmup_s:
                break
        if device.startswith("cuda"):
            samples = _cuda_samples_ms(fn, first_s, iters, min_time_s, max_time_s, flush)
        else:
            samples = _cpu_samples_ms(fn, iters, min_time_s, max_time_s)
    return summarize(samples).median


def _cuda_context(device: str):
    import contextlib

    if not device.startswith("cuda"):
        return contextlib.nullcontext()
    import torch

    return torch.cuda.device(device)


def measure_matmul_tflops(device: str, precision: str, n: int, iters: int = 20, min_time_s: float = 1.0) -> float:
    """Median achieved TFLOP/s of an n×n @ n×n matmul (2·n³ FLOPs) in fp32 / tf32 / fp16 / bf16."""
    import torch

    from vitbench.measure.backends import precision as tf32_flags

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    flush = _l2_flusher(device, 3 * a.numel() * a.element_size())
    with tf32_flags(precision), torch.inference_mode():
        median_ms = timed_median_ms(lambda: torch.mm(a, b, out=out), device, iters=iters, min_time_s=min_time_s,
                                    flush=flush)
    return 2 * n**3 / (median_ms / 1e3) / 1e12


def measure_copy_gbps(device: str, mib: int, iters: int = 20, min_time_s: float = 1.0) -> float:
    """Median device-memory copy bandwidth in GB/s (1e9 B/s), counting the read and the write (2 × bytes)."""
    import torch

    src = torch.empty(mib * 2**20, dtype=torch.uint8, device=device).random_(0, 255)
    dst = torch.empty_like(src)
    flush = _l2_flusher(device, 2 * src.numel())
    median_ms = timed_median_ms(lambda: dst.copy_(src), device, iters=iters, min_time_s=min_time_s, flush=flush)
    return 2 * src.numel() / (median_ms / 1e3) / 1e9


def measure_peaks(device: str, n: int | None = None, mib: int | None = None, iters: int = 20,
                  min_time_s: float = 1.0) -> list[dict]:
    """One row per measurement: measure, size, value, unit, datasheet (CUDA: dense TFLOP/s or HBM GB/s), ratio,
    datasheet_note (which datasheet entry, or why none), error (a precision the device cannot run)."""
    from vitbench.errors import one_line
    from vitbench.measure.backends import check_supported

    d_n, d_mib = default_sizes(device)
    n, mib = n or d_n, mib or d_mib
    found = device_peak(device)
    rows = []
    for prec in PRECISIONS:
        row = {"measure": f"matmul {prec}", "size": f"{n}x{n}", "unit": "TFLOP/s", "value": None,
               "datasheet": found.peak.peak_tflops(prec) if found.peak else None, "datasheet_note": found.reason,
               "error": None}
        try:
            check_supported(prec, device)
            row["value"] = measure_matmul_tflops(device, prec, n, iters, min_time_s)
        except Exception as e:  # noqa: BLE001 - an unsupported precision is a row, not a crash
            row["error"] = one_line(str(e) or type(e).__name__)
        rows.append(row)
    rows.append({"measure": "copy", "size": f"{mib} MiB", "unit": "GB/s",
                 "value": measure_copy_gbps(device, mib, iters, min_time_s),
                 "datasheet": found.peak.hbm_gbps if found.peak else None, "datasheet_note": found.reason,
                 "error": None})
    for row in rows:
        row["ratio"] = row["value"] / row["datasheet"] if row["value"] and row["datasheet"] else None
    return rows
