"""What a results file's `.meta.json` sidecar says about how loaded its machine was. No torch.

Reads `environment.torch_threads`, `environment.cpu_count` and `load_average: {"start": x, "end": y}` (the
1-minute load average when the run started and ended). A missing or unreadable sidecar, or a field that is
absent or not a finite number >= 0, reads as None: the sidecar informs the gate's verdict, it never blocks a cost
comparison.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from vitbench.storage import sidecar_path


@dataclass(frozen=True)
class RunLoad:
    """One run's thread count, CPU count and 1-minute load average at its start and end (None: unknown)."""

    torch_threads: int | None = None
    cpu_count: int | None = None
    load_start: float | None = None
    load_end: float | None = None

    @property
    def peak_load(self) -> float | None:
        """The higher of the two load readings (None when neither was recorded)."""
        known = [v for v in (self.load_start, self.load_end) if v is not None]
        return max(known) if known else None

    @property
    def overloaded(self) -> bool:
        """More runnable processes than CPUs at the start or end of the run (the run shared its cores)."""
        return self.peak_load is not None and bool(self.cpu_count) and self.peak_load > self.cpu_count

    def describe(self) -> str:
        """e.g. 'load 4.52 on 2 CPUs'."""
        load = "unknown" if self.peak_load is None else f"{self.peak_load:.2f}"
        cpus = "?" if self.cpu_count is None else self.cpu_count
        return f"load {load} on {cpus} CPUs"


def _number(value, whole: bool = False) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0 or (whole and not float(value).is_integer()):
        return None
    return int(value) if whole else float(value)


def read_run_load(results: str | Path) -> RunLoad | None:
    """The load facts of the run that wrote `results` (from its sidecar), or None when it has no readable one."""
    try:
        meta = json.loads(sidecar_path(results).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    env = meta.get("environment") if isinstance(meta.get("environment"), dict) else {}
    load = meta.get("load_average") if isinstance(meta.get("load_average"), dict) else {}
    return RunLoad(_number(env.get("torch_threads"), whole=True), _number(env.get("cpu_count"), whole=True),
                   _number(load.get("start")), _number(load.get("end")))
