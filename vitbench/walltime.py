"""Where a sweep's time went, from its rows and its sidecar: the measured points' wall seconds by phase, the
workers or jobs that ran them, and the sweep's own wall time. No torch; `vitbench report` renders it.

Per point (row columns, seconds of wall time where the point ran): `setup_s` (build, input, probe forward),
`compile_s`, `warmup_s`, `timing_s`, and `point_s`, the whole point; what `point_s` holds beyond the four is
"other": the profiled iteration that records the attention kernel (the first one in a process starts the
profiler: ~2 s on a CPU), the split, the memory release between points (a gc.collect), and, for isolated points
and CPU memory, the child process's start-up (python + torch). Per worker or job (sidecar): start-up or queue
seconds, points, busy and wall seconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import pandas as pd

PHASES = (("setup_s", "setup: build, input, probe"), ("compile_s", "compile"), ("warmup_s", "warm-up"),
          ("timing_s", "timing"))
OTHER = "other: kernel profile, split, memory release, child start-up"


@dataclass(frozen=True)
class PhaseTotals:
    """Seconds summed over the measured rows that have `point_s`: by phase (PHASES order, then OTHER), and in
    all (`point_s`); `points` such rows, `cost_only` rows without it."""

    seconds: tuple[tuple[str, float], ...]
    total: float
    points: int
    cost_only: int


def phases(df: pd.DataFrame) -> Optional[PhaseTotals]:
    """The phase totals of a results table, or None when no row has `point_s` (older files, cost-only)."""
    if "point_s" not in df or df["point_s"].notna().sum() == 0:
        return None
    timed = df[df["point_s"].notna()]
    parts = [(label, float(timed[c].fillna(0).sum()) if c in timed else 0.0) for c, label in PHASES]
    total = float(timed["point_s"].sum())
    parts.append((OTHER, max(0.0, total - sum(s for _, s in parts))))
    return PhaseTotals(tuple(parts), total, len(timed), int(df["point_s"].isna().sum()))


def _seconds(start, end) -> Optional[float]:
    try:
        return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return None


def wall_s(meta: Optional[dict]) -> Optional[float]:
    """The sweep's wall seconds: its runs' start-to-end summed (a resumed file has several), or, for merged
    jobs, first submission to the last job's end."""
    if not meta:
        return None
    if meta.get("jobs"):
        return _seconds(meta.get("start"), meta.get("end"))
    spans = [_seconds(r.get("start"), r.get("end")) for r in meta.get("runs") or [] if isinstance(r, dict)]
    spans = [s for s in spans if s is not None]
    return sum(spans) if spans else None


@dataclass(frozen=True)
class Runner:
    """One worker or job as the report lists it. `start_s`: a worker's start-up (spawn to ready) or a job's
    queue and start-up (submission to its first line of code)."""

    kind: str
    name: str
    where: str
    points: Optional[int]
    start_s: Optional[float]
    busy_s: Optional[float]
    wall_s: Optional[float]
    ended: str


def runners(meta: Optional[dict]) -> list[Runner]:
    """The jobs of a merged `--executor` sweep, else the workers of every run of a `--devices` sweep."""
    if not meta:
        return []
    if meta.get("jobs"):
        return [Runner("job", str(j.get("job_id")), " ".join(str(x) for x in (j.get("host"), j.get("device_name"))
                                                            if x), j.get("rows"), j.get("queue_s"), None,
                       j.get("wall_s"), str(j.get("state")) + (f": {j['error']}" if j.get("error") else ""))
                for j in meta["jobs"]]
    out = []
    for run in meta.get("runs") or []:
        for w in (run.get("workers") or []) if isinstance(run, dict) else []:
            out.append(Runner("worker", f"{w.get('device')} pid {w.get('pid')}", str(w.get("host") or ""),
                              w.get("points"), w.get("startup_s"), w.get("busy_s"), w.get("wall_s"),
                              str(w.get("ended"))))
    return out
