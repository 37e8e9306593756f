"""One point (a `ViTConfig` + a `BenchSpec`) -> one `Measured`: a result row and its raw samples.

`run_point` never raises for what happens to the point itself: out of memory, an unsupported
device/dtype/backend, a runtime error or (with `spec.isolate`) a crashed child become a row with `status`
'oom' | 'unsupported' | 'error' and a one-line `error`. It raises VitbenchError only for bad input.

Each kind of measurement has its own tracker, run in this order on one built model: the probe forward
(backends: an unsupported kernel shows up here), compile (a warm-up of its own), warm-up, the latency tracker
(vitbench.measure.timer: raw samples, then their summary), memory (vitbench.measure.memory: CUDA allocator
peak over the timed iterations; CPU peak RSS comes from the isolated child), the split tracker
(vitbench.measure.split, separate hooked iterations). Their columns are composed into the row here, in one place.

A train point (`spec.mode == 'train'`) times whole training steps (vitbench.measure.train: forward + loss +
backward + optimizer step) through the same trackers, with FLOP/s and MFU from the training MACs, and adds the
step's gradient, optimizer-state and saved-activation bytes (one step measured in phases, after timing).
"""

from __future__ import annotations

import dataclasses
import platform
import time
from dataclasses import dataclass, field
from typing import Sequence

from vitbench import devices, schema
from vitbench.cost import training
from vitbench.cost.memory import MIB, by_kind_mib, peak_lower_bound_bytes
from vitbench.errors import VitbenchError
from vitbench.measure import isolate
from vitbench.measure.spec import DEFAULT_MEASURES, RUNTIME_MEASURES, BenchSpec, validate
from vitbench.subject import for_config
from vitbench.zoo import ViTConfig


@dataclass(frozen=True)
class Measured:
    """A point's result row (vitbench.schema order), its raw samples by metric (vitbench.samples), and `fatal`:
    one line when the device is unusable after this point (a sticky CUDA error): the run writes the row and
    stops with that line."""

    row: dict
    samples: dict[str, tuple[float, ...]] = field(default_factory=dict)
    fatal: str | None = None


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
    """The split times the components of a forward with hooks: train points skip it (the CLI refuses it)."""
    split = ("split" in measures or spec.split) and spec.mode != "train"
    return Wants("latency" in measures, "memory" in measures and spec.memory, split)


def context_fields(cfg: ViTConfig, spec: BenchSpec, device: str, measures: Sequence[str]) -> dict:
    """Config, runtime key, context and (when asked) closed-form columns of a row: the cost columns (train rows
    add `macs_train`), and with memory the closed-form peak bound (zoo models: the memory model is of
    vitbench's own ViT)."""
    import torch

    from vitbench.measure import external

    subject = for_config(cfg)
    fields = {**subject.config_row(), "batch": spec.batch, "device": device, "dtype": spec.dtype,
              "attn": spec.attn, "compile": spec.compile, "mode": spec.mode, "optimizer": spec.optimizer,
              "grad_checkpoint": spec.grad_checkpoint, "device_name": devices.device_name(device),
              "threads": torch.get_num_threads(), "host": platform.node()}
    if set(measures) & {"params", "flops"}:
        fields.update(subject.cost_row(), **(training.cost_row(subject.macs()) if spec.mode == "train" else {}))
    if wants(spec, measures).memory and not external.is_external(cfg.name):
        bound = peak_lower_bound_bytes(cfg, spec.batch, spec.dtype, spec.attn, spec.mode, spec.optimizer,
                                       spec.grad_checkpoint, device)
        fields["mem_peak_pred_mib"] = None if bound is None else bound / MIB
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
    """Measure in this process (spec resolved); failures of the point become the row's status and error. What
    the row proves about the run (the attention kernel that ran, the compile record) is kept when it fails."""
    from vitbench.measure import backends, memory

    row = context_fields(cfg, spec, spec.device, measures)
    cols: dict = {}
    samples: dict = {}
    error = None
    try:
        _measure(cfg, spec, wants(spec, measures), cols, samples)
        row.update(cols)
        row["status"] = "ok"
    except VitbenchError:
        raise
    except Exception as e:  # noqa: BLE001 - OOM, unsupported kernels, compile and runtime errors -> a row
        error = e
        row.update({k: v for k, v in cols.items() if k in KEPT_ON_FAILURE})
        row["status"], row["error"] = backends.describe_error(e, spec.attn)
        samples = {}
    fatal = memory.release_checked(spec.device, error)
    return Measured(schema.make_row(**row), samples, fatal)


