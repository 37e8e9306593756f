"""Synthetic result rows with known timing noise, for the compare tests (no torch).

A run of one point draws `n` iteration times from a lognormal around `median_ms` (per-iteration spread `sigma`,
in log units), multiplied by a run-level drift (lognormal, `drift`; what makes two runs of the same code on
the same machine differ) and with a fraction of outliers (`outliers`, each 1.3x..3x slower: interrupts,
frequency dips). The row carries the real summary statistics (vitbench.measure.stats.summarize); with
`samples=True` the run also keeps its raw samples, keyed as vitbench.samples keys them, so `compare` judges it
with the bootstrap interval instead of the spread rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vitbench import samples as samples_io
from vitbench.compare import compare
from vitbench.compare_input import frame
from vitbench.results_io import row_key
from vitbench.measure.stats import summarize, throughput_ips
from vitbench.schema import make_row
from vitbench.cost.analytic import cost_row
from vitbench.zoo import resolve

TINY_CONFIGS = (
    resolve("vit_ti16", res=32, depth=2, dim=64, heads=4),
    resolve("vit_ti16", res=64, depth=2, dim=64, heads=4),
    resolve("vit_s16", res=32, depth=2),
)


@dataclass(frozen=True)
class Noise:
    """Timing noise of one kind of machine (see the module docstring)."""

    sigma: float
    drift: float
    outliers: float
    n: int = 50


CPU = Noise(sigma=0.12, drift=0.03, outliers=0.05)  # IQR/median ~0.17: measured 0.08-0.24 on a 2-core VM
CPU_NOISY = Noise(sigma=0.20, drift=0.04, outliers=0.08)  # IQR/median ~0.28
TIGHT = Noise(sigma=0.02, drift=0.005, outliers=0.0)  # a quiet GPU: IQR/median ~0.03


def samples(rng: np.random.Generator, median_ms: float, noise: Noise, factor: float = 1.0) -> np.ndarray:
    """Iteration times (ms) of one run whose true median is `median_ms * factor`."""
    drift = rng.lognormal(0.0, noise.drift) if noise.drift else 1.0
    x = median_ms * factor * drift * rng.lognormal(0.0, noise.sigma, noise.n)
    slow = rng.random(noise.n) < noise.outliers
    x[slow] *= rng.uniform(1.3, 3.0, slow.sum())
    return x


def row(cfg, times_ms=None, batch: int = 1, status: str = "ok", mem_peak_mib: float | None = None, **extra) -> dict:
    """A full result row for `cfg` on cpu/fp32/sdpa with exact cost columns and these iteration times."""
    values = {**cfg.to_row(), **cost_row(cfg), "batch": batch, "device": "cpu", "dtype": "fp32",
              "attn": "sdpa", "compile": False, "status": status, "mem_peak_mib": mem_peak_mib}
    if times_ms is not None:
        s = summarize(times_ms)
        values.update(s.latency_columns(), throughput_ips=throughput_ips(batch, s.median))
    values.update(extra)
    return make_row(**values)


MEDIANS_MS = (2.0, 5.0, 11.0)


def run(rng: np.random.Generator, noise: Noise, factor: float = 1.0, points: int = 3,
        keep: dict | None = None) -> list[dict]:
    """One synthetic sweep of `points` points (the tiny configs in turn, batch 1, 2, ...; true medians
    2, 5, 11 ms), each slowed down by `factor`. Every point draws its own drift: its pair of runs is
    independent of the other points' pairs. With `keep`, each row's samples go into it by row-key digest."""
    out = []
    for i in range(points):
        cfg, median = TINY_CONFIGS[i % 3], MEDIANS_MS[i % 3]
        times = samples(rng, median, noise, factor)
        out.append(row(cfg, times, batch=i // 3 + 1))
        if keep is not None:
            keep[samples_io.digest(row_key(out[-1]))] = times
    return out


def verdicts(noise: Noise, factor: float, pairs: int = 200, seed: int = 0, threshold: float = 0.10,
             metric: str = "latency_ms_median", with_samples: bool = False) -> dict[str, int]:
    """How many of `pairs` independent baseline/candidate pairs got each verdict on `metric` when the candidate
    is `factor` times slower; with_samples: judged on raw samples (bootstrap), else on the summary columns."""
    rng = np.random.default_rng(seed)
    kept_b, kept_c = ({}, {}) if with_samples else (None, None)
    base = run(rng, noise, points=pairs, keep=kept_b)
    cand = run(rng, noise, factor, points=pairs, keep=kept_c)
    result = compare(frame(base), frame(cand), max_slowdown=threshold, metrics=(metric,),
                     base_samples=kept_b, cand_samples=kept_c)
    assert result.rows_common == pairs
    methods = {f.method for f in result.findings}
    assert methods == {"bootstrap" if with_samples else "spread"}, methods
    return {v: result.count(v) for v in ("regression", "noise", "ok", "improved")}


def alarm_rate(noise: Noise, factor: float, pairs: int = 200, seed: int = 0, threshold: float = 0.10,
               metric: str = "latency_ms_median", with_samples: bool = False) -> float:
    """Fraction of `pairs` independent baseline/candidate pairs flagged as a regression on `metric` when the
    candidate is `factor` times slower (factor 1: the false-alarm rate; above 1: the detection rate)."""
    return verdicts(noise, factor, pairs, seed, threshold, metric, with_samples)["regression"] / pairs


def table(pairs: int = 2000, factors=(1.0, 1.1, 1.2, 1.5, 2.0)) -> str:
    """The rates quoted in docs/ci.md, for the summary rule and the bootstrap rule."""
    lines = [f"latency regressions flagged among {pairs} independent pairs (throughput gives the same verdicts)",
             "rule       noise      IQR/med  limit   1.0x (false alarms)  "
             + "  ".join(f"{f:4.1f}x" for f in factors[1:])]
    for with_samples, rule in ((False, "spread"), (True, "bootstrap")):
        for name, noise in (("tight", TIGHT), ("cpu", CPU), ("cpu-noisy", CPU_NOISY),
                            ("cpu n=300", replace(CPU, n=300))):
            rng = np.random.default_rng(1)
            rel_iqr = np.median([summarize(samples(rng, 1.0, noise)).iqr for _ in range(200)])
            for threshold in (0.10, 0.25):
                rates = [alarm_rate(noise, f, pairs=pairs, threshold=threshold, with_samples=with_samples)
                         for f in factors]
                false_alarms = f"{round(rates[0] * pairs)}/{pairs} ({rates[0]:.2%})"
                lines.append(f"{rule:10s} {name:10s} {rel_iqr:6.3f}   {threshold:4.0%}   {false_alarms:20s} "
                             + "  ".join(f"{r:6.1%}" for r in rates[1:]))
    return "\n".join(lines)


if __name__ == "__main__":  # .venv/bin/python tests/synthetic_runs.py [PAIRS]
    import sys

    print(table(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
