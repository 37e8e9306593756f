"""Baseline vs candidate result files: the regression gate. No torch.

Rows are matched on their identity (vitbench.identity: model, resolution, runtime key, and the architecture
fields that tell one file's rows apart). Then, per matched row:

- Configuration change (an architecture field differs under the same identity, e.g. `depth 12 → 13`): a
  regression naming the fields; with ``accept_config_change`` it is "changed", and so is every other
  difference of that row (they follow from the new configuration).
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
- Status: ok → anything else is a regression, not ok → ok an improvement; rows not ok on either side are
  compared on exact metrics only.
- Rows only in the baseline are "missing" and fail unless ``allow_missing``; rows only in the candidate are
  "new". A value in one file only is "changed" (``strict``: a value missing from the candidate fails).

Environment (only when a measured metric is compared): matched ok rows that ran on another device (`device`,
`device_name`) or torch thread count (`threads`, else the sidecar's environment.torch_threads) are bad input
unless ``allow_env_change`` (then a note). A row is noisy when either run was overloaded (sidecar load average
above its CPU count) or either row's IQR exceeds ``noisy_spread`` of its median. Noisy rows are noted; with
``noisy="inconclusive"`` their timing verdicts become "inconclusive", and a comparison with no other failure
is INCONCLUSIVE (exit 3) instead of pass or fail.

Bad input (VitbenchError, one line naming the file, row and column where there is one): unreadable files, no
rows or metrics in common, duplicate points, a metric the baseline has and the candidate lacks, an exact value
that is not a finite whole number >= 0, a timing or memory value that is not a finite number > 0, a spread
that is not finite and >= 0, raw samples that do not match their row.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vitbench import identity as ident
from vitbench import samples as samples_io
from vitbench.errors import VitbenchError
from vitbench.measure.stats import percentile
from vitbench.results_io import as_text, canonical, read_table, row_key
from vitbench.runmeta import RunLoad, read_run_load
from vitbench.schema import BY_NAME, EXACT_COLUMNS
from vitbench.twosample import LEVEL, RatioInterval, ratio_interval

IQR_PER_SIGMA = 1.349  # IQR of a normal distribution, in standard deviations
P90_P10_PER_SIGMA = 2.563  # p90 - p10 of a normal distribution, in standard deviations
SPREAD_K = 1.0
DEFAULT_THRESHOLD = 0.10
MIN_SAMPLES = 10  # fewer raw samples on a side: the spread rule instead of the bootstrap
NOISY_SPREAD = 0.25  # a row whose IQR exceeds this fraction of its median is noisy
NOISY_POLICIES = ("judge", "inconclusive")

TIMING_METRICS = ("latency_ms_median", "throughput_ips")  # both follow from the latency samples
NOISY_METRICS = TIMING_METRICS + ("mem_peak_mib",)
METRICS = EXACT_COLUMNS + NOISY_METRICS
ENV_COLUMNS = ("device", "device_name", "threads")
# Severity order, worst first. "changed": a difference that is neither better nor worse (a value in one file
# only, a failure status that changed kind, anything in an accepted configuration change); "noise": beyond the
# limit at the estimate but not beyond the measured uncertainty; "inconclusive": a timing of a noisy row under
# noisy="inconclusive".
VERDICTS = ("regression", "inconclusive", "improved", "changed", "noise", "ok")
_PCT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*$")
_WHOLE = re.compile(r"^\s*\d+\s*$")


# ------------------------------------------------------------------------------------------------ options

def parse_pct(text: str, what: str = "threshold") -> float:
    """'10%' or '10' -> 0.10 (always percent)."""
    match = _PCT.match(str(text))
    if not match:
        raise VitbenchError(f"{what} must be a non-negative percentage like 10% or 2.5%, got {text!r}")
    return float(match.group(1)) / 100


def parse_thresholds(items: list[str]) -> dict[str, float]:
    """['latency_ms_median=5%', ...] -> {'latency_ms_median': 0.05}; only noisy metrics take a threshold."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise VitbenchError(f"--threshold takes NAME=PCT (e.g. latency_ms_median=5%), got {item!r}")
        if name not in NOISY_METRICS:
            exact = " (exact metrics take no threshold)" if name in EXACT_COLUMNS else ""
            raise VitbenchError(f"--threshold: unknown metric {name!r}{exact}; valid: {', '.join(NOISY_METRICS)}")
        out[name] = parse_pct(value, f"--threshold {name}")
    return out


