"""What to measure at one point, besides the model config, and the timing defaults per device. No torch.

The sweep runner and `vitbench bench` both describe a point with a `ViTConfig` plus a `BenchSpec`, and both
fill unset timing settings from `TIMING_DEFAULTS` for the point's device: the same point is measured the same
way whichever command runs it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from vitbench import devices
from vitbench.cost.memory import OPTIMIZERS
from vitbench.dtypes import NAMES as DTYPES
from vitbench.errors import VitbenchError

ATTN_BACKENDS = ("sdpa", "flash", "efficient", "cudnn", "math", "manual")
PINNED_BACKENDS = ("flash", "efficient", "cudnn", "math")
MEASURES = ("params", "flops", "split", "latency", "memory")
RUNTIME_MEASURES = ("latency", "memory")  # the measures that run the model; the rest are closed form
DEFAULT_MEASURES = ("params", "flops", "latency", "memory")
MODES = ("infer", "train")
DEFAULT_OPTIMIZER = "adamw"
DEFAULT_MAX_POINTS = 10_000  # `sweep --max-points`: sweeps that run the model at more points are refused
__all__ = ["ATTN_BACKENDS", "DTYPES", "MEASURES", "MODES", "OPTIMIZERS", "BenchSpec", "TimingSettings",
           "TIMING_DEFAULTS"]


@dataclass(frozen=True)
class TimingSettings:
    """Warm-up: `warmup` iterations *and* at least `min_warmup_s` seconds. TimingSettings: `iters` iterations *and*
    until the samples sum to at least `min_time_s` seconds."""

    warmup: int
    min_warmup_s: float
    iters: int
    min_time_s: float


# CUDA: >= 1 s of warm-up and of timing (clocks and caches settle; ~thousands of iterations for small models).
# CPU: a ViT-B/16 forward takes seconds on a small CPU; fewer iterations, still >= 2 s of timing.
TIMING_DEFAULTS = {"cuda": TimingSettings(10, 1.0, 50, 1.0), "cpu": TimingSettings(2, 0.5, 10, 2.0)}
TIMING_FIELDS = tuple(f.name for f in dataclasses.fields(TimingSettings))


@dataclass(frozen=True)
class BenchSpec:
    """Runtime settings of one measured point.

    device: 'auto' | 'cpu' | 'cuda' | 'cuda:i'. attn: 'sdpa' lets torch choose the kernel; flash / efficient /
    cudnn / math pin it with torch.nn.attention.sdpa_kernel; 'manual' materialises the N×N matrix.
    warmup / min_warmup_s / iters / min_time_s: see `TimingSettings`; None takes the device's `TIMING_DEFAULTS`.
    split: also time the components. memory: measure peak memory. isolate: run the point in a child process.
    mode: 'infer' (forward) or 'train' (forward + loss + backward + optimizer step).
    optimizer ('adamw' | 'sgd') and grad_checkpoint (per-block activation checkpointing) describe a training
    step: a train spec's optimizer defaults to 'adamw'; an infer spec has none (None, False) whatever is passed,
    so an inference point has one runtime key (a grid that varies them over infer points yields equal points).
    """

    batch: int = 1
    device: str = "auto"
    dtype: str = "fp32"
    attn: str = "sdpa"
    compile: bool = False
    warmup: int | None = None
    min_warmup_s: float | None = None
    iters: int | None = None
    min_time_s: float | None = None
    split: bool = False
    memory: bool = True
    isolate: bool = False
    mode: str = "infer"
    optimizer: str | None = None
    grad_checkpoint: bool = False

    def __post_init__(self) -> None:
        if self.mode == "train":
            if self.optimizer is None:
                object.__setattr__(self, "optimizer", DEFAULT_OPTIMIZER)
        elif self.mode in MODES:
            object.__setattr__(self, "optimizer", None)
            object.__setattr__(self, "grad_checkpoint", False)

    def timing(self) -> TimingSettings:
        """The timing settings of this point: explicit values, else the defaults of its (resolved) device."""
        if self.device == "auto":
            raise ValueError("resolve the device before asking for its timing defaults")
        default = TIMING_DEFAULTS[devices.kind(self.device)]
        return TimingSettings(**{f: getattr(default, f) if getattr(self, f) is None else getattr(self, f)
                         for f in TIMING_FIELDS})

    def resolved(self, device: str) -> "BenchSpec":
        """This spec on a resolved device with every timing setting filled in."""
        spec = dataclasses.replace(self, device=device)
        return dataclasses.replace(spec, **dataclasses.asdict(spec.timing()))


def validate(spec: BenchSpec, measures) -> None:
    """Raise VitbenchError for a spec or measure list that cannot describe a point."""
    unknown = [m for m in measures if m not in MEASURES]
    if unknown or not measures:
        raise VitbenchError(f"unknown measure(s) {', '.join(unknown) or '(none)'}; valid: {', '.join(MEASURES)}")
    for key, valid in (("dtype", DTYPES), ("attn", ATTN_BACKENDS), ("mode", MODES)):
        if getattr(spec, key) not in valid:
            raise VitbenchError(f"unknown {key} {getattr(spec, key)!r}; valid: {', '.join(valid)}")
    if spec.mode == "train" and spec.optimizer not in OPTIMIZERS:
        raise VitbenchError(f"unknown optimizer {spec.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    if not isinstance(spec.grad_checkpoint, bool):
        raise VitbenchError(f"grad_checkpoint must be true or false, got {spec.grad_checkpoint!r}")
    for key, low in (("batch", 1), ("iters", 1), ("warmup", 0)):
        value = getattr(spec, key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise VitbenchError(f"{key} must be an integer >= {low}, got {value!r}")
    for key in ("min_warmup_s", "min_time_s"):
        value = getattr(spec, key)
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise VitbenchError(f"{key} must be a finite number of seconds >= 0, got {value!r}")
