"""`sweep --executor slurm|local`: a sweep as a submitit job array, waited for and merged into one file. No torch.

submitit (an optional dependency: `pip install 'vitbench[cluster]'`) submits the jobs: `slurm` as one Slurm job
array (sbatch), `local` as subprocesses of this machine with the same job folders, pickles and logs (what the
tests and a user without a cluster run). Each job runs `run_job`: the suite's points it was given (round 1: job k
of N gets the points whose index % N == k-1, i.e. `--shard k/N`), through vitbench.runs.execute into its own
results file (a Session: lock, whole rows, raw samples, sidecar), on one device — or on `--devices` workers (G
GPUs per Slurm job: one worker per GPU).

Files, beside the output `OUT.csv`:

    OUT.jobs/state.json              what was submitted: rounds of jobs (job id, file, points)
    OUT.jobs/r1_job2of4.csv          a job's rows (+ .samples.csv, .meta.json naming the job id, host and GPUs)
    OUT.jobs/logs/<job id>/          submitit's pickles and the job's stdout / stderr

The controller (this process) waits with a progress bar over finished points (counting the jobs' rows as they
are appended), then merges every job file into OUT.csv (results_io.merge_files, raw samples included) with one
sidecar listing every job: id, state, host, GPUs, points, rows, queue and wall seconds, workers. `--no-wait`
returns after submitting and prints the `vitbench merge` command. Re-running the same command finds
OUT.jobs/: while earlier jobs are still queued or running it waits for them; otherwise it submits only the
points no job file has (a new round), then merges everything. Devices named `auto` resolve where the jobs run:
on Slurm to `cuda` when jobs get GPUs, else `cpu`; the controller plans with the same rule, so it knows every
row's key without a GPU on the login node.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import pickle
import platform
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from vitbench import devices, samples, storage
from vitbench.errors import VitbenchError, one_line

EXECUTORS = ("local", "slurm")
INSTALL = "pip install 'vitbench[cluster]'"
POLL_S = 1.0
NO_SLURM = ("--executor slurm: no Slurm on this machine (srun not found); run from a login node, or use "
            "--executor local")
ALIVE_SLURM_STATES = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED",
                      "REQUEUE_HOLD", "REQUEUE_FED"}


def require_submitit():
    """The submitit module, or one line saying how to install it."""
    try:
        import submitit
    except ImportError:
        raise VitbenchError(f"--executor needs submitit, which is not installed: {INSTALL}") from None
    return submitit


@dataclass(frozen=True)
class ClusterOptions:
    """How to submit. `time_min`: each job's time limit (minutes; Slurm --time, the local executor's timeout).
    `gpus_per_job`, `partition`, `setup` (shell lines run before the job, e.g. `module load cuda`): Slurm only."""

    executor: str
    jobs: int = 1
    partition: Optional[str] = None
    gpus_per_job: Optional[int] = None
    time_min: Optional[int] = None
    setup: tuple[str, ...] = ()
    wait: bool = True

    def check(self) -> None:
        if self.executor not in EXECUTORS:
            raise VitbenchError(f"unknown --executor {self.executor!r}; valid: {', '.join(EXECUTORS)}")
        if self.jobs < 1 or (self.time_min is not None and self.time_min < 1) or (self.gpus_per_job or 0) < 0:
            raise VitbenchError("--jobs and --slurm-time must be >= 1, --slurm-gpus-per-job >= 0")
        if self.executor == "slurm" and not self.partition:
            raise VitbenchError("--executor slurm needs --slurm-partition P (sinfo lists the partitions)")
        given = [flag for flag, on in (("--slurm-partition", self.partition), ("--slurm-gpus-per-job",
                                       self.gpus_per_job is not None), ("--slurm-setup", self.setup)) if on]
        if self.executor == "local" and given:
            raise VitbenchError(f"{', '.join(given)} apply to --executor slurm only; the local executor runs on "
                                f"this machine's devices")

    @property
    def timeout_min(self) -> int:
        """The jobs' time limit: as given, else 60 min on Slurm (ask for what you need) and a week locally."""
        return self.time_min or (60 if self.executor == "slurm" else 7 * 24 * 60)

    @property
    def gpus(self) -> int:
        """GPUs per job (Slurm; default 1). The local executor gives none: jobs use this machine's devices."""
        return (1 if self.gpus_per_job is None else self.gpus_per_job) if self.executor == "slurm" else 0


