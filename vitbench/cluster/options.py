"""`sweep --executor` options: ClusterOptions (checked flags, time limit, GPUs per job), the submitit import,
what device `auto` means where jobs run, and the `--devices` workers inside each job. No torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from vitbench import devices
from vitbench.errors import VitbenchError

EXECUTORS = ("local", "slurm")
INSTALL = "pip install 'vitbench[cluster]'"


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