# Columns that describe what ran, kept in a failed row (they explain the failure: e.g. the kernel of a pin).
KEPT_ON_FAILURE = ("attn_kernel", "compile_s", "compile_graphs", "compile_cache", "mem_weights_mib",
                   "mem_base_mib", "warmup_iters", "warmup_s", "setup_s")


def _build(cfg: ViTConfig, spec: BenchSpec):
    import torch

    from vitbench.measure import backends, external

    dtype = backends.weight_dtype(spec.dtype)
    if external.is_external(cfg.name):
        return external.build(cfg, spec.device, dtype, spec.attn)
    from vitbench.model import build_model

    return build_model(cfg, spec.device, attn_impl=backends.attn_impl(spec.attn),
                       dtype=None if dtype == torch.float32 else dtype)


def _measure(cfg: ViTConfig, spec: BenchSpec, want: Wants, cols: dict, samples: dict) -> None:
    """Fill `cols` (measured columns) and `samples` for one point; raises on any failure (the caller makes it a
    status). Order: build, probe, compile (a warm-up of its own), warm-up, the profiled iteration that records
    the attention kernel (checked against a pin), the timed iterations, memory, then the split (hooked, eager).
    Wall seconds of the phases: setup_s (build, input, probe), compile_s, warmup_s, timing_s."""
    import torch

    from vitbench.measure import backends, memory, timer
    from vitbench.model import example_input

    device, timing = spec.device, spec.timing()
    backends.check_supported(spec.dtype, device)
    if spec.mode == "train":
        from vitbench.measure.train import check_trainable

        check_trainable(spec.dtype)
    torch.manual_seed(0)
    setup_start = time.perf_counter()
    mem = memory.Tracker(device) if want.memory else None
    model = _build(cfg, spec)
    cols.update(mem.after_build(model) if mem else {})
    if spec.mode == "train":
        _measure_train(cfg, spec, want, model, mem, setup_start, cols, samples)
        return
    x = example_input(cfg, spec.batch, device, backends.weight_dtype(spec.dtype))
    with backends.precision(spec.dtype), backends.forward_context(spec.dtype, spec.attn, device):
        eager = lambda: model(x)  # noqa: E731
        backends.probe(eager, spec.attn, spec.dtype)
        timer.synchronize(device)
        cols["setup_s"] = round(time.perf_counter() - setup_start, 4)
        with _compiled(model, x, spec) as compiled:
            call = compiled.call if compiled else eager
            cols.update(compiled.record.columns() if compiled else {})
            _run_measured(call, spec, want, mem, for_config(cfg).macs().total, cols, samples)
        if want.split:
            from vitbench.measure import split

            result = split.measure(model, eager, device, timing.iters, latency_ms=cols.get("latency_ms_median"))
            cols.update(result.columns(), **result.proposed_columns())