def parse_metrics(items: list[str] | None) -> tuple[str, ...] | None:
    """Repeated and/or comma-separated metric names -> a tuple (None: every metric both files carry)."""
    names = [n.strip() for item in items or () for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise VitbenchError(f"unknown metric(s) {', '.join(unknown)}; valid: {', '.join(METRICS)}")
    return tuple(dict.fromkeys(names)) or None


# ------------------------------------------------------------------------------------------------ loading

def frame(rows: list[dict]) -> pd.DataFrame:
    """In-memory rows (e.g. from `schema.make_row`) as the string table `compare` takes; None -> ''."""
    return as_text(rows)


def load_rows(path: str | Path) -> pd.DataFrame:
    """A result file (.csv or .json rows) as strings ('' when empty), with a `_row` column saying where each
    row is ('line 7' of a CSV, 'row 3' of JSON rows)."""
    df = read_table(path, text=True)
    if df.empty:
        raise VitbenchError(f"{path} has no rows")
    where = "line {}" if Path(path).suffix == ".csv" else "row {}"
    first = 2 if Path(path).suffix == ".csv" else 1  # a CSV's line 1 is its header
    return df.assign(_row=[where.format(i + first) for i in range(len(df))])


def load_samples(results: str | Path) -> dict[str, np.ndarray]:
    """The latency samples beside a results file ({} when it has none), by row key digest."""
    return samples_io.by_key(samples_io.path_for(results))


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


# ------------------------------------------------------------------------------------------------ values

_CHECKS = {  # rule name -> (what it must be, test on a float)
    "exact": ("a finite whole number >= 0", lambda x: math.isfinite(x) and x >= 0 and float(x).is_integer()),
    "positive": ("a finite number > 0", lambda x: math.isfinite(x) and x > 0),
    "spread": ("a finite number >= 0", lambda x: math.isfinite(x) and x >= 0),
}


def _rule(column: str) -> str:
    return "exact" if column in EXACT_COLUMNS else "positive" if column in NOISY_METRICS else "spread"


def _where(df: pd.DataFrame, idx) -> str:
    """'line 7' (CSV), 'row 3' (JSON rows or in-memory rows)."""
    return df.at[idx, "_row"] if "_row" in df.columns else f"row {df.index.get_loc(idx) + 1}"


def _bad(path: str, df: pd.DataFrame, idx, column: str, value: str, expected: str) -> VitbenchError:
    where = _where(df, idx)
    model = str(df.at[idx, "model"]).strip() if "model" in df.columns else ""
    return VitbenchError(f"{path} {where}{f' ({model})' if model else ''}, column {column}: {value!r} is not "
                         f"{expected}")


def _column(df: pd.DataFrame, column: str, path: str) -> pd.Series:
    """A metric or spread column as numbers (NaN when empty; exact columns as Python ints), checked by its rule."""
    expected, ok = _CHECKS[_rule(column)]
    out = pd.Series(np.nan, index=df.index, dtype=object)
    if column not in df.columns:
        return out
    for idx, raw in df[column].astype(str).str.strip().items():
        if raw == "":
            continue
        try:
            value = float(raw)
        except ValueError:
            raise _bad(path, df, idx, column, raw, "a number") from None
        if not ok(value):
            raise _bad(path, df, idx, column, raw, expected)
        out[idx] = (int(raw) if _WHOLE.match(raw) else int(value)) if column in EXACT_COLUMNS else value
    return out


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _Side:
    """One file's rows, keyed by identity, as checked numbers, statuses, spreads, samples and its run's load."""

    def __init__(self, df: pd.DataFrame, metrics: tuple[str, ...], path: str, samples: dict | None,
                 samples_name: str, load: RunLoad | None, labels: dict):
        self.df, self.path, self.load = df, path, load
        self.rows = dict(zip(df.index, df.to_dict("records")))
        self.values = {m: _column(df, m, path) for m in metrics}
        self.status = (df["status"].astype(str).str.strip().replace("", "ok") if "status" in df.columns
                       else pd.Series("ok", index=df.index))
        self.median = _column(df, "latency_ms_median", path).astype(float)
        self.sigma = _column(df, "latency_ms_iqr", path).astype(float) / IQR_PER_SIGMA
        if "latency_ms_p10" in df.columns and "latency_ms_p90" in df.columns:
            tails = (_column(df, "latency_ms_p90", path).astype(float)
                     - _column(df, "latency_ms_p10", path).astype(float)) / P90_P10_PER_SIGMA
            self.sigma = self.sigma.fillna(tails)
        self.n_iters = _column(df, "n_iters", path)
        self.samples = self._match_samples(samples or {}, samples_name, labels)

    def _match_samples(self, by_digest: dict, name: str, labels: dict) -> dict:
        """{row index: latency samples} for ok rows that have them, each checked against its row."""
        out = {}
        if not by_digest:
            return out
        for idx, row in self.rows.items():
            values = by_digest.get(samples_io.digest(row_key(row)))
            if values is None or self.status[idx] != "ok":
                continue
            where = f"{name}: the samples of {self.path} {_where(self.df, idx)} ({labels[idx]})"
            if not (np.isfinite(values).all() and (values > 0).all()) or values.size == 0:
                raise VitbenchError(f"{where} hold a value that is not a finite number > 0")
            n = self.n_iters[idx]
            if not _missing(n) and int(n) != values.size:
                raise VitbenchError(f"{where} are {values.size} values but the row says n_iters {int(n)}")
            median = self.median[idx]
            if not _missing(median) and percentile(values, 50) != median:
                raise VitbenchError(f"{where} have median {percentile(values, 50)!r} but the row says "
                                    f"latency_ms_median {float(median)!r}: they are not this row's samples")
            out[idx] = values
        return out

    def rel_iqr(self, idx) -> float:
        """IQR / median of the row's iterations (from the p10-p90 width when there is no IQR); NaN if unknown."""
        return self.sigma[idx] * IQR_PER_SIGMA / self.median[idx] if self.median[idx] > 0 else math.nan


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


def _noisy_finding(metric: str, b: float, c: float, side_b: _Side, side_c: _Side, idx, iv: RatioInterval | None,
                   threshold: float, k: float, label: str, key: dict) -> Finding:
    """A timing or memory finding: worse = c / b − 1 (lower is better) or b / c − 1 (higher is better)."""
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
    sb, sc, mb, mc = side_b.sigma[idx], side_c.sigma[idx], side_b.median[idx], side_c.median[idx]
    if any(math.isnan(v) for v in (sb, sc, mb, mc)):
        return Finding(**base, verdict=_judge(ratio, threshold, threshold), method="threshold",
                       note="no spread columns: threshold only")
    noise = math.hypot(sb / mb, sc / mc)  # each run's jitter relative to its own median
    return Finding(**base, verdict=_judge(ratio, threshold, max(threshold, k * noise)), noise=noise,
                   method="spread")


def _exact_finding(metric: str, b: int, c: int, label: str, key: dict, strict: bool) -> Finding:
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


def _choose_metrics(base, cand, metrics, base_path: str, cand_path: str) -> tuple[str, ...]:
    """The metrics to compare: those asked for (each must be in both files), else every metric both carry."""
    if metrics is not None:
        for df, path in ((base, base_path), (cand, cand_path)):
            for m in metrics:
                if not ident.filled(df, m):
                    raise VitbenchError(f"{path} has no values for metric {m}")
        return tuple(metrics)
    lost = [m for m in METRICS if ident.filled(base, m) and not ident.filled(cand, m)]
    if lost:
        raise VitbenchError(f"schema mismatch: {base_path} has {', '.join(lost)} but {cand_path} has no values "
                            f"for them; compare runs that measured the same things, or choose --metrics")
    chosen = tuple(m for m in METRICS if ident.filled(base, m) and ident.filled(cand, m))
    if not chosen:
        raise VitbenchError(f"{base_path} and {cand_path} have no metric in common (valid: {', '.join(METRICS)})")
    return chosen


# ------------------------------------------------------------------------------------------------ environment

def _env_value(side: _Side, column: str, idx) -> str:
    value = canonical(side.df.at[idx, column]) if column in side.df.columns else ""
    if column == "threads" and value == "" and side.load is not None and side.load.torch_threads is not None:
        value = str(side.load.torch_threads)
    return value


def _env_differences(b: _Side, c: _Side, rows: list, label_of: dict) -> list[str]:
    """One description per environment column that differs on some matched ok row."""
    out = []
    for column in ENV_COLUMNS:
        differ = [(i, vb, vc) for i in rows
                  for vb, vc in [(_env_value(b, column, i), _env_value(c, column, i))] if vb and vc and vb != vc]
        if differ:
            i, vb, vc = differ[0]
            out.append(f"{column} differs on {len(differ)} row(s), e.g. {label_of[i]}: baseline {vb!r}, "
                       f"candidate {vc!r}")
    return out


def _noisy_reason(b: _Side, c: _Side, idx, bound: float) -> str:
    """Why a matched row's timing is noisy ('' when it is not)."""
    reasons = [f"{name} run: {side.load.describe()}" for name, side in (("baseline", b), ("candidate", c))
               if side.load is not None and side.load.overloaded]
    reasons += [f"{name} IQR {side.rel_iqr(idx):.0%} of the median" for name, side in (("baseline", b),
                                                                                       ("candidate", c))
                if side.rel_iqr(idx) > bound]
    return "; ".join(reasons)


# ------------------------------------------------------------------------------------------------ compare

def compare(
    base: pd.DataFrame,
    cand: pd.DataFrame,
    *,
    max_slowdown: float = DEFAULT_THRESHOLD,
    thresholds: dict[str, float] | None = None,
    metrics: tuple[str, ...] | None = None,
    strict: bool = False,
    spread_k: float = SPREAD_K,
    allow_missing: bool = False,
    accept_config_change: bool = False,
    allow_env_change: bool = False,
    noisy: str = "judge",
    noisy_spread: float = NOISY_SPREAD,
    base_samples: dict[str, np.ndarray] | None = None,
    cand_samples: dict[str, np.ndarray] | None = None,
    base_load: RunLoad | None = None,
    cand_load: RunLoad | None = None,
    baseline_path: str = "baseline",
    candidate_path: str = "candidate",
    base_samples_name: str = "baseline samples",
    cand_samples_name: str = "candidate samples",
) -> Comparison:
    """Compare two result tables (as from `load_rows`); see the module docstring for the rules. Samples map a
    row-key digest (vitbench.samples.digest) to that row's latency samples (ms)."""
    if not (spread_k >= 0 and math.isfinite(spread_k)):
        raise VitbenchError(f"--spread-k must be a finite number >= 0, got {spread_k}")
    if noisy not in NOISY_POLICIES:
        raise VitbenchError(f"--noisy must be one of {', '.join(NOISY_POLICIES)}, got {noisy!r}")
    identity, config = ident.identity_columns(base, cand)
    chosen = _choose_metrics(base, cand, metrics, baseline_path, candidate_path)
    limits = {m: (thresholds or {}).get(m, max_slowdown) for m in NOISY_METRICS if m in chosen}

    b, c = ident.keyed(base, identity, baseline_path), ident.keyed(cand, identity, candidate_path)
    all_keys = pd.concat([b[list(identity)], c[list(identity)]])
    all_keys = all_keys[~all_keys.index.duplicated()]
    label_of = dict(zip(all_keys.index, ident.labels(all_keys)))
    side_b = _Side(b, chosen, baseline_path, base_samples, base_samples_name, base_load, label_of)
    side_c = _Side(c, chosen, candidate_path, cand_samples, cand_samples_name, cand_load, label_of)
    common = [k for k in b.index if k in c.index]
    if not common:
        raise VitbenchError(f"{baseline_path} and {candidate_path} have no rows in common "
                            f"(matched on {', '.join(identity)})")
    result = Comparison(baseline_path, candidate_path, identity, config, chosen, limits, strict, spread_k,
                        len(common), allow_missing,
                        missing=[label_of[k] for k in b.index if k not in c.index],
                        new=[label_of[k] for k in c.index if k not in b.index])

    timed = [k for k in common if side_b.status[k] == side_c.status[k] == "ok"]
    if any(m in NOISY_METRICS for m in chosen):
        differences = _env_differences(side_b, side_c, timed, label_of)
        if differences and not allow_env_change:
            raise VitbenchError(
                f"timings are not comparable: {differences[0]}; measure both on one machine with the same "
                f"threads (e.g. OMP_NUM_THREADS=1), compare cost only (--metrics), or pass --allow-env-change")
        result.notes += [f"{d} (--allow-env-change): timings may not be comparable" for d in differences]
    noisy_rows = {k: r for k in timed if (r := _noisy_reason(side_b, side_c, k, noisy_spread))}
    if noisy_rows and any(m in TIMING_METRICS for m in chosen):
        first = next(iter(noisy_rows))
        result.notes.append(f"noisy timings on {len(noisy_rows)} row(s), e.g. {label_of[first]}: "
                            f"{noisy_rows[first]}"
                            + ("; judged as inconclusive (--noisy inconclusive)" if noisy == "inconclusive"
                               else "; verdicts stand (pass --noisy inconclusive to withhold them)"))
    uses_samples = any(m in TIMING_METRICS for m in chosen)
    for k in common:
        findings = _row_findings(k, label_of[k], {col: side_b.rows[k][col] for col in identity}, side_b, side_c,
                                 chosen, limits, strict, spread_k, config, accept_config_change, uses_samples)
        if noisy == "inconclusive" and k in noisy_rows:
            for f in findings:
                if f.metric in TIMING_METRICS and f.verdict != "ok":
                    f.verdict, f.note = "inconclusive", f"noisy: {noisy_rows[k]}"
        result.findings += findings
    one_sided = [k for k in timed if (k in side_b.samples) != (k in side_c.samples)]
    if uses_samples and one_sided:
        result.notes.append(f"raw samples on one side only for {len(one_sided)} row(s) (e.g. "
                            f"{label_of[one_sided[0]]}): judged by the spread rule")
    return result


def _row_findings(k, label: str, key: dict, side_b: _Side, side_c: _Side, chosen: tuple[str, ...],
                  limits: dict, strict: bool, spread_k: float, config: tuple[str, ...], accept: bool,
                  uses_samples: bool) -> list[Finding]:
    """Every finding of one matched row (config change, status, each metric)."""
    out = []
    changes = ident.config_changes(side_b.rows[k], side_c.rows[k], config)
    if changes:
        text = ident.describe_changes(changes)
        out.append(Finding(label, key, "config", ", ".join(f"{f} {v}" for f, v, _ in changes),
                           ", ".join(f"{f} {v}" for f, _, v in changes), "changed" if accept else "regression",
                           method="config", note=f"config changed: {text}" + (" (accepted)" if accept else "")))
    sb, sc = side_b.status[k], side_c.status[k]
    if sb != sc:
        verdict = "regression" if sb == "ok" else "improved" if sc == "ok" else "changed"
        out.append(Finding(label, key, "status", sb, sc, verdict, method="status", note=f"status {sb} -> {sc}"))
    iv = None
    if uses_samples and k in side_b.samples and k in side_c.samples and min(
            side_b.samples[k].size, side_c.samples[k].size) >= MIN_SAMPLES:
        iv = ratio_interval(side_b.samples[k], side_c.samples[k])
    for m in chosen:
        if m not in EXACT_COLUMNS and not (sb == sc == "ok"):
            continue  # a failed point has no timings worth comparing
        vb, vc = side_b.values[m][k], side_c.values[m][k]
        if _missing(vb) and _missing(vc):
            continue
        if _missing(vb) or _missing(vc):
            verdict = "regression" if strict and _missing(vc) else "changed"
            out.append(Finding(label, key, m, None if _missing(vb) else vb, None if _missing(vc) else vc, verdict,
                               method="missing-value", note="value in one file only"))
        elif m in EXACT_COLUMNS:
            out.append(_exact_finding(m, vb, vc, label, key, strict))
        else:
            out.append(_noisy_finding(m, vb, vc, side_b, side_c, k, iv, limits[m], spread_k, label, key))
    if changes and accept:
        for f in out[1:]:
            if f.verdict in ("regression", "improved", "noise"):
                f.verdict, f.note = "changed", f"{f.verdict} under the accepted config change"
    return out


def compare_files(baseline: str | Path, candidate: str | Path, **options) -> Comparison:
    """Load two result files, their raw samples and sidecars, and compare them (options as for `compare`)."""
    base, cand = load_rows(baseline), load_rows(candidate)
    return compare(base, cand, baseline_path=str(baseline), candidate_path=str(candidate),
                   base_samples=load_samples(baseline), cand_samples=load_samples(candidate),
                   base_samples_name=str(samples_io.path_for(baseline)),
                   cand_samples_name=str(samples_io.path_for(candidate)),
                   base_load=read_run_load(baseline), cand_load=read_run_load(candidate), **options)
