"""Baseline vs candidate result files: exact checks for cost, noise-aware checks for time. No torch.

Rows are joined on the config key (`schema.CONFIG_KEY` columns present and filled in both files). Then:

- Exact metrics (`schema.EXACT_COLUMNS`: params, MACs per image per component, tokens): any change is
  reported; an increase is a regression, a decrease is "improved" (with ``strict``: any change fails).
- Latency (`latency_ms_median`, lower is better) and throughput (`throughput_ips`, higher is better) are
  noisy. How much worse the candidate is: worse = median_c / median_b - 1 for latency, tp_b / tp_c - 1 for
  throughput (the extra time per image; with tp = batch / median both agree). Each run's spread is the σ of
  one iteration relative to its median, s = (IQR / 1.349) / median (IQR / 1.349 is the σ of a normal with
  that IQR; (p90 - p10) / 2.563 when the IQR column is empty). The candidate regressed iff BOTH

      worse > t                        (t: --max-slowdown, or a per-metric --threshold)
      worse > k · sqrt(s_b² + s_c²)    (k = 1 by default, --spread-k: the shift exceeds the jitter
                                        between single iterations of the two runs)

  "improved" is the mirror image (baseline / candidate swapped). A change beyond t but inside the spread is
  reported as "noise" and does not fail. Without spread columns: threshold only.
- Memory (`mem_peak_mib`, lower is better): worse = peak_c / peak_b - 1 > t, threshold only (allocator peaks
  and peak RSS repeat to within a few MiB, and no spread is measured).
- A row whose status is not "ok" in either file is compared on exact metrics only; ok -> not ok is a
  regression, not ok -> ok an improvement.
- Rows only in the baseline are "missing", rows only in the candidate "new"; a value in one file only is
  "changed". With ``strict`` missing rows and values missing from the candidate fail.
- A metric the baseline carries and the candidate lacks entirely is a schema mismatch (bad input).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vitbench.errors import VitbenchError
from vitbench.schema import CONFIG_KEY, EXACT_COLUMNS
from vitbench.results_io import as_text, canonical, read_table
from vitbench.zoo import preset

IQR_PER_SIGMA = 1.349  # IQR of a normal distribution, in standard deviations
P90_P10_PER_SIGMA = 2.563  # p90 - p10 of a normal distribution, in standard deviations
SPREAD_K = 1.0
DEFAULT_THRESHOLD = 0.10

# Noisy metrics: name -> (higher is better, uses the latency spread). Memory uses the threshold only.
NOISY_METRICS: dict[str, tuple[bool, bool]] = {
    "latency_ms_median": (False, True),
    "throughput_ips": (True, True),
    "mem_peak_mib": (False, False),
}
METRICS = EXACT_COLUMNS + tuple(NOISY_METRICS)
# Severity order, worst first. "changed": a difference that is neither better nor worse (a value in one file
# only, a failure status that changed kind); "noise": beyond the threshold but inside the measured spread.
VERDICTS = ("regression", "improved", "changed", "noise", "ok")
_PCT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*$")


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


def frame(rows: list[dict]) -> pd.DataFrame:
    """In-memory rows (e.g. from `schema.make_row`) as the string table `compare` takes; None -> ''."""
    return as_text(rows)


def load_rows(path: str | Path) -> pd.DataFrame:
    """A result file (.csv or .json rows) as strings; empty cells are ''."""
    df = read_table(path, text=True)
    if df.empty:
        raise VitbenchError(f"{path} has no rows")
    return df


def _numbers(df: pd.DataFrame, column: str, path: str) -> pd.Series:
    """A metric column as floats (NaN when empty); a non-number is bad input."""
    raw = df[column].astype(str).str.strip()
    values = pd.to_numeric(raw.where(raw != ""), errors="coerce")
    bad = raw[(raw != "") & values.isna()]
    if len(bad):
        raise VitbenchError(f"{path}: column {column} holds a non-number {bad.iloc[0]!r}")
    return values.astype(float)


def _filled(df: pd.DataFrame, column: str) -> bool:
    return column in df.columns and bool((df[column].astype(str).str.strip() != "").any())


def key_columns(base: pd.DataFrame, cand: pd.DataFrame) -> tuple[str, ...]:
    """The CONFIG_KEY columns present and filled in both files."""
    return tuple(c for c in CONFIG_KEY if _filled(base, c) and _filled(cand, c))


@dataclass
class Finding:
    """One metric of one joined row. `change` = (cand - base) / base; `worse` is signed so > 0 is worse."""

    label: str
    key: dict
    metric: str
    baseline: float | str | None
    candidate: float | str | None
    verdict: str
    change: float | None = None
    worse: float | None = None
    noise: float | None = None
    threshold: float | None = None
    note: str = ""


@dataclass
class Comparison:
    """The outcome of comparing two result files."""

    baseline_path: str
    candidate_path: str
    key_columns: tuple[str, ...]
    metrics: tuple[str, ...]
    thresholds: dict[str, float]
    strict: bool
    spread_k: float
    rows_common: int
    findings: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(f.verdict == verdict for f in self.findings)

    @property
    def failed(self) -> bool:
        """True when the gate fails: a regression, or (strict) a missing row."""
        return self.count("regression") > 0 or (self.strict and bool(self.missing))

    def sorted_findings(self) -> list[Finding]:
        """Worst first: by verdict severity, then by how much worse."""
        rank = {v: i for i, v in enumerate(VERDICTS)}
        return sorted(self.findings, key=lambda f: (rank[f.verdict], -(f.worse if f.worse is not None
                                                                          else -math.inf)))

    def summary(self) -> str:
        """One line: regressions, improvements, noise, unchanged; missing and new rows."""
        parts = [f"{self.count('regression')} regression(s)", f"{self.count('improved')} improved",
                 f"{self.count('changed')} changed", f"{self.count('noise')} within noise",
                 f"{self.count('ok')} unchanged"]
        rows = f"{self.rows_common} common rows, {len(self.missing)} missing, {len(self.new)} new"
        verdict = "FAIL" if self.failed else "PASS"
        return f"{verdict}: {', '.join(parts)} ({rows})"

    def to_dict(self) -> dict:
        return {
            "baseline": self.baseline_path, "candidate": self.candidate_path, "passed": not self.failed,
            "summary": self.summary(), "key_columns": list(self.key_columns), "metrics": list(self.metrics),
            "thresholds": self.thresholds, "spread_k": self.spread_k, "strict": self.strict,
            "rows_common": self.rows_common, "missing": self.missing, "new": self.new,
            "notes": self.notes,
            "findings": [asdict(f) for f in self.sorted_findings()],
        }


def _preset_fields(model: str) -> dict:
    """Canonical config columns of a zoo name at 224 px ({} for a name outside the zoo grammar)."""
    try:
        return {k: canonical(v) for k, v in preset(model).to_row().items()}
    except VitbenchError:
        return {}


def _labels(keys: pd.DataFrame) -> list[str]:
    """Short row labels: model and resolution, config columns that differ from the model's preset, and runtime
    key columns whose value varies across the rows (e.g. 'vit_s16 32 patch=8 dim=64 depth=2 batch=2')."""
    vary = {c for c in keys.columns if keys[c].map(canonical).nunique() > 1}
    out = []
    for _, row in keys.iterrows():
        model = str(row.get("model", "?"))
        defaults = _preset_fields(model)
        parts = [model]
        if "res_h" in row and "res_w" in row:
            parts.append(row["res_h"] if canonical(row["res_h"]) == canonical(row["res_w"])
                         else f"{row['res_h']}x{row['res_w']}")
        for c in keys.columns:
            if c in ("model", "res_h", "res_w"):
                continue
            differs = canonical(row[c]) != defaults[c] if c in defaults else c in vary
            if differs:
                parts.append(f"{c}={row[c]}")
        out.append(" ".join(str(p) for p in parts))
    return out


def _keyed(df: pd.DataFrame, keys: tuple[str, ...], path: str) -> pd.DataFrame:
    df = df.copy()
    df["_key"] = df[list(keys)].map(canonical).agg("|".join, axis=1)
    dup = df["_key"][df["_key"].duplicated()]
    if len(dup):
        raise VitbenchError(f"{path} has several rows for the key {dup.iloc[0]!r} (key columns: "
                            f"{', '.join(keys)}); compare files with one row per point")
    return df.set_index("_key")


def _spread(df: pd.DataFrame, path: str) -> pd.Series:
    """σ of one iteration's latency per row (ms): IQR / 1.349, else (p90 - p10) / 2.563, else NaN."""
    sigma = pd.Series(np.nan, index=df.index)
    if "latency_ms_iqr" in df.columns:
        sigma = _numbers(df, "latency_ms_iqr", path) / IQR_PER_SIGMA
    if "latency_ms_p10" in df.columns and "latency_ms_p90" in df.columns:
        tails = (_numbers(df, "latency_ms_p90", path) - _numbers(df, "latency_ms_p10", path)) / P90_P10_PER_SIGMA
        sigma = sigma.fillna(tails)
    return sigma


