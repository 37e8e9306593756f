"""Run one point in a child process: `python -m vitbench.measure.isolate REQUEST.json RESULT.json`.

The parent writes the config, spec, measures, device and its torch thread count as JSON; the child measures
in-process (vitbench.measure.bench.measure_row) with the same thread count, adds its own peak RSS on CPU
(mem_peak_mib; mem_base_mib = its RSS after importing torch, before the model was built) and writes the row back. A child that dies
(segfault, OOM killer, os._exit) or times out becomes a row with status 'error' and the exit code or
signal in `error`, so a sweep goes on.

Test seam: when the environment variable VITBENCH_ISOLATE_DIE is set in the child, it dies before
measuring: 'sigkill' sends itself SIGKILL (what the kernel OOM killer does); 'exit:N' calls os._exit(N).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from vitbench.measure.spec import BenchSpec
from vitbench.zoo import ViTConfig

DIE_ENV = "VITBENCH_ISOLATE_DIE"
DEFAULT_TIMEOUT_S = 3600.0


def request(cfg: ViTConfig, spec: BenchSpec, measures: Sequence[str], device: str, threads: int) -> dict:
    return {"cfg": dataclasses.asdict(cfg), "spec": dataclasses.asdict(spec), "measures": list(measures),
            "device": device, "threads": threads}


def exit_reason(returncode: int, stderr: str) -> str:
    """One line: the signal or exit code of a dead child, and its last stderr line."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (the kernel OOM killer sends SIGKILL)" if name == "SIGKILL" else ""
        text = f"child process killed by {name} ({-returncode}){hint}"
    else:
        text = f"child process exited with code {returncode}"
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    from vitbench.measure.backends import one_line

    return one_line(f"{text}: {last}" if last else text)


def run_isolated(cfg: ViTConfig, spec: BenchSpec, measures: Sequence[str], device: str,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Measure the point in a fresh `python -m vitbench.measure.isolate` process; always returns a row."""
    import torch

    from vitbench import schema
    from vitbench.measure.bench import base_fields

    spec = dataclasses.replace(spec, isolate=False)
    with tempfile.TemporaryDirectory(prefix="vitbench-point-") as tmp:
        req, res = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req.write_text(json.dumps(request(cfg, spec, measures, device, torch.get_num_threads())))
        try:
            proc = subprocess.run([sys.executable, "-m", "vitbench.measure.isolate", str(req), str(res)],
                                  capture_output=True, text=True, timeout=timeout_s)
            if proc.returncode == 0 and res.exists():
                return schema.make_row(**json.loads(res.read_text()))
            error = exit_reason(proc.returncode, proc.stderr)
        except subprocess.TimeoutExpired:
            error = f"child process timed out after {timeout_s:g} s"
    return schema.make_row(**base_fields(cfg, spec, device, measures), status="error", error=error)


def _die_if_asked() -> None:
    how = os.environ.get(DIE_ENV, "")
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how.startswith("exit:"):
        os._exit(int(how.split(":", 1)[1]))


def child_main(request_path: str, result_path: str) -> None:
    """The child's side: measure, add the process's own peak RSS on CPU, write the row as JSON."""
    _die_if_asked()
    import torch

    from vitbench.measure import memory
    from vitbench.measure.bench import measure_row, wants

    base_mb = memory.rss_mb()  # interpreter + torch + vitbench, before the model exists
    req = json.loads(Path(request_path).read_text())
    torch.set_num_threads(req["threads"])
    cfg = ViTConfig(**{**req["cfg"], "img_size": tuple(req["cfg"]["img_size"])})
    spec = BenchSpec(**req["spec"])
    row = measure_row(cfg, spec, req["measures"], req["device"])
    if req["device"] == "cpu" and wants(spec, req["measures"]).memory and row["status"] == "ok":
        row["mem_peak_mib"] = memory.peak_rss_mb()
        row["mem_base_mib"] = base_mb
    Path(result_path).write_text(json.dumps(row))


if __name__ == "__main__":
    child_main(sys.argv[1], sys.argv[2])
