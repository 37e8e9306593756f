"""One point (a `ViTConfig` + a `BenchSpec`) -> one `Measured`: a result row and its raw samples.

`run_point` never raises for what happens to the point itself: out of memory, an unsupported
device/dtype/backend, a runtime error or (with `spec.isolate`) a crashed child become a row with `status`
'oom' | 'unsupported' | 'error' and a one-line `error`. It raises VitbenchError only for bad input.

Each kind of measurement has its own tracker, run in this order on one built model: the probe forward
(backends: an unsupported kernel shows up here), compile (a warm-up of its own), warm-up, the latency tracker
(vitbench.measure.timer: raw samples, then their summary), memory (vitbench.measure.memory: CUDA allocator
peak over the timed iterations; CPU peak RSS comes from the isolated child), the split tracker
(vitbench.measure.split, separate hooked iterations). Their columns are composed into the row here, in one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

from vitbench import devices, schema
from vitbench.cost.analytic import cost_row, macs
from vitbench.errors import VitbenchError
from vitbench.measure import isolate
from vitbench.measure.spec import DEFAULT_MEASURES, RUNTIME_MEASURES, BenchSpec, validate
from vitbench.zoo import ViTConfig


@dataclass(frozen=True)
class Measured:
    """A point's result row (vitbench.schema order) and its raw samples by metric (vitbench.samples)."""

    row: dict
    samples: dict[str, tuple[float, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
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


def context_fields(cfg: ViTConfig, spec: BenchSpec, device: str, measures: Sequence[str]) -> dict:
    """Config, runtime key, context and (when asked) closed-form cost columns of a row."""
    import torch

    fields = {**cfg.to_row(), "batch": spec.batch, "device": device, "dtype": spec.dtype, "attn": spec.attn,
              "compile": spec.compile, "mode": spec.mode, "device_name": devices.device_name(device),
              "threads": torch.get_num_threads()}
    if set(measures) & {"params", "flops"}:
        fields.update(cost_row(cfg))
    return fields


def run_point(cfg: ViTConfig, spec: BenchSpec, measures: Sequence[str] = DEFAULT_MEASURES) -> Measured:
    """Measure one point (see the module docstring). Only params/flops asked: closed form, no weights allocated.
    CPU memory (peak RSS) and `spec.isolate` run the point in a child process (vitbench.measure.isolate)."""
    validate(spec, measures)
    spec = spec.resolved(devices.resolve(spec.device))
    if not wants(spec, measures).runtime:
        return Measured(schema.make_row(**context_fields(cfg, spec, spec.device, measures), status="ok"))
    if spec.isolate or (spec.device == "cpu" and wants(spec, measures).memory):
        return run_isolated(cfg, spec, measures)
    return measure_in_process(cfg, spec, measures)


def run_isolated(cfg: ViTConfig, spec: BenchSpec, measures: Sequence[str],
                 launcher: isolate.Launcher = isolate.launch) -> Measured:
    """Measure the point in a fresh child process (vitbench.measure.child); always returns a row: a child that
    dies becomes status 'error' with the signal or exit code."""
    import torch

    spec = dataclasses.replace(spec, isolate=False)
    result, error = isolate.run_in_child(isolate.request(cfg, spec, measures, torch.get_num_threads()),
                                         launcher=launcher)
    if result is not None:
        return Measured(schema.make_row(**result["row"]), {k: tuple(v) for k, v in result["samples"].items()})
    return Measured(schema.make_row(**context_fields(cfg, spec, spec.device, measures), status="error",
                                    error=error))


def measure_in_process(cfg: ViTConfig, spec: BenchSpec, measures: Sequence[str]) -> Measured:
    """Measure in this process (spec resolved); failures of the point become the row's status and error."""
    from vitbench.measure import backends, memory

    row = context_fields(cfg, spec, spec.device, measures)
    samples: dict = {}
    try:
        cols, samples = _measure(cfg, spec, wants(spec, measures))
        row.update(cols)
        row["status"] = "ok"
    except VitbenchError:
        raise
    except Exception as e:  # noqa: BLE001 - OOM, unsupported kernels, compile and runtime errors -> a row
        row["status"], row["error"] = backends.describe_error(e)
    finally:
        memory.release(spec.device)
    return Measured(schema.make_row(**row), samples)


def _build(cfg: ViTConfig, spec: BenchSpec):
    import torch

    from vitbench.measure import backends, external

    dtype = backends.weight_dtype(spec.dtype)
    if external.is_external(cfg.name):
        return external.build(cfg, spec.device, dtype, spec.attn)
    from vitbench.model import build_model

    return build_model(cfg, spec.device, attn_impl=backends.attn_impl(spec.attn),
                       dtype=None if dtype == torch.float32 else dtype)


def _measure(cfg: ViTConfig, spec: BenchSpec, want: Wants) -> tuple[dict, dict]:
    """The measured columns and raw samples of one point (raises on any failure; the caller makes it a status)."""
    import torch

    from vitbench.measure import backends, external, memory, timer
    from vitbench.model import example_input

    device, timing = spec.device, spec.timing()
    backends.check_supported(spec.dtype, device)
    if want.split and external.is_external(cfg.name):
        raise backends.Unsupported("--split hooks need vitbench's own model (blocks[i].attn.core)")
    torch.manual_seed(0)
    mem = memory.Tracker(device) if want.memory else None
    model = _build(cfg, spec)
    cols: dict = mem.after_build(model) if mem else {}
    samples: dict = {}
    x = example_input(cfg, spec.batch, device, backends.weight_dtype(spec.dtype))
    with backends.precision(spec.dtype), backends.forward_context(spec.dtype, spec.attn, device):
        eager = lambda: model(x)  # noqa: E731
        backends.probe(eager, spec.attn, spec.dtype)
        call = eager
        if spec.compile:
            compiled = torch.compile(model)
            call = lambda: compiled(x)  # noqa: E731
            call()  # compile warm-up: apart from (and before) the warm-up iterations below
        warm_iters, warm_s = timer.warm_up(call, device, timing.warmup, timing.min_warmup_s)
        if mem:
            mem.before_timing()
        if want.latency:
            record = timer.LatencyRecord(tuple(timer.samples(call, device, timing.iters, timing.min_time_s)),
                                         warm_iters, warm_s)
            peak = _peak_tflops(device, spec.dtype)
            cols.update(record.columns(spec.batch, macs(cfg).total, peak), peak_tflops=peak)
            samples["latency_ms"] = record.samples_ms
        elif mem:
            call()
        if mem:
            cols.update(mem.after_timing())
        if want.split:
            from vitbench.measure.split import measure_split

            cols.update(measure_split(model, eager, device, timing.iters))
    return cols, samples


def _peak_tflops(device: str, dtype: str) -> float | None:
    """The dense datasheet peak of the device in hand for the dtype, scaled for a MIG slice by its SMs (None on
    CPU, for an unknown GPU or a variant the table cannot vouch for: the sidecar says why)."""
    if not devices.is_cuda(device):
        return None
    from vitbench.measure.peak import device_peak

    found = device_peak(device)
    return found.peak.peak_tflops(dtype) if found.peak else None


# ---------------------------------------------------------------------------------------- max batch (CUDA)

MAX_BATCH_LIMIT = 65536


def largest_fitting(fits, limit: int = MAX_BATCH_LIMIT) -> int:
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
    if not devices.is_cuda(device):
        raise VitbenchError("--find-max-batch needs a CUDA device (on CPU running out of memory is not "
                            "recoverable); valid: --device cuda")


class _StopSearch(Exception):
    pass


def find_max_batch(cfg: ViTConfig, spec: BenchSpec, limit: int = MAX_BATCH_LIMIT) -> tuple[int | None, str | None]:
    """(largest batch whose forward fits in device memory, None) or (None, why the search stopped).

    Each trial is a warm-up-free memory point (run in a child when `spec.isolate`). CUDA only."""
    device = devices.resolve(spec.device)
    require_cuda_for_max_batch(device)
    trial = dataclasses.replace(spec, warmup=0, min_warmup_s=0.0, iters=1, min_time_s=0.0, split=False,
                                memory=True)
    stop: list[str] = []

    def fits(batch: int) -> bool:
        row = run_point(cfg, dataclasses.replace(trial, batch=batch), measures=("memory",)).row
        if row["status"] not in ("ok", "oom"):
            stop.append(f"batch {batch}: {row['status']}: {row['error']}")
            raise _StopSearch
        return row["status"] == "ok"

    try:
        return largest_fitting(fits, limit), None
    except _StopSearch:
        return None, stop[0]


__all__ = ["Measured", "RUNTIME_MEASURES", "context_fields", "find_max_batch", "measure_in_process", "run_isolated",
           "run_point"]