def auto_device(opts: ClusterOptions) -> Optional[str]:
    """What `auto` means where the jobs run: on Slurm `cuda` when jobs get GPUs, else `cpu`; locally, whatever
    this machine has (None: resolve here)."""
    if opts.executor == "slurm":
        return "cuda" if opts.gpus > 0 else "cpu"
    return None


def resolver(auto: Optional[str]) -> Optional[Callable[[str], str]]:
    """None (plan as a plain sweep here: the jobs run on this machine), or, planning for other machines,
    `auto` -> the given device and other names parsed only (the nodes check them)."""
    if auto is None:
        return None
    return lambda name: auto if devices.parse(name) == "auto" else devices.parse(name)


def job_workers(opts: ClusterOptions, given: Optional[Sequence[str]]) -> Optional[list[str]]:
    """The `--devices` workers inside each job: as given, or one per GPU of a multi-GPU Slurm job."""
    if given:
        return list(given)
    return [f"cuda:{i}" for i in range(opts.gpus)] if opts.gpus > 1 else None


def jobs_dir(output: Path) -> Path:
    """OUT.csv -> OUT.jobs/"""
    return output.with_name(output.stem + ".jobs")


def default_output(plan, results_dir: Path) -> Path:
    """Without -o: the newest default-named output of this suite and device whose jobs have not all been merged
    (so re-running the same command continues it), else a new default name."""
    from vitbench import runs

    label = runs.device_label(plan)
    states = sorted((results_dir / plan.name).glob(f"*_{label}.jobs/state.json"), key=lambda p: p.stat().st_mtime)
    for state in reversed(states):
        output = state.parent.with_name(state.parent.name.removesuffix(".jobs") + ".csv")
        if (storage.read_metadata(output) or {}).get("status") != "complete":
            return output
    return runs.default_output(results_dir, plan.name, label, None, runs._stamp())


# ---------------------------------------------------------------------------------------------- inside a job

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

    info = _job_info(task, _now())
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


def _now() -> str:
    from vitbench.environment import now_iso

    return now_iso()


# ---------------------------------------------------------------------------------------------- state

@dataclass
class JobEntry:
    """One submitted job as state.json keeps it."""

    round: int
    k: int
    n: int
    job_id: str
    file: str
    points: int
    submitted: str

    @property
    def label(self) -> str:
        return f"round {self.round}, job {self.k} of {self.n}"


