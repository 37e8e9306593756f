"""Run Python code in a child process whose writes stop at a file size, as on a full disk or quota (used to show
that a failed write leaves the previous file whole). Linux/POSIX: RLIMIT_FSIZE, with SIGXFSZ ignored so that a
write past the limit fails with EFBIG instead of killing the child."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_with_write_limit(code: str, limit_bytes: int, cwd: Path) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "MPLCONFIGDIR": str(cwd)}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, preexec_fn=limit, capture_output=True,
                          text=True, timeout=120)