def _judge(ratio: float, threshold: float, noise: float | None, k: float) -> str:
    """Verdict for a noisy metric from its worse-ratio (> 1: the candidate is worse), limit and relative noise."""
    margin = max(threshold, 0.0 if noise is None or math.isnan(noise) else k * noise)
    if ratio - 1 > margin:
        return "regression"
    if 1 / ratio - 1 > margin:
        return "improved"
    if max(ratio, 1 / ratio) - 1 > threshold:
        return "noise"
    return "ok"


def _relative(b: float, c: float) -> float | None:
    return (c - b) / b if b > 0 else None


def _noisy_finding(metric, b, c, sb, sc, mb, mc, threshold, k, label, key) -> Finding:
    """worse = c/b - 1 (lower is better) or b/c - 1 (higher is better): how many times worse, minus one."""
    higher_better, uses_spread = NOISY_METRICS[metric]
    if not (b > 0 and c > 0):
        return Finding(label, key, metric, b, c, "changed", _relative(b, c), note="value is not positive")
    ratio = b / c if higher_better else c / b
    noise = None
    if uses_spread and not any(math.isnan(v) for v in (sb, sc, mb, mc)) and mb > 0 and mc > 0:
        noise = math.hypot(sb / mb, sc / mc)  # each run's jitter relative to its own median
    note = "" if noise is not None or not uses_spread else "no spread columns: threshold only"
    return Finding(label, key, metric, b, c, _judge(ratio, threshold, noise, k), _relative(b, c), ratio - 1,
                   noise, threshold, note)


