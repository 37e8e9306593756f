"""What the regression gate decides: the metrics it judges, its verdicts in severity order, a Finding per
metric of a matched row, the Comparison of two files (PASS, FAIL or INCONCLUSIVE), and the rules that turn a
baseline and a candidate value into a verdict. No torch.

- Exact metrics (schema.EXACT_COLUMNS: tokens, params, MACs per image): compared as integers; an increase is
  a regression, a decrease "improved" (``strict``: any change fails).
- Timing (latency_ms_median, throughput_ips; the better direction from schema.BY_NAME): worse = the factor by
  which the candidate is slower, minus one: median_c / median_b − 1, or tp_b / tp_c − 1 (the same ratio, since
  tp = batch / median). t is ``max_slowdown`` or the metric's entry in ``thresholds``.
  * Both rows have raw samples (vitbench.samples, at least MIN_SAMPLES each): a 95 % bootstrap interval
    [lo, hi] on median_c / median_b (vitbench.twosample, 2,000 resamples, seeded). Regression iff lo − 1 > t
    (the whole interval beyond the limit); improved iff 1 / hi − 1 > t; beyond t at the estimate only: "noise".
  * Otherwise (summary-only files) the spread rule: regression iff worse > t AND worse > k·√(s_b² + s_c²),
    s = (IQR / 1.349) / median, or (p90 − p10) / 2.563 / median without an IQR; with neither, t alone.
- Memory (mem_peak_mib, lower is better): peak_c / peak_b − 1 > t; threshold only.

Which rows are compared, and the status, configuration and environment checks: vitbench.compare.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from vitbench.schema import BY_NAME, EXACT_COLUMNS
from vitbench.twosample import LEVEL, RatioInterval

MIN_SAMPLES = 10  # fewer raw samples on a side: the spread rule instead of the bootstrap
TIMING_METRICS = ("latency_ms_median", "throughput_ips")  # both follow from the latency samples
NOISY_METRICS = TIMING_METRICS + ("mem_peak_mib",)
METRICS = EXACT_COLUMNS + NOISY_METRICS
# Severity order, worst first. "changed": a difference that is neither better nor worse (a value in one file
# only, a failure status that changed kind, anything in an accepted configuration change); "noise": beyond the
# limit at the estimate but not beyond the measured uncertainty; "inconclusive": a timing of a noisy row under
# noisy="inconclusive".
VERDICTS = ("regression", "inconclusive", "improved", "changed", "noise", "ok")


# ------------------------------------------------------------------------------------------------ results

@dataclass
class Finding:
    """One metric of one matched row. `change` = (cand - base) / base of the value; `worse` > 0 is worse;
    `interval` = the bootstrap interval of `change` from `samples` = (n baseline, n candidate) raw samples;
    `method`: exact, bootstrap, spread, threshold, status, config or missing-value."""

    label: str
    key: dict
    metric: str
    baseline: float | int | str | None
    candidate: float | int | str | None
    verdict: str
    change: float | None = None
    worse: float | None = None
    noise: float | None = None
    threshold: float | None = None
    interval: tuple[float, float] | None = None
    samples: tuple[int, int] | None = None
    method: str = ""
    note: str = ""


@dataclass
class Comparison:
    """The outcome of comparing two result files."""

    baseline_path: str
    candidate_path: str
    identity: tuple[str, ...]
    config_fields: tuple[str, ...]
    metrics: tuple[str, ...]
    thresholds: dict[str, float]
    strict: bool
    spread_k: float
    rows_common: int
    allow_missing: bool = False
    level: float = LEVEL
    findings: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(f.verdict == verdict for f in self.findings)

    @property
    def failed(self) -> bool:
        """True when the gate fails: a regression, or a missing row (unless allowed)."""
        return self.count("regression") > 0 or (bool(self.missing) and not self.allow_missing)

    @property
    def outcome(self) -> str:
        """PASS, FAIL or INCONCLUSIVE (no failure, but a noisy row's timing could not be judged)."""
        return "FAIL" if self.failed else "INCONCLUSIVE" if self.count("inconclusive") else "PASS"

    @property
    def exit_code(self) -> int:
        return {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3}[self.outcome]

    def config_changes(self) -> list[Finding]:
        return [f for f in self.findings if f.metric == "config"]

    def sorted_findings(self) -> list[Finding]:
        """Worst first: by verdict severity, config and status changes before the metrics, then by how much
        worse."""
        rank = {v: i for i, v in enumerate(VERDICTS)}
        return sorted(self.findings, key=lambda f: (rank[f.verdict], f.metric not in ("config", "status"),
                                                    -(f.worse if f.worse is not None else -math.inf)))

    def summary(self) -> str:
        """One line: the outcome, findings by verdict, rows matched, missing and new."""
        parts = [f"{self.count('regression')} regression(s)"]
        if self.count("inconclusive"):
            parts.append(f"{self.count('inconclusive')} inconclusive")
        parts += [f"{self.count('improved')} improved", f"{self.count('changed')} changed",
                  f"{self.count('noise')} within noise", f"{self.count('ok')} unchanged"]
        missing = f"{len(self.missing)} missing{' (allowed)' if self.missing and self.allow_missing else ''}"
        return f"{self.outcome}: {', '.join(parts)} ({self.rows_common} common rows, {missing}, {len(self.new)} new)"

    def to_dict(self) -> dict:
        return {
            "baseline": self.baseline_path, "candidate": self.candidate_path, "outcome": self.outcome,
            "passed": self.outcome == "PASS", "exit_code": self.exit_code, "summary": self.summary(),
            "identity": list(self.identity), "config_fields": list(self.config_fields),
            "metrics": list(self.metrics), "thresholds": self.thresholds, "spread_k": self.spread_k,
            "level": self.level, "strict": self.strict, "allow_missing": self.allow_missing,
            "rows_common": self.rows_common, "missing": self.missing, "new": self.new, "notes": self.notes,
            "findings": [asdict(f) for f in self.sorted_findings()],
        }


# ------------------------------------------------------------------------------------------------ rules

def _relative(b: float, c: float) -> float | None:
    return (c - b) / b if b > 0 else None


def _judge(ratio: float, threshold: float, margin: float) -> str:
    """Verdict from a worse-ratio (> 1: the candidate is worse) that must exceed 1 + margin (margin >= t)."""
    if ratio - 1 > margin:
        return "regression"
    if 1 / ratio - 1 > margin:
        return "improved"
    return "noise" if max(ratio, 1 / ratio) - 1 > threshold else "ok"


def judge_interval(ratio: float, low: float, high: float, threshold: float) -> str:
    """Verdict from a worse-ratio and its interval: the whole interval must lie beyond the limit."""
    if low - 1 > threshold:
        return "regression"
    if 1 / high - 1 > threshold:
        return "improved"
    return "noise" if max(ratio, 1 / ratio) - 1 > threshold else "ok"


def noisy_finding(metric: str, b: float, c: float, iv: RatioInterval | None, rel_sigma: tuple[float, float],
                  threshold: float, k: float, label: str, key: dict) -> Finding:
    """A timing or memory finding: worse = c / b − 1 (lower is better) or b / c − 1 (higher is better). `iv`: the
    bootstrap interval of median_c / median_b (None: no raw samples on a side); `rel_sigma`: each run's σ over its
    median (NaN when unknown), for the spread rule."""
    higher = BY_NAME[metric].better == "higher"
    ratio = b / c if higher else c / b
    base = dict(label=label, key=key, metric=metric, baseline=b, candidate=c, change=_relative(b, c),
                worse=ratio - 1, threshold=threshold)
    if metric not in TIMING_METRICS:
        return Finding(**base, verdict=_judge(ratio, threshold, threshold), method="threshold")
    if iv is not None:
        interval = (1 / iv.high - 1, 1 / iv.low - 1) if higher else (iv.low - 1, iv.high - 1)
        return Finding(**base, verdict=judge_interval(ratio, iv.low, iv.high, threshold), interval=interval,
                       samples=(iv.n_base, iv.n_cand), method="bootstrap")
    if any(math.isnan(s) for s in rel_sigma):
        return Finding(**base, verdict=_judge(ratio, threshold, threshold), method="threshold",
                       note="no spread columns: threshold only")
    noise = math.hypot(*rel_sigma)  # each run's jitter relative to its own median
    return Finding(**base, verdict=_judge(ratio, threshold, max(threshold, k * noise)), noise=noise,
                   method="spread")


def exact_finding(metric: str, b: int, c: int, label: str, key: dict, strict: bool) -> Finding:
    """An exact metric, compared as integers: an increase is a regression, a decrease "improved" (`strict`: a
    regression too)."""
    if b == c:
        return Finding(label, key, metric, b, c, "ok", 0.0, 0.0, method="exact")
    change = _relative(b, c)
    worse = change if change is not None else math.copysign(1.0, c - b)
    if c > b:
        verdict, note = "regression", ""
    elif strict:
        verdict, note = "regression", "decreased: any change fails (--strict)"
    else:
        verdict, note = "improved", ""
    return Finding(label, key, metric, b, c, verdict, change, worse, None, 0.0, method="exact", note=note)

