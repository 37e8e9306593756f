"""OUT.jobs/ and its state.json: every job submitted for OUT.csv (round, job k of n, job id, file, points), and
the default output a re-run continues. No torch."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from vitbench import storage
from vitbench.errors import VitbenchError, one_line


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
