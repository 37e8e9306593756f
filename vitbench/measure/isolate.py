"""Run one point in a child process: `python -m vitbench.measure.child REQUEST.json RESULT.json`.

The parent writes the config, spec, measures and its torch thread count as JSON; the child measures in-process
(vitbench.measure.child) with the same thread count, adds its own peak RSS on CPU and writes the row and its raw
samples back. A child that dies (segfault, OOM killer, os._exit) or times out becomes a row with status 'error'
and the exit code or signal in `error`, so a sweep goes on.

The child dies with its parent (Linux: PR_SET_PDEATHSIG = SIGKILL), so a killed sweep leaves no orphan measuring
on; when the parent is interrupted (SIGINT, SIGTERM) `subprocess.run` kills the child and the temporary folder
is removed on the way out.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from vitbench.errors import one_line
from vitbench.measure.spec import BenchSpec
from vitbench.zoo import ViTConfig

DEFAULT_TIMEOUT_S = 3600.0
CHILD_MODULE = "vitbench.measure.child"
PR_SET_PDEATHSIG = 1


def request(cfg: ViTConfig, spec: BenchSpec, measures: Sequence[str], threads: int) -> dict:
    return {"cfg": dataclasses.asdict(cfg), "spec": dataclasses.asdict(spec), "measures": list(measures),
            "threads": threads}


def exit_reason(returncode: int, stderr: str, who: str = "child process") -> str:
    """One line: the signal or exit code of a dead child (`who`), and its last stderr line."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (the kernel OOM killer sends SIGKILL)" if name == "SIGKILL" else ""
        text = f"{who} killed by {name} ({-returncode}){hint}"
    else:
        text = f"{who} exited with code {returncode}"
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    return one_line(f"{text}: {last}" if last else text)


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the parent still kills the child when it is interrupted


def child_command(request_path: Path, result_path: Path) -> list[str]:
    return [sys.executable, "-m", CHILD_MODULE, str(request_path), str(result_path)]


Launcher = Callable[[list[str], float], subprocess.CompletedProcess]


def launch(argv: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    """Run the child; it dies with this process."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                          preexec_fn=die_with_parent if sys.platform.startswith("linux") else None)


def run_in_child(req: dict, timeout_s: float = DEFAULT_TIMEOUT_S, launcher: Launcher = launch
                 ) -> tuple[dict | None, str | None]:
    """(the child's result {'row', 'samples'}, None) or (None, one line saying why the child failed).
    `launcher` runs the command (tests inject one that dies)."""
    with tempfile.TemporaryDirectory(prefix="vitbench-point-") as tmp:
        req_path, res_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req_path.write_text(json.dumps(req))
        try:
            proc = launcher(child_command(req_path, res_path), timeout_s)
        except subprocess.TimeoutExpired:
            return None, f"child process timed out after {timeout_s:g} s"
        if proc.returncode == 0 and res_path.exists():
            return json.loads(res_path.read_text()), None
        return None, exit_reason(proc.returncode, proc.stderr or "")
