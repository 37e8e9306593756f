"""What a measurement ran on: versions, device, CPU, threads, git sha. Written beside every result file."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path

from vitbench import __version__


def git_sha() -> str | None:
    """The checkout's commit (with '+dirty' when it has uncommitted changes), or None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def environment(with_torch: bool = True) -> dict:
    """A flat dict describing this machine and software (torch fields only when `with_torch`)."""
    env = {
        "vitbench_version": __version__,
        "git_sha": git_sha(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
    }
    if with_torch:
        import torch

        env.update({
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.version.cuda,
            "cuda_available": torch.cuda.is_available(),
        })
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            env.update({
                "gpu": props.name,
                "gpu_count": torch.cuda.device_count(),
                "gpu_memory_mb": props.total_memory // 2**20,
                "cudnn": torch.backends.cudnn.version(),
                "driver": _nvidia_driver(),
            })
    return env


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None
