"""Where submitted jobs stand: alive or not, how each ended (its result pickle: value or error line), and
cancelling the running ones. No torch."""

from __future__ import annotations

import os
import pickle
import signal
from pathlib import Path
from typing import Optional, Sequence

from vitbench.cluster.options import ClusterOptions
from vitbench.cluster.state import JobEntry
from vitbench.errors import one_line

ALIVE_SLURM_STATES = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED",
                      "REQUEUE_HOLD", "REQUEUE_FED"}


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