@dataclass
class State:
    """OUT.jobs/state.json: the suite and executor, and every job submitted for OUT.csv."""

    executor: str
    suite: str
    sha256: str
    output: str
    jobs: list[JobEntry] = field(default_factory=list)

    @property
    def rounds(self) -> int:
        return max((j.round for j in self.jobs), default=0)

    def save(self, folder: Path) -> None:
        storage.write_atomic(folder / "state.json", json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Optional["State"]:
        try:
            data = json.loads((folder / "state.json").read_text())
            return cls(**{**data, "jobs": [JobEntry(**j) for j in data["jobs"]]})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise VitbenchError(f"cannot read {folder / 'state.json'}: {one_line(str(e))}; move {folder} away to "
                                f"start over") from None


# ---------------------------------------------------------------------------------------------- controller

def make_executor(opts: ClusterOptions, folder: Path, name: str):
    """A submitit executor for `opts` writing its files to `folder`/logs, one task on one node per job.
    Slurm (SlurmExecutor: sbatch options) --job-name, --partition, --time, --gpus-per-node, the setup lines
    before srun, and --array=0-(N-1)%N. Local (LocalExecutor): the timeout, no GPU unless `_submit_all` gives a
    job its own (without one the local executor hides them: CUDA_VISIBLE_DEVICES='')."""
    submitit = require_submitit()
    if opts.executor == "local":
        executor = submitit.LocalExecutor(folder=folder / "logs")
        executor.update_parameters(timeout_min=opts.timeout_min, nodes=1, tasks_per_node=1, gpus_per_node=0)
        return executor
    try:
        executor = submitit.SlurmExecutor(folder=folder / "logs", max_num_timeout=0)
    except RuntimeError:
        raise VitbenchError(NO_SLURM) from None
    executor.update_parameters(job_name=name, partition=opts.partition, time=opts.timeout_min, nodes=1,
                               ntasks_per_node=1, array_parallelism=opts.jobs,
                               **({"gpus_per_node": opts.gpus} if opts.gpus else {}),
                               **({"setup": list(opts.setup)} if opts.setup else {}))
    return executor


def local_gpus(plan, jobs: int, workers: Optional[Sequence[str]]) -> Optional[list[int]]:
    """The GPU each local job gets (its own: two jobs timing one GPU disturb each other), when the plan measures
    on CUDA; None otherwise. VitbenchError when there are more jobs than GPUs, or --devices names GPUs (every
    job would run workers on the same ones)."""
    if not any(p.plan == "measure" and devices.is_cuda(p.spec.device) for p in plan.selected):
        return None
    if workers:
        raise VitbenchError("--executor local with --devices cuda:...: every job would use the same GPUs; use "
                            "--devices alone on one machine")
    import torch

    count = torch.cuda.device_count()
    if jobs > count:
        raise VitbenchError(f"--executor local --jobs {jobs}: this machine has {count} GPU(s) and each job needs "
                            f"its own; use --jobs {count} or fewer (or --devices)")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [v.strip() for v in visible.split(",")] if visible else [str(i) for i in range(count)]
    if not all(i.isdigit() for i in ids[:jobs]):
        raise VitbenchError("--executor local needs CUDA_VISIBLE_DEVICES as GPU indices (not UUIDs) to give each "
                            "job its GPU")
    return [int(i) for i in ids[:jobs]]


def _submit_all(executor, tasks: Sequence["JobTask"], gpus: Optional[list[int]]) -> list:
    """One Slurm job array (or local jobs), or one local job per GPU with that GPU alone visible."""
    if gpus is None:
        return executor.map_array(run_job, tasks)
    jobs = []
    for task, gpu in zip(tasks, gpus):
        executor.update_parameters(gpus_per_node=1, visible_gpus=(gpu,))
        jobs.append(executor.submit(run_job, task))
    return jobs


def result_files(folder: Path) -> list[Path]:
    """The jobs' results files (not their samples files), in round and job order."""
    def order(p: Path) -> tuple:
        parts = p.stem.removeprefix("r").replace("_job", " ").replace("of", " ").split()
        return tuple(int(x) for x in parts) if all(x.isdigit() for x in parts) else (1 << 30,)

    return sorted((p for p in folder.glob("r*_job*.csv") if p.is_file() and not p.name.endswith(samples.SUFFIX)),
                  key=order)


def _being_written(path: Path) -> bool:
    """True while a Session holds the file's lock (a job is writing it)."""
    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def repair(path: Path) -> int:
    """Cut an incomplete last line (a job killed mid-write) from a results file no job is writing; returns the
    bytes cut."""
    if _being_written(path):
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    os.truncate(path, keep)
    return len(data) - keep


def done_keys(folder: Path) -> set:
    """Config keys of every whole row in the jobs' files (torn last lines cut first)."""
    from vitbench.session import read_keys

    keys: set = set()
    for path in result_files(folder):
        repair(path)
        keys |= read_keys(path)
    return keys


def count_rows(paths: Sequence[Path]) -> int:
    """Whole rows in these files now (newlines minus headers): the progress of running jobs."""
    total = 0
    for path in paths:
        try:
            total += max(0, path.read_bytes().count(b"\n") - 1)
        except OSError:
            pass
    return total


def split(indices: Sequence[int], n: int) -> list[tuple[int, ...]]:
    """Round-robin into at most n non-empty parts: with every point of a suite, part k is `--shard k/N`."""
    n = max(1, min(n, len(indices)))
    return [tuple(indices[k::n]) for k in range(n)]


def merge_command(folder: Path, output: Path, entries: Sequence[JobEntry]) -> str:
    return " ".join(["vitbench", "merge", *(str(folder / e.file) for e in entries), "-o", str(output), "--force"])


class Tracker:
    """The state of submitted jobs: live submitit Job objects where this process submitted them, else looked up
    from the entry (Slurm: sacct through submitit; local: the job's controller pid)."""

    def __init__(self, opts: ClusterOptions, folder: Path, entries: Sequence[JobEntry], live: Optional[dict] = None):
        self.opts, self.folder, self.entries, self.live = opts, folder, list(entries), dict(live or {})

    def _paths(self, entry: JobEntry):
        from submitit.core.utils import JobPaths

        return JobPaths(self.folder / "logs", entry.job_id)

    def outcome(self, entry: JobEntry) -> tuple[str, Optional[str], Optional[dict]]:
        """(state, one line saying why it failed or None, the job's return value or None)."""
        pickle_path = self._paths(entry).result_pickle
        if pickle_path.exists():
            with pickle_path.open("rb") as f:
                kind, value = pickle.load(f)
            if kind == "success":
                return "COMPLETED", None, value
            last = next((ln.strip() for ln in reversed(str(value).splitlines()) if ln.strip()), "failed")
            return "FAILED", one_line(last), None
        if self.alive(entry):
            return self._state(entry), None, None
        return self._state(entry), f"ended without a result ({self._state(entry)}); see {self._log(entry)}", None

    def _log(self, entry: JobEntry) -> Path:
        return self._paths(entry).stderr

    def _state(self, entry: JobEntry) -> str:
        job = self.live.get(entry.job_id)
        if job is not None:
            return str(job.state)
        if self.opts.executor == "slurm":
            from submitit.slurm.slurm import SlurmJob

            return str(SlurmJob(self.folder / "logs", entry.job_id).state)
        return "RUNNING" if _local_alive(entry.job_id) else "ENDED"

    def alive(self, entry: JobEntry) -> bool:
        job = self.live.get(entry.job_id)
        if job is not None:
            return not job.done()
        if self._paths(entry).result_pickle.exists():
            return False
        if self.opts.executor == "slurm":
            return self._state(entry).split()[0] in ALIVE_SLURM_STATES
        return _local_alive(entry.job_id)

    def running(self) -> list[JobEntry]:
        return [e for e in self.entries if self.alive(e)]

    def cancel(self) -> None:
        for entry in self.running():
            job = self.live.get(entry.job_id)
            if job is not None:
                job.cancel(check=False)
            elif self.opts.executor == "slurm":
                from submitit.slurm.slurm import SlurmJob

                SlurmJob(self.folder / "logs", entry.job_id).cancel(check=False)
            else:
                with _suppress():
                    os.kill(int(entry.job_id), signal.SIGINT)


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return exc[0] is not None and issubclass(exc[0], (OSError, ValueError))


def _local_alive(pid: str) -> bool:
    """A local job's controller (its job id is the pid) is still running."""
    try:
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"submitit" in cmdline


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
    require_submitit()
    if opts.executor == "slurm" and shutil.which("srun") is None:
        raise VitbenchError(NO_SLURM)
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
    parts, rnd, stamp = split(missing, opts.jobs), state.rounds + 1, _now()
    threads, gpus = None, None
    if opts.executor == "local":
        from vitbench.workers.device_list import cpu_budget

        threads = max(1, cpu_budget() // len(parts))
        gpus = local_gpus(plan, len(parts), workers)
    worker_names = job_workers(opts, workers)
    tasks = [JobTask(state.suite, state.sha256, part, str(folder / f"r{rnd}_job{k}of{len(parts)}.csv"),
                     f"round {rnd}, job {k} of {len(parts)}", stamp, device,
                     tuple(worker_names) if worker_names else None, auto_device(opts), isolate, skip_invalid,
                     max_points, threads, time.time()) for k, part in enumerate(parts, 1)]
    executor = make_executor(opts, folder, f"vitbench-{plan.name}")
    jobs = _submit_all(executor, tasks, gpus)
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
    """SIGTERM raises session.Terminated (a KeyboardInterrupt) while waiting, as in a plain sweep."""

    def __enter__(self):
        from vitbench.session import Terminated

        def handler(signum, frame):
            raise Terminated()

        self.saved = signal.signal(signal.SIGTERM, handler)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGTERM, self.saved)


# ---------------------------------------------------------------------------------------------- merging

@dataclass(frozen=True)
class Merged:
    """The merged output: rows, the jobs as the sidecar lists them, points still missing, failed jobs."""

    path: Path
    rows: int
    jobs: tuple[dict, ...]
    missing: int
    failures: tuple[str, ...]


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
    from vitbench.environment import environment
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
    first = min((e.submitted for e in sub.state.jobs), default=_now())
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