def _run_measured(call, spec: BenchSpec, want: Wants, mem, macs_per_image: int, cols: dict, samples: dict) -> None:
    """Warm-up, the profiled call that records the attention kernel (checked against a pin), then the timed
    calls (latency columns, FLOP/s and MFU from `macs_per_image`, raw samples) with the memory tracker's peak
    around them; with memory but no latency, one untimed call."""
    from vitbench.measure import kernels, timer

    device, timing = spec.device, spec.timing()
    cols["warmup_iters"], cols["warmup_s"] = timer.warm_up(call, device, timing.warmup, timing.min_warmup_s)
    kernel = kernels.observe(call, device)
    cols["attn_kernel"] = kernel.label
    kernels.check_pin(spec.attn, kernel)
    if mem:
        mem.before_timing()
    if want.latency:
        timing_start = time.perf_counter()
        taken = tuple(timer.samples(call, device, timing.iters, timing.min_time_s))
        cols["timing_s"] = round(time.perf_counter() - timing_start, 4)
        record = timer.LatencyRecord(taken, cols["warmup_iters"], cols["warmup_s"])
        peak = _peak_tflops(device, spec.dtype)
        cols.update(record.columns(spec.batch, macs_per_image, peak), peak_tflops=peak)
        samples["latency_ms"] = record.samples_ms
    elif mem:
        call()
    cols.update(mem.after_timing() if mem else {})


def _measure_train(cfg: ViTConfig, spec: BenchSpec, want: Wants, model, mem, setup_start: float, cols: dict,
                   samples: dict) -> None:
    """A train point (vitbench.measure.train): inputs and labels made once on the device; the eager first step
    is the probe (it allocates the optimizer state); compile (its compiling call is a whole step, so the
    backward graph is compiled too); warm-up; the kernel of a profiled step, checked against a pin; the timed
    steps (FLOP/s and MFU from the training MACs: forward + backward) with the memory peak around them; then
    one step in phases for the gradient, optimizer-state and saved-activation bytes of the step that was timed."""
    from vitbench.measure import backends, timer, train

    device = spec.device
    x, labels = train.make_inputs(cfg, spec.batch, device, spec.dtype)
    with train.train_context(spec.dtype, spec.attn, device):
        step = train.make_train_step(model, x, labels, dtype=spec.dtype, optimizer=spec.optimizer,
                                     grad_checkpoint=spec.grad_checkpoint)
        backends.probe(step, spec.attn, spec.dtype)
        timer.synchronize(device)
        cols["setup_s"] = round(time.perf_counter() - setup_start, 4)
        with _compiled(model, x, spec, call=step.with_model) as compiled:
            call = compiled.call if compiled else step
            cols.update(compiled.record.columns() if compiled else {})
            _run_measured(call, spec, want, mem, training.model_macs(for_config(cfg).macs()), cols, samples)
            if mem:
                cols.update(by_kind_mib(train.measure_train_memory(call)))


def _compiled(model, x, spec: BenchSpec, call=None):
    """compiled.compiled_point for a --compile point (one compile, static shapes, no recompiles while measuring,
    the SDPA pin in the cache key); a null context yielding None otherwise. `call`: see compiled_point."""
    import contextlib

    if not spec.compile:
        return contextlib.nullcontext(None)
    from vitbench.measure.compiled import compiled_point

    return compiled_point(model, x, spec.device, call=call)


def _peak_tflops(device: str, dtype: str) -> float | None:
    """The dense datasheet peak of the device in hand for the dtype, scaled for a MIG slice by its SMs (None on
    CPU, for an unknown GPU or a variant the table cannot vouch for: the sidecar says why)."""
    if not devices.is_cuda(device):
        return None
    from vitbench.measure.peak import device_peak

    found = device_peak(device)
    return found.peak.peak_tflops(dtype) if found.peak else None


def find_max_batch(cfg: ViTConfig, spec: BenchSpec):
    """vitbench.measure.max_batch.find_max_batch with this module's `run_point` (each trial a memory point,
    uncompiled, in a child when `spec.isolate`): the largest batch that fits, and a note when the search
    stopped early."""
    from vitbench.measure import max_batch

    spec = spec.resolved(devices.resolve(spec.device))
    return max_batch.find_max_batch(cfg, spec, lambda c, s, m: run_point(c, s, m).row)


__all__ = ["Measured", "RUNTIME_MEASURES", "context_fields", "find_max_batch", "measure_in_process", "run_isolated",
           "run_point"]
