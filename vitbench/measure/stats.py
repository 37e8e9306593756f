"""Pure statistics over timing samples. No torch.

Percentiles use numpy's default ``method="linear"`` (type 7 of Hyndman & Fan: linear interpolation between
the closest ranks, p at position (n-1)·p/100 of the sorted samples). `std` is the sample standard deviation
(ddof=1; 0 for a single sample). IQR = p75 - p25. All values keep the unit of the samples (vitbench: ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

PERCENTILE_METHOD = "linear"


@dataclass(frozen=True)
class Summary:
    """Median, spread and count of one set of samples (same unit as the samples)."""

    median: float
    p10: float
    p90: float
    iqr: float
    mean: float
    std: float
    n: int

    def latency_columns(self) -> dict:
        """The `latency_ms_*` and `n_iters` columns of a result row (samples in ms)."""
        return {
            "latency_ms_median": self.median, "latency_ms_p10": self.p10, "latency_ms_p90": self.p90,
            "latency_ms_iqr": self.iqr, "latency_ms_mean": self.mean, "latency_ms_std": self.std,
            "n_iters": self.n,
        }


def percentile(samples: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100), linear interpolation between closest ranks."""
    if not len(samples):
        raise ValueError("percentile of no samples")
    return float(np.percentile(np.asarray(samples, dtype=float), p, method=PERCENTILE_METHOD))


def summarize(samples: Sequence[float]) -> Summary:
    """Median, p10, p90, IQR (p75 - p25), mean, sample std (ddof=1) and n."""
    if not len(samples):
        raise ValueError("cannot summarize zero samples")
    a = np.asarray(samples, dtype=float)
    p10, p25, p50, p75, p90 = np.percentile(a, [10, 25, 50, 75, 90], method=PERCENTILE_METHOD)
    return Summary(
        median=float(p50), p10=float(p10), p90=float(p90), iqr=float(p75 - p25),
        mean=float(a.mean()), std=float(a.std(ddof=1)) if a.size > 1 else 0.0, n=int(a.size),
    )


def throughput_ips(batch: int, median_ms: float) -> float:
    """Images per second: batch / median seconds per forward."""
    if median_ms <= 0:
        raise ValueError(f"median time must be positive, got {median_ms} ms")
    return batch / (median_ms / 1e3)


def tflops_achieved(macs_per_image: int, batch: int, median_ms: float) -> float:
    """Achieved TFLOP/s: 2 FLOPs per MAC × MACs per image × batch / median seconds, in 1e12 FLOP/s."""
    return 2 * macs_per_image * batch / (median_ms / 1e3) / 1e12


def mfu(achieved_tflops: float, peak_tflops: float | None) -> float | None:
    """Model FLOP utilisation: achieved / peak (a fraction, 0..1); None when the peak is unknown."""
    if not peak_tflops:
        return None
    return achieved_tflops / peak_tflops
