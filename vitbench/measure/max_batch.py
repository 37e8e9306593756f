"""`--find-max-batch`: the largest batch whose forward (a train point's: whole step) fits in device memory (CUDA
only).

Search: doubling from 1 until a batch does not fit (or `limit`), then bisection between the last fit and the
first misfit (`search`, a pure function of a `trial`). Each trial is one point measured by the injected
`run_point(cfg, spec, measures) -> row`: no warm-up, one timed forward, memory measured, no split, never
compiled (compiling every trial batch would cost minutes and measure the compiler's memory, not the model's).
'ok' fits, 'oom' does not; any other status (a CUDA launch-configuration error at batch >= 65536, an allocator
error, a crashed isolated child) stops the search, and the largest batch known to fit is returned with a note.
On CPU running out of memory is the kernel's OOM killer, not an exception, so the search refuses CPU.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

from vitbench.errors import VitbenchError
from vitbench.measure.spec import BenchSpec
from vitbench.zoo import ViTConfig

MAX_BATCH_LIMIT = 65536
RunPoint = Callable[[ViTConfig, BenchSpec, Sequence[str]], dict]


@dataclass(frozen=True)
class MaxBatch:
    """Result of a search. batch: largest batch known to fit (0: batch 1 does not fit; None: nothing is known,
    batch 1 failed with something other than OOM). exact: the search finished (batch + 1 does not fit, or
    batch == limit). note: why it stopped early (None when exact). trials: (batch, status) in order."""

    batch: int | None
    exact: bool
    note: str | None
    trials: tuple[tuple[int, str], ...]


class _Stop(Exception):
    def __init__(self, batch: int, reason: str):
        super().__init__(reason)
        self.batch, self.reason = batch, reason


def search(trial: Callable[[int], str], limit: int = MAX_BATCH_LIMIT) -> MaxBatch:
    """Largest b in 1..limit whose `trial(b)` is 'ok' (fits assumed monotone): doubling, then bisection.

    `trial` returns 'ok', 'oom', or any other text, which stops the search (the reason)."""
    trials: list[tuple[int, str]] = []

    def fits(b: int) -> bool:
        outcome = trial(b)
        trials.append((b, "ok" if outcome == "ok" else "oom" if outcome == "oom" else "stopped"))
        if outcome not in ("ok", "oom"):
            raise _Stop(b, outcome)
        return outcome == "ok"

    lo, hi = 0, None  # lo: largest known fit; hi: smallest known misfit
    try:
        if limit < 1 or not fits(1):
            return MaxBatch(0, True, None, tuple(trials))
        lo = 1
        while hi is None and lo < limit:
            b = min(2 * lo, limit)
            lo, hi = (b, None) if fits(b) else (lo, b)
        while hi is not None and hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    except _Stop as stop:
        if lo == 0:
            return MaxBatch(None, False, f"batch {stop.batch}: {stop.reason}; no batch is known to fit",
                            tuple(trials))
        upper = (hi - 1) if hi is not None else limit
        span = f"{lo}" if upper == lo else f"{lo}..{upper}"
        note = (f"search stopped at batch {stop.batch} ({stop.reason}); {lo} is the largest batch known to fit, "
                f"the maximum lies in {span}")
        return MaxBatch(lo, False, note, tuple(trials))
    return MaxBatch(lo, True, None, tuple(trials))


def largest_fitting(fits: Callable[[int], bool], limit: int = MAX_BATCH_LIMIT) -> int:
    """Largest b in 1..limit with fits(b) (monotone): doubling, then bisection. 0 if 1 fails."""
    result = search(lambda b: "ok" if fits(b) else "oom", limit)
    return int(result.batch or 0)


def trial_spec(spec: BenchSpec, batch: int) -> BenchSpec:
    """The spec of one trial: memory only, no warm-up, one forward, no split, not compiled."""
    return dataclasses.replace(spec, batch=batch, warmup=0, min_warmup_s=0.0, iters=1, min_time_s=0.0,
                               split=False, memory=True, compile=False)


def require_cuda(device: str) -> None:
    """--find-max-batch is CUDA only (device already resolved: 'cuda' or 'cuda:i')."""
    if not str(device).startswith("cuda"):
        raise VitbenchError("--find-max-batch needs a CUDA device (on CPU running out of memory is not "
                            "recoverable); valid: --device cuda")


def find_max_batch(cfg: ViTConfig, spec: BenchSpec, run_point: RunPoint,
                   limit: int = MAX_BATCH_LIMIT) -> MaxBatch:
    """Search the largest batch of `cfg` that fits, each trial a `run_point(cfg, trial_spec, ('memory',))`.

    `spec.device` must be resolved ('cuda' / 'cuda:i'); 'auto' or 'cpu' is bad input."""
    require_cuda(spec.device)

    def trial(batch: int) -> str:
        row = run_point(cfg, trial_spec(spec, batch), ("memory",))
        if row["status"] in ("ok", "oom"):
            return row["status"]
        return f"{row['status']}: {row['error']}"

    return search(trial, limit)
