"""Baseline vs candidate result files: the regression gate. No torch.

Rows are matched on their identity (vitbench.identity: model, resolution, runtime key, and the architecture
fields that tell one file's rows apart). Then, per matched row:

- Configuration change (an architecture field differs under the same identity, e.g. `depth 12 → 13`): a
  regression naming the fields; with ``accept_config_change`` it is "changed", and so is every other
  difference of that row (they follow from the new configuration).
- Exact metrics, timing and memory: the rules of vitbench.verdicts (an exact increase is a regression; a timing
  regresses when slower beyond ``max_slowdown`` or its entry in ``thresholds``, judged on a bootstrap interval
  of raw samples or on the runs' spreads; memory on the threshold alone).
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
rows or metrics in common, duplicate points, a metric the baseline has and the candidate lacks, and the value
and sample checks of vitbench.compare_input.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from vitbench import identity as ident
from vitbench import samples as samples_io
from vitbench.compare_input import Side, is_missing, load_rows, load_samples
from vitbench.errors import VitbenchError
from vitbench.cells import canonical
from vitbench.runmeta import RunLoad, read_run_load
from vitbench.schema import EXACT_COLUMNS
from vitbench.twosample import ratio_interval
from vitbench.verdicts import (METRICS, MIN_SAMPLES, NOISY_METRICS, TIMING_METRICS, Comparison, Finding,
                               exact_finding, noisy_finding)

SPREAD_K = 1.0
DEFAULT_THRESHOLD = 0.10
NOISY_SPREAD = 0.25  # a row whose IQR exceeds this fraction of its median is noisy
NOISY_POLICIES = ("judge", "inconclusive")
ENV_COLUMNS = ("device", "device_name", "threads")


def _choose_metrics(base, cand, metrics, base_path: str, cand_path: str) -> tuple[str, ...]:
    """The metrics to compare: those asked for (each must be in both files), else every metric both carry."""
    if metrics is not None:
        for df, path in ((base, base_path), (cand, cand_path)):
            for m in metrics:
                if not ident.filled(df, m):
                    raise VitbenchError(f"{path} has no values for metric {m}")
        return tuple(metrics)
    # a candidate whose rows all failed has no values: its statuses are the regression, not a schema mismatch
    failed = "status" in cand.columns and not (cand["status"].map(canonical) == "ok").any()
    lost = [m for m in METRICS if ident.filled(base, m) and not ident.filled(cand, m)]
    if lost and not failed:
        raise VitbenchError(f"schema mismatch: {base_path} has {', '.join(lost)} but {cand_path} has no values "
                            f"for them; compare runs that measured the same things, or choose --metrics")
    chosen = tuple(m for m in METRICS if ident.filled(base, m) and (failed or ident.filled(cand, m)))
    if not chosen:
        raise VitbenchError(f"{base_path} and {cand_path} have no metric in common (valid: {', '.join(METRICS)})")
    return chosen


# ------------------------------------------------------------------------------------------------ environment

def _env_value(side: Side, column: str, idx) -> str:
    value = canonical(side.df.at[idx, column]) if column in side.df.columns else ""
    if column == "threads" and value == "" and side.load is not None and side.load.torch_threads is not None:
        value = str(side.load.torch_threads)
    return value


def _env_differences(b: Side, c: Side, rows: list, label_of: dict) -> list[str]:
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


def _environment_notes(b: Side, c: Side, rows: list, label_of: dict, allow: bool) -> list[str]:
    """A note per environment difference on the matched ok `rows` when `allow` (--allow-env-change), else
    VitbenchError for the first."""
    differences = _env_differences(b, c, rows, label_of)
    if differences and not allow:
        raise VitbenchError(
            f"timings are not comparable: {differences[0]}; measure both on one machine with the same "
            f"threads (e.g. OMP_NUM_THREADS=1), compare cost only (--metrics), or pass --allow-env-change")
    return [f"{d} (--allow-env-change): timings may not be comparable" for d in differences]


def _noisy_reason(b: Side, c: Side, idx, bound: float) -> str:
    """Why a matched row's timing is noisy ('' when it is not)."""
    reasons = [f"{name} run: {side.load.describe()}" for name, side in (("baseline", b), ("candidate", c))
               if side.load is not None and side.load.overloaded]
    reasons += [f"{name} IQR {side.rel_iqr(idx):.0%} of the median" for name, side in (("baseline", b),
                                                                                       ("candidate", c))
                if side.rel_iqr(idx) > bound]
    return "; ".join(reasons)


def _noisy_note(noisy_rows: dict, label_of: dict, policy: str) -> str:
    """The note on noisy rows ({row: why}): how many, the first, and what the `policy` (--noisy) does."""
    first = next(iter(noisy_rows))
    return (f"noisy timings on {len(noisy_rows)} row(s), e.g. {label_of[first]}: {noisy_rows[first]}"
            + ("; judged as inconclusive (--noisy inconclusive)" if policy == "inconclusive"
               else "; verdicts stand (pass --noisy inconclusive to withhold them)"))


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
    side_b = Side(b, chosen, baseline_path, base_samples, base_samples_name, base_load, label_of)
    side_c = Side(c, chosen, candidate_path, cand_samples, cand_samples_name, cand_load, label_of)
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
        result.notes += _environment_notes(side_b, side_c, timed, label_of, allow_env_change)
    noisy_rows = {k: r for k in timed if (r := _noisy_reason(side_b, side_c, k, noisy_spread))}
    if noisy_rows and any(m in TIMING_METRICS for m in chosen):
        result.notes.append(_noisy_note(noisy_rows, label_of, noisy))
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


def _row_findings(k, label: str, key: dict, side_b: Side, side_c: Side, chosen: tuple[str, ...],
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
        if is_missing(vb) and is_missing(vc):
            continue
        if is_missing(vb) or is_missing(vc):
            verdict = "regression" if strict and is_missing(vc) else "changed"
            out.append(Finding(label, key, m, None if is_missing(vb) else vb, None if is_missing(vc) else vc,
                               verdict, method="missing-value", note="value in one file only"))
        elif m in EXACT_COLUMNS:
            out.append(exact_finding(m, vb, vc, label, key, strict))
        else:
            out.append(noisy_finding(m, vb, vc, iv, (side_b.rel_sigma(k), side_c.rel_sigma(k)), limits[m],
                                     spread_k, label, key))
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