def _exact_finding(metric, b, c, label, key, strict) -> Finding:
    b, c = int(b), int(c)
    if b == c:
        return Finding(label, key, metric, b, c, "ok", 0.0, 0.0)
    change = _relative(b, c)
    if c > b:
        verdict, note = "regression", "exact metric increased"
    else:
        verdict, note = ("regression", "exact metric decreased (--strict)") if strict else (
            "improved", "exact metric decreased")
    return Finding(label, key, metric, b, c, verdict, change, change if change is not None else math.copysign(
        1.0, c - b), None, 0.0, note)


def _choose_metrics(base, cand, metrics, base_path: str, cand_path: str) -> tuple[str, ...]:
    """The metrics to compare: those asked for (each must be in both files), else every metric both carry."""
    if metrics is not None:
        for df, path in ((base, base_path), (cand, cand_path)):
            for m in metrics:
                if not _filled(df, m):
                    raise VitbenchError(f"{path} has no values for metric {m}")
        return tuple(metrics)
    lost = [m for m in METRICS if _filled(base, m) and not _filled(cand, m)]
    if lost:
        raise VitbenchError(f"schema mismatch: {base_path} has {', '.join(lost)} but {cand_path} has no values "
                            f"for them; compare runs that measured the same things, or choose --metrics")
    chosen = tuple(m for m in METRICS if _filled(base, m) and _filled(cand, m))
    if not chosen:
        raise VitbenchError(f"{base_path} and {cand_path} have no metric in common (valid: {', '.join(METRICS)})")
    return chosen


