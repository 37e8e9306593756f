"""The `--devices` list: its grammar ('cuda:0,cuda:1' | 'cpu,cpu' | 'all'), the rows' device kind, each
worker's pinning (the environment it starts with), and the cores this process may share among CPU workers.
No torch at import ('all' counts the GPUs with torch)."""

from __future__ import annotations

import os
from typing import Optional, Sequence

from vitbench import devices as devs
from vitbench.errors import VitbenchError


def parse_devices(text: str) -> list[str]:
    """'cuda:0,cuda:1' | 'cpu,cpu' | 'all' (every visible GPU) -> the workers' devices. One kind per run (the
    kind is the rows' `device`); a GPU appears once (two workers timing one GPU would disturb each other)."""
    if str(text).strip().lower() == "all":
        return visible_gpus()
    names = [devs.parse(part) for part in str(text).split(",") if part.strip()]
    if not names:
        raise VitbenchError("--devices needs a comma-separated list (cuda:0,cuda:1 / cpu,cpu) or 'all'")
    if "auto" in names:
        raise VitbenchError("--devices lists concrete devices (cpu, cuda:N) or 'all', not auto")
    kinds = {devs.kind(n) for n in names}
    if len(kinds) > 1:
        raise VitbenchError(f"--devices {text}: mixes cpu and cuda workers; a row's device would depend on which "
                            f"worker took it; run the two kinds as two sweeps")
    names = [("cuda:0" if n == "cuda" else n) for n in names]
    repeated = sorted({n for n in names if devs.is_cuda(n) and names.count(n) > 1})
    if repeated:
        raise VitbenchError(f"--devices {text}: {', '.join(repeated)} listed twice; one worker per GPU")
    return names


def visible_gpus() -> list[str]:
    """cuda:0 .. cuda:N-1 for the GPUs this process sees (imports torch); VitbenchError when there are none."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise VitbenchError("--devices all: no CUDA device is visible here; list CPU workers instead "
                            "(e.g. --devices cpu,cpu)")
    return [f"cuda:{i}" for i in range(count)]


def check_devices(names: Sequence[str]) -> None:
    """Refuse a GPU this machine does not have (one line), before any worker starts."""
    for name in names:
        if devs.is_cuda(name):
            devs.resolve(name)


def pool_kind(names: Sequence[str]) -> str:
    """The rows' device for these workers: 'cuda' (each worker's own GPU) or 'cpu'."""
    return devs.kind(names[0])


def cpu_budget() -> int:
    """Cores this process may run on (its affinity mask: a Slurm allocation or taskset), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def worker_env(device: str, threads: Optional[int], base: Optional[dict] = None) -> dict:
    """The environment of a worker on `device`: its GPU alone visible (mapped through any CUDA_VISIBLE_DEVICES
    this process has), or its torch thread count for the OpenMP/MKL pools."""
    env = dict(os.environ if base is None else base)
    if devs.is_cuda(device):
        index = int(device.partition(":")[2] or 0)
        visible = [v.strip() for v in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
        env["CUDA_VISIBLE_DEVICES"] = visible[index] if "CUDA_VISIBLE_DEVICES" in env and index < len(visible) \
            else str(index)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env
