"""submitit executors for `sweep --executor`: Slurm (sbatch options, one job array) or local (subprocesses of
this machine, each with its own GPU when the plan measures on CUDA), and handing them the JobTasks.
No torch at import (giving local jobs their GPUs counts them with torch)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional, Sequence

from vitbench import devices
from vitbench.cluster.job import JobTask, run_job
from vitbench.cluster.options import ClusterOptions, require_submitit
from vitbench.errors import VitbenchError

NO_SLURM = ("--executor slurm: no Slurm on this machine (srun not found); run from a login node, or use "
            "--executor local")


def check_available(opts: ClusterOptions) -> None:
    """VitbenchError (one line) when submitit is not installed, or Slurm is asked for where there is no srun."""
    require_submitit()
    if opts.executor == "slurm" and shutil.which("srun") is None:
        raise VitbenchError(NO_SLURM)


def make_executor(opts: ClusterOptions, folder: Path, name: str):
    """A submitit executor for `opts` writing its files to `folder`/logs, one task on one node per job.
    Slurm (SlurmExecutor: sbatch options) --job-name, --partition, --time, --gpus-per-node, the setup lines
    before srun, and --array=0-(N-1)%N. Local (LocalExecutor): the timeout, no GPU unless `submit_all` gives a
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


def submit_all(executor, tasks: Sequence[JobTask], gpus: Optional[list[int]]) -> list:
    """One Slurm job array (or local jobs), or one local job per GPU with that GPU alone visible."""
    if gpus is None:
        return executor.map_array(run_job, tasks)
    jobs = []
    for task, gpu in zip(tasks, gpus):
        executor.update_parameters(gpus_per_node=1, visible_gpus=(gpu,))
        jobs.append(executor.submit(run_job, task))
    return jobs
