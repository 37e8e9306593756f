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

Paired repeats (`paired_ratio_interval`, for `vitbench ab`): n runs of each side, run i of the baseline and run i
of the candidate measured back to back. The unit of evidence is the pair, not the iteration: d_i = ln(c_i / b_i);
the ratio is exp(mean d) (the geometric mean of the n paired ratios, = the ratio of the two sides' geometric
means) and the interval exp(mean d ± t · sd(d) / √n), t the Student t quantile at 97.5 % with n − 1 degrees of
freedom (a two-sided 95 % interval; the paired t interval on log ratios). Whatever moves a whole run (load,
frequency, a process placed badly) moves the pairs apart and widens the interval instead of faking a change.
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


# Student t 0.975 quantiles for 1..30 degrees of freedom (any statistics table; tests/test_twosample.py
# integrates the t density to check each one).
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
MAX_PAIRS = len(T975) + 1


@dataclass(frozen=True)
class PairedInterval:
    """The geometric mean of n paired ratios cand_i / base_i and its 95 % t interval [low, high]; `log_sd`: the
    standard deviation of ln(cand_i / base_i) (ddof 1)."""

    ratio: float
    low: float
    high: float
    pairs: int
    log_sd: float
    level: float = LEVEL


def paired_ratio_interval(base: Sequence[float], cand: Sequence[float]) -> PairedInterval:
    """exp(mean ± t·sd/√n) of d_i = ln(cand_i / base_i) over 2 to MAX_PAIRS pairs (see the module docstring)."""
    b, c = _samples(base, "baseline"), _samples(cand, "candidate")
    if b.size != c.size:
        raise ValueError(f"paired values need equal counts, got {b.size} baseline and {c.size} candidate")
    if not 2 <= b.size <= MAX_PAIRS:
        raise ValueError(f"a paired interval needs 2 to {MAX_PAIRS} pairs, got {b.size}")
    d = np.log(c) - np.log(b)
    sd = float(np.std(d, ddof=1))
    half = T975[d.size - 2] * sd / np.sqrt(d.size)
    mean = float(np.mean(d))
    return PairedInterval(float(np.exp(mean)), float(np.exp(mean - half)), float(np.exp(mean + half)),
                          int(d.size), sd)

