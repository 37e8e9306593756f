"""One point (a `ViTConfig` + a `BenchSpec`) -> one result row; device resolution; max-batch search.

`run_point` never raises for what happens to the point itself: out of memory, an unsupported
device/dtype/backend, a runtime error or (with `spec.isolate`) a crashed child become a row with `status`
'oom' | 'unsupported' | 'error' and a one-line `error`. It raises VitbenchError only for bad input.
Method: see vitbench.measure.timer (timing), .memory (memory), .split (per-component time).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable, Sequence

import torch

from vitbench import schema
from vitbench.cost.analytic import cost_row
from vitbench.errors import VitbenchError
from vitbench.measure import backends, external, memory, stats, timer
from vitbench.measure.spec import ATTN_BACKENDS, DTYPES, MEASURES, BenchSpec
from vitbench.zoo import ViTConfig

DEFAULT_MEASURES = ("params", "flops", "latency", "memory")
MAX_BATCH_LIMIT = 65536


@dataclasses.dataclass(frozen=True)
class Wants:
    """Which runtime measurements a point asks for."""

    latency: bool
    memory: bool
    split: bool

    @property
    def runtime(self) -> bool:
        return self.latency or self.memory or self.split


def wants(spec: BenchSpec, measures: Sequence[str]) -> Wants:
    return Wants("latency" in measures, "memory" in measures and spec.memory, "split" in measures or spec.split)


def resolve_device(name: str) -> str:
    """'auto' -> 'cuda' if available else 'cpu'; 'cpu'; 'cuda' / 'cuda:i' checked against this machine."""
    text = str(name).strip().lower()
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return "cpu"
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if not match:
        raise VitbenchError(f"unknown device {name!r}; valid: auto, cpu, cuda, cuda:N")
    if not torch.cuda.is_available():
        why = "torch is built without CUDA" if torch.version.cuda is None else "no GPU is visible"
        raise VitbenchError(f"device {name!r} needs CUDA, which is not available ({why}); valid here: auto, cpu")
    count = torch.cuda.device_count()
    if match.group(1) is not None and int(match.group(1)) >= count:
        raise VitbenchError(f"device {name!r} does not exist; valid: cuda:0 .. cuda:{count - 1}")
    return text


def device_name(device: str) -> str:
    """The GPU's name (CUDA) or the CPU model."""
    if timer.is_cuda(device):
        return torch.cuda.get_device_name(device)
    from vitbench.environment import cpu_name

    return cpu_name()