def compare(
    base: pd.DataFrame,
    cand: pd.DataFrame,
    *,
    max_slowdown: float = DEFAULT_THRESHOLD,
    thresholds: dict[str, float] | None = None,
    metrics: tuple[str, ...] | None = None,
    strict: bool = False,
    spread_k: float = SPREAD_K,
    baseline_path: str = "baseline",
    candidate_path: str = "candidate",
) -> Comparison:
    """Compare two result tables (as from `load_rows`); see the module docstring for the rules."""
    keys = key_columns(base, cand)
    if "model" not in keys:
        raise VitbenchError(f"{baseline_path} and {candidate_path} share no config key columns "
                            f"(expected some of: {', '.join(CONFIG_KEY)})")
    chosen = _choose_metrics(base, cand, metrics, baseline_path, candidate_path)
    if not (spread_k >= 0 and math.isfinite(spread_k)):
        raise VitbenchError(f"--spread-k must be a finite number >= 0, got {spread_k}")
    limits = {m: (thresholds or {}).get(m, max_slowdown) for m in NOISY_METRICS if m in chosen}

    b, c = _keyed(base, keys, baseline_path), _keyed(cand, keys, candidate_path)
    common = [k for k in b.index if k in c.index]
    all_keys = pd.concat([b[list(keys)], c[list(keys)]])
    all_keys = all_keys[~all_keys.index.duplicated()]
    label_of = dict(zip(all_keys.index, _labels(all_keys)))
    result = Comparison(baseline_path, candidate_path, keys, chosen, limits, strict, spread_k, len(common),
                        missing=[label_of[k] for k in b.index if k not in c.index],
                        new=[label_of[k] for k in c.index if k not in b.index])
    if not common:
        raise VitbenchError(f"{baseline_path} and {candidate_path} have no rows in common "
                            f"(joined on {', '.join(keys)})")
    b, c = b.loc[common], c.loc[common]
    if any(m in NOISY_METRICS for m in chosen):
        result.notes += _context_notes(b, c)
    side_b, side_c = _Side(b, chosen, baseline_path), _Side(c, chosen, candidate_path)
    for k in common:
        label, key = label_of[k], {col: b.at[k, col] for col in keys}
        sb, sc = side_b.status[k] or "ok", side_c.status[k] or "ok"
        if sb != sc:
            verdict = "regression" if sb == "ok" else "improved" if sc == "ok" else "changed"
            result.findings.append(Finding(label, key, "status", sb, sc, verdict, note=f"status {sb} -> {sc}"))
        for m in chosen:
            if m not in EXACT_COLUMNS and not (sb == sc == "ok"):
                continue  # a failed point has no timings worth comparing
            vb, vc = side_b.values[m][k], side_c.values[m][k]
            if math.isnan(vb) and math.isnan(vc):
                continue
            if math.isnan(vb) or math.isnan(vc):
                verdict = "regression" if strict and math.isnan(vc) else "changed"
                result.findings.append(Finding(label, key, m, _opt(vb), _opt(vc), verdict,
                                               note="value in one file only"))
            elif m in EXACT_COLUMNS:
                result.findings.append(_exact_finding(m, vb, vc, label, key, strict))
            else:
                result.findings.append(_noisy_finding(m, vb, vc, side_b.sigma[k], side_c.sigma[k], side_b.median[k],
                                                      side_c.median[k], limits[m], spread_k, label, key))
    return result


class _Side:
    """One file's joined rows as numbers: each metric, the latency σ and median (NaN when absent), status."""

    def __init__(self, df: pd.DataFrame, metrics: tuple[str, ...], path: str):
        self.values = {m: _numbers(df, m, path) for m in metrics}
        self.sigma = _spread(df, path)
        self.median = (_numbers(df, "latency_ms_median", path) if "latency_ms_median" in df.columns
                       else pd.Series(np.nan, index=df.index))
        self.status = df["status"].str.strip() if "status" in df.columns else pd.Series("ok", index=df.index)


CONTEXT_CHECKED = ("device_name", "threads")


def _context_notes(b: pd.DataFrame, c: pd.DataFrame) -> list[str]:
    """Warnings where joined rows ran on another device or thread count (timings may not be comparable)."""
    notes = []
    for col in CONTEXT_CHECKED:
        if col not in b.columns or col not in c.columns:
            continue
        vb, vc = b[col].map(canonical), c[col].map(canonical)
        differ = (vb != vc) & (vb != "") & (vc != "")
        if differ.any():
            first = differ.idxmax()
            notes.append(f"{col} differs on {int(differ.sum())} row(s) (e.g. baseline {b.at[first, col]!r}, "
                         f"candidate {c.at[first, col]!r}): timings may not be comparable")
    return notes


def _opt(value: float) -> float | None:
    return None if math.isnan(value) else value


def compare_files(baseline: str | Path, candidate: str | Path, **options) -> Comparison:
    """Load two result files and compare them (options as for `compare`)."""
    return compare(load_rows(baseline), load_rows(candidate), baseline_path=str(baseline),
                   candidate_path=str(candidate), **options)
