"""Two-sample statistics for timing comparisons: a bootstrap confidence interval on the ratio of medians. No torch.

Pure functions over two arrays of per-iteration times (any unit, the same on both sides): a stored baseline
against a fresh run, or the interleaved repeats of an A/B run.

Method (percentile bootstrap, Efron & Tibshirani 1993, ch. 13): each of `resamples` rounds resamples `base`
(n_b values) and `cand` (n_c values) with replacement, independently, and takes median(cand*) / median(base*)
(the median of an even count is the mean of the two middle values, as numpy's). The interval is the α/2 and
1 − α/2 quantiles of those ratios (numpy's default 'linear' quantile), α = 1 − level. The point estimate is the
ratio of the data's medians. Defaults: 2,000 resamples, 95 %, seed 0 — the same samples give the same interval.

The resampled median is drawn directly rather than by drawing n indices: a resample is x_(⌊n·U_i⌋+1) for n
uniforms U_i (x sorted), so its k-th smallest value is x_(⌊n·U_(k)⌋+1) with U_(k) ~ Beta(k, n − k + 1), the k-th
order statistic of n uniforms; the next one is U_(k+1) = U_(k) + (1 − U_(k))·Beta(1, n − k). Same distribution as
resampling indices (tests check it against hand-computed cases), O(1) per round instead of O(n).

What it covers: the sampling error of the two medians, treating the iterations of one run as independent draws.
What it cannot see: a shift of a whole run (CPU frequency, other processes, placement) — the gate's threshold
covers that (docs/ci.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0


@dataclass(frozen=True)
class RatioInterval:
    """median(cand) / median(base) and its bootstrap confidence interval [low, high] at `level`."""

    ratio: float
    low: float
    high: float
    level: float
    resamples: int
    n_base: int
    n_cand: int


def _samples(values: Sequence[float], what: str) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{what}: need a non-empty 1-d array of samples, got shape {a.shape}")
    if not (np.isfinite(a).all() and (a > 0).all()):
        raise ValueError(f"{what}: samples must be finite and > 0")
    return a


def _resampled_medians(a: np.ndarray, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of `rounds` resamples (with replacement, size n = len(a)) of `a`, via the order statistics of
    uniforms (module docstring): the k-th smallest, k = ⌈n/2⌉, and for even n the mean with the (k+1)-th."""
    x, n = np.sort(a), a.size
    k = (n + 1) // 2
    u = rng.beta(k, n - k + 1, rounds)
    low = x[np.minimum((n * u).astype(np.int64), n - 1)]
    if n % 2:
        return low
    u_next = u + (1 - u) * rng.beta(1, n - k, rounds)
    return (low + x[np.minimum((n * u_next).astype(np.int64), n - 1)]) / 2


def bootstrap_ratios(base: Sequence[float], cand: Sequence[float], resamples: int = RESAMPLES,
                     seed: int = SEED) -> np.ndarray:
    """The bootstrap distribution of median(cand*) / median(base*): `resamples` values. One generator, seeded:
    the base side's resamples are drawn first, then the candidate's."""
    b, c = _samples(base, "baseline"), _samples(cand, "candidate")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    rng = np.random.default_rng(seed)
    mb = _resampled_medians(b, resamples, rng)
    mc = _resampled_medians(c, resamples, rng)
    return mc / mb


def ratio_interval(base: Sequence[float], cand: Sequence[float], level: float = LEVEL,
                   resamples: int = RESAMPLES, seed: int = SEED) -> RatioInterval:
    """median(cand) / median(base) with its percentile-bootstrap interval (see the module docstring)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    ratios = bootstrap_ratios(base, cand, resamples, seed)
    alpha = 1 - level
    low, high = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    b, c = np.asarray(base, dtype=float), np.asarray(cand, dtype=float)
    return RatioInterval(float(np.median(c) / np.median(b)), float(low), float(high), level, resamples,
                         int(b.size), int(c.size))