def validate(spec: BenchSpec, measures: Sequence[str]) -> None:
    """Raise VitbenchError for a spec or measure list that cannot describe a point."""
    unknown = [m for m in measures if m not in MEASURES]
    if unknown or not measures:
        raise VitbenchError(f"unknown measure(s) {', '.join(unknown) or '(none)'}; valid: {', '.join(MEASURES)}")
    if spec.dtype not in DTYPES:
        raise VitbenchError(f"unknown dtype {spec.dtype!r}; valid: {', '.join(DTYPES)}")
    if spec.attn not in ATTN_BACKENDS:
        raise VitbenchError(f"unknown attention backend {spec.attn!r}; valid: {', '.join(ATTN_BACKENDS)}")
    for key, low in (("batch", 1), ("iters", 1), ("warmup", 0)):
        value = getattr(spec, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise VitbenchError(f"{key} must be an integer >= {low}, got {value!r}")
    for key in ("min_warmup_s", "min_time_s"):
        if getattr(spec, key) < 0:
            raise VitbenchError(f"{key} must be >= 0 seconds, got {getattr(spec, key)!r}")


def base_fields(cfg: ViTConfig, spec: BenchSpec, device: str, measures: Sequence[str]) -> dict:
    """Config, runtime key, context and (when asked) closed-form cost columns of a row."""
    fields = {
        **cfg.to_row(), "batch": spec.batch, "device": device, "dtype": spec.dtype,
        "attn": spec.attn, "compile": spec.compile, "mode": spec.mode, "device_name": device_name(device),
        "threads": torch.get_num_threads(),
    }
    if "params" in measures or "flops" in measures:
        fields.update(cost_row(cfg))
    return fields


def run_point(cfg: ViTConfig, spec: BenchSpec, measures: Sequence[str] = DEFAULT_MEASURES) -> dict:
    """Measure one point and return one full row (`schema.make_row`). See the module docstring.

    Only params/flops asked: closed form, no weights allocated. CPU memory (peak RSS) and `spec.isolate`
    run the point in a child process (vitbench.measure.isolate)."""
    device = resolve_device(spec.device)
    validate(spec, measures)
    want = wants(spec, measures)
    if not want.runtime:
        return schema.make_row(**base_fields(cfg, spec, device, measures), status="ok")
    if spec.isolate or (device == "cpu" and want.memory):
        from vitbench.measure.isolate import run_isolated

        return run_isolated(cfg, spec, measures, device)
    return measure_row(cfg, spec, measures, device)


def measure_row(cfg: ViTConfig, spec: BenchSpec, measures: Sequence[str], device: str) -> dict:
    """Measure in this process; failures of the point become the row's status and error."""
    row = base_fields(cfg, spec, device, measures)
    try:
        row.update(_measure(cfg, spec, device, wants(spec, measures)))
        row["status"] = "ok"
    except VitbenchError:
        raise
    except Exception as e:  # noqa: BLE001 - OOM, unsupported kernels, compile and runtime errors -> a row
        row["status"], row["error"] = backends.describe_error(e)
    finally:
        memory.release(device)
    return schema.make_row(**row)


def _build(cfg: ViTConfig, spec: BenchSpec, device: str):
    dtype = backends.weight_dtype(spec.dtype)
    if external.is_external(cfg.name):
        return external.build(cfg, device, dtype, spec.attn)
    from vitbench.model import build_model

    return build_model(cfg, device, attn_impl=backends.attn_impl(spec.attn),
                       dtype=None if dtype == torch.float32 else dtype)


def _measure(cfg: ViTConfig, spec: BenchSpec, device: str, want: Wants) -> dict:
    """The measured columns of one point (raises on any failure; the caller makes it a status)."""
    from vitbench.model import example_input

    backends.check_supported(spec.dtype, device)
    if want.split and external.is_external(cfg.name):
        raise backends.Unsupported("--split hooks need vitbench's own model (blocks[i].attn.core)")
    cuda = timer.is_cuda(device)
    torch.manual_seed(0)
    cols: dict = {"mem_base_mib": memory.cuda_allocated_mb(device)} if cuda and want.memory else {}
    model = _build(cfg, spec, device)
    if want.memory:
        cols["mem_weights_mib"] = (memory.cuda_allocated_mb(device) - cols["mem_base_mib"] if cuda
                                  else memory.tensor_bytes(model) / memory.MIB)
    x = example_input(cfg, spec.batch, device, backends.weight_dtype(spec.dtype))
    with backends.precision(spec.dtype), backends.forward_context(spec.dtype, spec.attn, device):
        eager = lambda: model(x)  # noqa: E731
        backends.probe(eager, spec.attn, spec.dtype)
        call = eager
        if spec.compile:
            compiled = torch.compile(model)
            call = lambda: compiled(x)  # noqa: E731
            call()  # compile warm-up: apart from (and before) the warm-up iterations below
        timer.warm_up(call, device, spec.warmup, spec.min_warmup_s)
        if cuda and want.memory:
            memory.cuda_reset_peak(device)
        if want.latency:
            cols.update(_latency_columns(cfg, spec, device, timer.samples(call, device, spec.iters,
                                                                          spec.min_time_s)))
        elif want.memory:
            call()
        if cuda and want.memory:
            cols["mem_peak_mib"] = memory.cuda_peak_mb(device)
        if want.split:
            from vitbench.measure.split import measure_split

            cols.update(measure_split(model, eager, device, spec.iters))
    return cols


def _latency_columns(cfg: ViTConfig, spec: BenchSpec, device: str, samples_ms: list[float]) -> dict:
    """Time columns, throughput, achieved TFLOP/s and (CUDA, known GPU) MFU from raw samples."""
    from vitbench.cost.analytic import macs
    from vitbench.measure.peak import known_peak_tflops

    summary = stats.summarize(samples_ms)
    achieved = stats.tflops_achieved(macs(cfg).total, spec.batch, summary.median)
    peak = known_peak_tflops(device_name(device), spec.dtype) if timer.is_cuda(device) else None
    return {
        **summary.latency_columns(), "throughput_ips": stats.throughput_ips(spec.batch, summary.median),
        "tflops_achieved": achieved, "mfu": stats.mfu(achieved, peak),
    }


def largest_fitting(fits: Callable[[int], bool], limit: int = MAX_BATCH_LIMIT) -> int:
    """Largest b in 1..limit with fits(b) (fits assumed monotone): doubling, then bisection. 0 if 1 fails."""
    if limit < 1 or not fits(1):
        return 0
    lo, hi = 1, None  # lo fits; hi is the smallest size known not to fit
    while hi is None and lo < limit:
        b = min(2 * lo, limit)
        if fits(b):
            lo = b
        else:
            hi = b
    while hi is not None and hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def require_cuda_for_max_batch(device: str) -> None:
    """--find-max-batch is CUDA only: on CPU an out-of-memory is the kernel's OOM killer, not an exception."""
    if not timer.is_cuda(device):
        raise VitbenchError("--find-max-batch needs a CUDA device (on CPU running out of memory is not "
                            "recoverable); valid: --device cuda")


def find_max_batch(cfg: ViTConfig, spec: BenchSpec, limit: int = MAX_BATCH_LIMIT) -> tuple[int | None, str | None]:
    """(largest batch whose forward fits in device memory, None) or (None, why the search stopped).

    Each trial is a warm-up-free memory point (run in a child when `spec.isolate`). CUDA only: on CPU an
    out-of-memory is not an exception but the kernel's OOM killer."""
    device = resolve_device(spec.device)
    require_cuda_for_max_batch(device)
    trial = dataclasses.replace(spec, warmup=0, min_warmup_s=0.0, iters=1, min_time_s=0.0, split=False,
                                memory=True)
    stop: list[str] = []

    def fits(batch: int) -> bool:
        row = run_point(cfg, dataclasses.replace(trial, batch=batch), measures=("memory",))
        if row["status"] not in ("ok", "oom"):
            stop.append(f"batch {batch}: {row['status']}: {row['error']}")
            raise _StopSearch
        return row["status"] == "ok"

    try:
        return largest_fitting(fits, limit), None
    except _StopSearch:
        return None, stop[0]


class _StopSearch(Exception):
    pass
