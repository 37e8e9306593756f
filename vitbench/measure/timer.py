"""Timing loops: warm-up, then one sample per iteration, raw samples kept (milliseconds).

CUDA: a `torch.cuda.Event(enable_timing=True)` pair per iteration, recorded on the current stream, and one
synchronize at the end of a batch of iterations (no host sync between timed iterations). CPU:
`time.perf_counter_ns` around each call. Warm-up runs `warmup` iterations *and* at least `min_warmup_s`
seconds (synchronized on CUDA, untimed). Timing runs `iters` iterations *and* until the samples add up to at
least `min_time_s`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

from vitbench.devices import is_cuda
from vitbench.measure import stats

MAX_ITERS = 100_000  # safety cap on timed iterations when `min_time_s` asks for many fast ones


@dataclass(frozen=True)
class LatencyRecord:
    """The latency tracker's result: raw per-iteration samples (ms, timing order) plus what the warm-up did."""

    samples_ms: tuple[float, ...]
    warmup_iters: int
    warmup_s: float

    def columns(self, batch: int, macs_per_image: int | None, peak_tflops: float | None) -> dict:
        """latency_ms_*, n_iters, throughput, achieved TFLOP/s and MFU (when the peak is known), warm-up."""
        summary = stats.summarize(self.samples_ms)
        cols = {**summary.latency_columns(), "throughput_ips": stats.throughput_ips(batch, summary.median),
                "warmup_iters": self.warmup_iters, "warmup_s": round(self.warmup_s, 4)}
        if macs_per_image is not None:
            cols["tflops_achieved"] = stats.tflops_achieved(macs_per_image, batch, summary.median)
            cols["mfu"] = stats.mfu(cols["tflops_achieved"], peak_tflops)
        return cols


def synchronize(device: str) -> None:
    if is_cuda(device):
        import torch

        torch.cuda.synchronize(device)


def warm_up(fn: Callable[[], object], device: str, iters: int, min_s: float) -> tuple[int, float]:
    """Call `fn` at least `iters` times and for at least `min_s` seconds; returns (calls, seconds)."""
    start = time.perf_counter()
    n = 0
    while n < iters or time.perf_counter() - start < min_s:
        fn()
        synchronize(device)
        n += 1
    return n, time.perf_counter() - start


def _cpu_samples(fn: Callable[[], object], n: int) -> list[float]:
    clock = time.perf_counter_ns
    out = [0.0] * n
    for i in range(n):
        t0 = clock()
        fn()
        out[i] = (clock() - t0) / 1e6
    return out


def _cuda_samples(fn: Callable[[], object], n: int, device: str) -> list[float]:
    import torch

    with torch.cuda.device(device):
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        for start, end in zip(starts, ends):
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize()
        return [s.elapsed_time(e) for s, e in zip(starts, ends)]


def samples(fn: Callable[[], object], device: str, iters: int, min_time_s: float = 0.0) -> list[float]:
    """`iters` timed calls, then more (estimated from the median so far) until they sum to `min_time_s`."""
    take = _cuda_samples if is_cuda(device) else (lambda f, n, _d: _cpu_samples(f, n))
    out = take(fn, iters, device)
    while sum(out) / 1e3 < min_time_s and len(out) < MAX_ITERS:
        per_iter_s = max(sorted(out)[len(out) // 2] / 1e3, 1e-9)
        missing = math.ceil((min_time_s - sum(out) / 1e3) / per_iter_s)
        out += take(fn, min(max(missing, 1), MAX_ITERS - len(out)), device)
    return out


def time_fn(fn: Callable[[], object], device: str, *, warmup: int, min_warmup_s: float, iters: int,
            min_time_s: float = 0.0) -> LatencyRecord:
    """Warm up, then time `fn` per iteration; the samples are in milliseconds."""
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    n_warm, warm_s = warm_up(fn, device, warmup, min_warmup_s)
    return LatencyRecord(tuple(samples(fn, device, iters, min_time_s)), n_warm, warm_s)


def overhead_ms(device: str = "cpu", iters: int = 10_000) -> float:
    """Median per-iteration cost of the timing loop itself (an empty callable), in milliseconds."""
    timing = time_fn(lambda: None, device, warmup=100, min_warmup_s=0.0, iters=iters)
    return stats.summarize(timing.samples_ms).median
