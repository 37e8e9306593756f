"""Merging a sweep's job files into OUT.csv (results_io.merge_files, raw samples included) with one sidecar:
the suite settings, the executor, and every job (state, host, GPUs, rows, queue and wall seconds, workers);
and the `vitbench merge` command that does the same by hand. No torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from vitbench import samples, storage
from vitbench.cluster.jobfiles import done_keys, repair, result_files
from vitbench.cluster.state import JobEntry
from vitbench.cluster.submit import Submission
from vitbench.cluster.tracker import Tracker
from vitbench.environment import environment, now_iso


@dataclass(frozen=True)
class Merged:
    """The merged output: rows, the jobs as the sidecar lists them, points still missing, failed jobs."""

    path: Path
    rows: int
    jobs: tuple[dict, ...]
    missing: int
    failures: tuple[str, ...]


def merge_command(folder: Path, output: Path, entries: Sequence[JobEntry]) -> str:
    return " ".join(["vitbench", "merge", *(str(folder / e.file) for e in entries), "-o", str(output), "--force"])


def _job_record(entry: JobEntry, tracker: Tracker, folder: Path) -> dict:
    """One job for the merged sidecar: from state.json, submitit (state, result) and the job file's sidecar."""
    state, error, value = tracker.outcome(entry)
    meta = storage.read_metadata(folder / entry.file) or {}
    job = meta.get("settings", {}).get("job", {})
    run = (meta.get("runs") or [{}])[-1]
    record = {"round": entry.round, "job": f"{entry.k}/{entry.n}", "job_id": entry.job_id, "state": state,
              "error": error, "file": entry.file, "points": entry.points, "submitted": entry.submitted,
              "started": job.get("started"), "ended": run.get("end"), "host": job.get("host"),
              "cuda_visible_devices": job.get("cuda_visible_devices"),
              "device_name": meta.get("environment", {}).get("gpu") or meta.get("environment", {}).get("cpu"),
              "threads": job.get("threads"), "rows": run.get("rows_written"),
              "statuses": run.get("statuses"), "load_average": run.get("load_average")}
    record["queue_s"] = job.get("queue_s") if job.get("queue_s") is not None else \
        _seconds(entry.submitted, job.get("started"))
    record["wall_s"] = (value or {}).get("wall_s") or _seconds(job.get("started"), run.get("end"))
    if run.get("workers"):
        record["workers"] = run["workers"]
    return record


def _seconds(start: Optional[str], end: Optional[str]) -> Optional[float]:
    import datetime as dt

    try:
        return round((dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds(), 3)
    except (TypeError, ValueError):
        return None


def merge(sub: Submission, plan, output: Path) -> Merged:
    """Merge every job file of the folder into `output` (replacing an earlier merge), raw samples included,
    with one sidecar: the suite settings, the executor, and every job."""
    from vitbench.results_io import merge_files
    from vitbench.runner import pending

    files = result_files(sub.folder)
    for path in files:
        repair(path)
    records = [_job_record(e, sub.tracker, sub.folder) for e in sub.state.jobs]
    failures = tuple(f"{r['job_id']} ({r['job']}, round {r['round']}): {r['error']}" for r in records
                     if r["error"])
    report = merge_files(files, output, force=True) if files else None
    missing = len(pending(plan.selected, done_keys(sub.folder)))
    loads = [r["load_average"] for r in records if isinstance(r.get("load_average"), dict)]
    peak = lambda k: max((x[k] for x in loads if isinstance(x.get(k), (int, float))), default=None)  # noqa: E731
    settings = {**plan.settings, "executor": {"kind": sub.tracker.opts.executor, "jobs": sub.tracker.opts.jobs,
                                              "partition": sub.tracker.opts.partition,
                                              "gpus_per_job": sub.tracker.opts.gpus,
                                              "time_min": sub.tracker.opts.timeout_min,
                                              "setup": list(sub.tracker.opts.setup), "folder": str(sub.folder)}}
    first = min((e.submitted for e in sub.state.jobs), default=now_iso())
    ends = [r["ended"] for r in records if r.get("ended")]
    if report is not None:
        storage.write_metadata(output, storage.metadata(
            "sweep", output, settings=settings, environment=environment(with_torch=False), start=first,
            end=max(ends) if ends else None, status="complete" if not missing else "incomplete",
            jobs=records, samples=str(samples.path_for(output)), load_average={"start": peak("start"),
                                                                               "end": peak("end")},
            points={"in_suite": len(plan.points), "selected": len(plan.selected), "merged": report.rows_out,
                    "missing": missing}))
    return Merged(output, report.rows_out if report else 0, tuple(records), missing, failures)
