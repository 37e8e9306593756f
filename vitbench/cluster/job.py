"""Inside a submitted job: JobTask (what one job runs; pickled by submitit) and run_job, its body: plan the
suite as the controller did, run the given points into the job's own results file, return what it did.
No torch at import (a CPU job sets torch's thread count)."""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from vitbench.cluster.options import resolver
from vitbench.environment import now_iso
from vitbench.errors import VitbenchError


@dataclass(frozen=True)
class JobTask:
    """What one job runs (pickled by submitit): the points `indices` of `suite` (checked by sha256) into
    `output`, planned as the controller planned them."""

    suite: str
    sha256: str
    indices: tuple[int, ...]
    output: str
    label: str
    submitted: str
    device: Optional[str] = None
    workers: Optional[tuple[str, ...]] = None
    auto_device: Optional[str] = None
    isolate: bool = False
    skip_invalid: bool = False
    max_points: Optional[int] = None
    threads: Optional[int] = None
    submitted_at: float = 0.0  # time.time() at submission: queue + start-up seconds to the job's first line


def _job_info(task: JobTask, started: str) -> dict:
    info = {"label": task.label, "host": platform.node(), "submitted": task.submitted, "started": started,
            "queue_s": round(time.time() - task.submitted_at, 3) if task.submitted_at else None,
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "threads": task.threads}
    try:
        import submitit

        env = submitit.JobEnvironment()
        info.update(job_id=env.job_id, executor=env.cluster)
    except (ImportError, RuntimeError, KeyError):
        pass
    return info


def run_job(task: JobTask) -> dict:
    """A job's body: plan the suite as the controller did, run the given points into the job's file (resuming
    it when it exists), return what it did. The job's stdout gets one line per finished point."""
    from vitbench import runs
    from vitbench.render import console
    from vitbench.render.sweep import SweepProgress
    from vitbench.workers.pool import Pool

    info = _job_info(task, now_iso())
    t0 = time.monotonic()
    plan = runs.plan_suite(task.suite, device=task.device, isolate=task.isolate, skip_invalid=task.skip_invalid,
                           max_points=task.max_points, workers=task.workers,
                           resolve_device=resolver(task.auto_device))
    if plan.suite.sha256 != task.sha256:
        raise VitbenchError(f"{task.suite} changed after the jobs were submitted (sha256 differs); re-run the "
                            f"sweep command to plan it again")
    chosen = tuple(plan.points[i] for i in task.indices)
    if task.threads and not task.workers and any(p.plan == "measure" and p.spec.device == "cpu" for p in chosen):
        import torch

        torch.set_num_threads(task.threads)
    plan = dataclasses.replace(plan, selected=chosen, settings={**plan.settings, "points_selected": len(chosen),
                                                                "job": info})
    out = Path(task.output)
    pool = Pool(task.workers, threads=task.threads) if task.workers else None
    outcome = runs.execute(plan, out, resume=out.exists() and out.stat().st_size > 0, pool=pool,
                           argv=["(job)", task.label],
                           listener_for=lambda todo, n, skip: SweepProgress(console(), todo, n, skip))
    return {**info, "rows": outcome.result.written, "statuses": outcome.result.statuses,
            "wall_s": round(time.monotonic() - t0, 3)}
