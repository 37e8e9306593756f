"""Submitting and waiting: the points of a plan that no job file has yet go out as a new round of up to
`--jobs` jobs (round-robin shards), or, while earlier jobs are still queued or running, nothing is submitted
and those are waited for; `wait` polls until they end and cancels them on Ctrl-C / SIGTERM. No torch."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from vitbench.cluster.executor import check_available, local_gpus, make_executor, submit_all
from vitbench.cluster.job import JobTask
from vitbench.cluster.jobfiles import count_rows, done_keys
from vitbench.cluster.options import ClusterOptions, auto_device, job_workers
from vitbench.cluster.state import JobEntry, State, jobs_dir
from vitbench.cluster.tracker import Tracker
from vitbench.environment import now_iso
from vitbench.errors import VitbenchError, raise_terminated
from vitbench.workers.device_list import cpu_budget

POLL_S = 1.0


def split(indices: Sequence[int], n: int) -> list[tuple[int, ...]]:
    """Round-robin into at most n non-empty parts: with every point of a suite, part k is `--shard k/N`."""
    n = max(1, min(n, len(indices)))
    return [tuple(indices[k::n]) for k in range(n)]


@dataclass
class Submission:
    """What `submit` did: the folder, the state, the jobs submitted now (none when every point already had a
    row, or when earlier jobs are still running), and a tracker for every job of the state."""

    folder: Path
    state: State
    new: list[JobEntry]
    waiting_for: list[JobEntry]
    tracker: Tracker
    total: int
    done_before: int


def submit(plan, output: Path, opts: ClusterOptions, *, device: Optional[str], workers: Optional[Sequence[str]],
           isolate: bool, skip_invalid: bool, max_points: Optional[int]) -> Submission:
    """Submit the points of `plan` that no job file has yet (all of them the first time) as up to `opts.jobs`
    jobs; or, while jobs of an earlier call are queued or running, submit nothing and wait for those."""
    from vitbench.runner import point_row_key

    opts.check()
    check_available(opts)
    folder = jobs_dir(output)
    state = State.load(folder)
    if state is None and output.exists():
        raise VitbenchError(f"{output} already exists and was not written by --executor (no {folder.name}/); "
                            f"choose another -o")
    if state is not None and state.executor != opts.executor:
        raise VitbenchError(f"{folder} holds {state.executor} jobs; re-run with --executor {state.executor} or "
                            f"choose another -o")
    state = state or State(opts.executor, str(Path(plan.suite.path).resolve()), plan.suite.sha256, str(output))
    tracker = Tracker(opts, folder, state.jobs)
    running = tracker.running()
    if running:
        return Submission(folder, state, [], running, tracker, len(plan.selected), 0)
    folder.mkdir(parents=True, exist_ok=True)
    done = done_keys(folder)
    missing = [p.index for p in plan.selected if point_row_key(p) not in done]
    submission = Submission(folder, state, [], [], tracker, len(plan.selected), len(plan.selected) - len(missing))
    if not missing:
        return submission
    state.suite, state.sha256 = str(Path(plan.suite.path).resolve()), plan.suite.sha256  # rows match by key
    parts, rnd, stamp = split(missing, opts.jobs), state.rounds + 1, now_iso()
    threads, gpus = None, None
    if opts.executor == "local":
        threads = max(1, cpu_budget() // len(parts))
        gpus = local_gpus(plan, len(parts), workers)
    worker_names = job_workers(opts, workers)
    tasks = [JobTask(state.suite, state.sha256, part, str(folder / f"r{rnd}_job{k}of{len(parts)}.csv"),
                     f"round {rnd}, job {k} of {len(parts)}", stamp, device,
                     tuple(worker_names) if worker_names else None, auto_device(opts), isolate, skip_invalid,
                     max_points, threads, time.time()) for k, part in enumerate(parts, 1)]
    executor = make_executor(opts, folder, f"vitbench-{plan.name}")
    jobs = submit_all(executor, tasks, gpus)
    for k, (task, job) in enumerate(zip(tasks, jobs), 1):
        entry = JobEntry(rnd, k, len(parts), str(job.job_id), Path(task.output).name, len(task.indices), stamp)
        state.jobs.append(entry)
        submission.new.append(entry)
        tracker.live[entry.job_id] = job
    tracker.entries = state.jobs
    state.save(folder)
    return submission


def wait(sub: Submission, on_tick: Callable[[int, int, int], None], poll_s: float = POLL_S) -> None:
    """Until the jobs waited for end: call on_tick(points done, jobs running, jobs ended) every `poll_s`.
    Ctrl-C / SIGTERM: cancel them (their finished rows stay in their files) and re-raise."""
    entries = sub.new or sub.waiting_for
    files = [sub.folder / e.file for e in entries]
    before = sub.done_before if sub.new else 0
    try:
        with _terminate_as_interrupt():
            while True:
                running = [e for e in entries if sub.tracker.alive(e)]
                on_tick(before + count_rows(files), len(running), len(entries) - len(running))
                if not running:
                    return
                time.sleep(poll_s)
    except KeyboardInterrupt:
        sub.tracker.cancel()
        raise


class _terminate_as_interrupt:
    """SIGTERM raises errors.Terminated (a KeyboardInterrupt) while waiting, as in a plain sweep."""

    def __enter__(self):
        self.saved = signal.signal(signal.SIGTERM, raise_terminated)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGTERM, self.saved)
