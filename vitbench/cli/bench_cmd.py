"""`vitbench bench` (latency, throughput, memory per point) and `vitbench peak` (device ceilings)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.cli.options import (ClassesOpt, DepthOpt, DimOpt, HeadsOpt, MlpRatioOpt, ModelOpt, PatchOpt,
                                  PoolOpt, RegistersOpt, ResOpt, build_configs)
from vitbench.errors import VitbenchError
from vitbench.measure.spec import DTYPES
from vitbench.render import console

# Iteration defaults per device kind: (warm-up iterations, min warm-up s, timed iterations, min timed s).
DEFAULTS = {"cuda": (10, 0.5, 50, 1.0), "cpu": (2, 0.5, 10, 2.0)}

BatchOpt = Annotated[Optional[list[int]], typer.Option("--batch", "-b", help="Images per forward. Repeat for several.")]
DeviceOpt = Annotated[str, typer.Option(help="auto (cuda if available) | cpu | cuda | cuda:N")]
CsvOpt = Annotated[Optional[Path], typer.Option("--csv", help="Write the rows to this CSV (+ .meta.json sidecar).")]
JsonOpt = Annotated[Optional[Path], typer.Option("--json", help="Write the rows to this JSON (+ .meta.json sidecar).")]


def _check_output(path: Optional[Path], suffix: str) -> None:
    if path is not None and path.suffix != suffix:
        raise VitbenchError(f"--{suffix[1:]} needs a path ending in {suffix}, got {str(path)!r}")


def _configs(model: str, res: list[str] | None, overrides: dict) -> list:
    from vitbench.measure import external
    from vitbench.zoo import parse_res

    if external.parse(model) is None:
        return build_configs(model, res, **overrides)
    given = sorted(k for k, v in overrides.items() if v is not None)
    if given:
        raise VitbenchError(f"overrides ({', '.join('--' + k.replace('_', '-') for k in given)}) apply to zoo "
                            f"models only, not {model}")
    return [external.describe(model, parse_res(r) if r else None) for r in (res or [None])]


def _load() -> float | None:
    """1-minute load average (a busy machine makes CPU timings noisy); None where unavailable."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _caption(spec, device: str, explicit: bool, threads: int) -> str:
    clock = "CUDA events" if device.startswith("cuda") else f"perf_counter_ns, {threads} torch threads"
    memory = ("peak MB: allocator peak (max_memory_allocated) incl. weights and input" if device.startswith("cuda")
              else "peak MB: peak RSS of the measuring child process, incl. python + torch (mem_base_mib)")
    cpu_note = "" if device.startswith("cuda") or explicit else " CPU defaults (fewer iterations than on CUDA)."
    return (f"ms per forward of the whole batch: median of n timed iterations ({clock}), p10–p90, IQR = p75−p25. "
            f"Warm-up ≥{spec.warmup} iterations and ≥{spec.min_warmup_s:g} s; timed ≥{spec.iters} iterations and "
            f"≥{spec.min_time_s:g} s.{cpu_note} img/s = batch / median. {memory}. TFLOP/s = 2·MACs·batch / median.")


@app.command()
def bench(
    model: ModelOpt, res: ResOpt = None, batch: BatchOpt = None, device: DeviceOpt = "auto",
    dtype: Annotated[str, typer.Option(help=" | ".join(DTYPES))] = "fp32",
    attn: Annotated[str, typer.Option(help="sdpa (torch picks) | flash | efficient | cudnn | math (pinned) | "
                                           "manual (explicit N×N)")] = "sdpa",
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the model (its warm-up apart).")] = False,
    warmup: Annotated[Optional[int], typer.Option(help="Warm-up iterations (default: cuda 10, cpu 2).")] = None,
    min_warmup: Annotated[Optional[float], typer.Option("--min-warmup", help="And at least this many seconds (default 0.5).")] = None,
    iters: Annotated[Optional[int], typer.Option(help="Timed iterations, at least (default: cuda 50, cpu 10).")] = None,
    min_time: Annotated[Optional[float], typer.Option("--min-time", help="Keep timing until this many seconds (default: cuda 1, cpu 2).")] = None,
    split: Annotated[bool, typer.Option("--split", help="Also time attention projections / core / MLP (hooks).")] = False,
    isolate: Annotated[bool, typer.Option("--isolate", help="Run each point in its own process (crash -> a row).")] = False,
    find_max_batch: Annotated[bool, typer.Option("--find-max-batch", help="Bisect the largest batch that fits (CUDA).")] = False,
    csv: CsvOpt = None, json: JsonOpt = None,
    patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None, heads: HeadsOpt = None,
    mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None, registers: RegistersOpt = None,
) -> None:
    """Latency, throughput, memory and MFU of a ViT forward (inference), one row per --res × --batch.

    --model also takes timm:NAME or torchvision:NAME (optional packages) to time the implementation you deploy.

    A point that runs out of memory, has no kernel for the device/dtype/backend, or fails becomes a row with its status; the run goes on."""
    from vitbench.environment import environment, now_iso
    from vitbench.measure import bench as measure
    from vitbench.measure import external
    from vitbench.measure.spec import BenchSpec
    from vitbench.render.bench import bench_table, error_lines, noise_lines, split_table
    from vitbench.storage import write_metadata, write_rows

    _check_output(csv, ".csv")
    _check_output(json, ".json")
    resolved = measure.resolve_device(device)
    d_warm, d_min_warm, d_iters, d_min_time = DEFAULTS["cuda" if resolved.startswith("cuda") else "cpu"]
    spec = BenchSpec(device=resolved, dtype=dtype, attn=attn, compile=compile, split=split, isolate=isolate,
                     warmup=d_warm if warmup is None else warmup,
                     min_warmup_s=d_min_warm if min_warmup is None else min_warmup,
                     iters=d_iters if iters is None else iters, min_time_s=d_min_time if min_time is None else min_time)
    batches = batch or [1]
    measures = measure.DEFAULT_MEASURES + (("split",) if split else ())
    for b in batches:
        measure.validate(dataclasses.replace(spec, batch=b), measures)
    if find_max_batch:
        measure.require_cuda_for_max_batch(resolved)
    cfgs = _configs(model, res, dict(patch=patch, dim=dim, depth=depth, heads=heads, mlp_ratio=mlp_ratio,
                                     classes=classes, pool=pool, registers=registers))
    if split and any(external.is_external(c.name) for c in cfgs):
        raise VitbenchError("--split needs a zoo model (hooks on vitbench's blocks); drop --split for " + model)

    import torch

    meta = {"command": "vitbench bench", "args": {**dataclasses.asdict(spec), "model": model, "res": res,
                                                  "batch": batches, "find_max_batch": find_max_batch},
            "environment": environment(), "start": now_iso(), "end": None,
            "load_average_1min": {"start": _load(), "end": None}}
    out, err, rows = console(), console(stderr=True), []
    points = [(cfg, b) for cfg in cfgs for b in batches]
    for cfg in cfgs:
        max_batch = None
        if find_max_batch:
            err.print(f"finding the largest batch for {cfg.name} {cfg.res_label} px …")
            max_batch, why = measure.find_max_batch(cfg, spec)
            if why:
                err.print(f"[yellow]max batch search stopped: {why}[/]")
        for b in batches:
            err.print(f"[{len(rows) + 1}/{len(points)}] {cfg.name} {cfg.res_label} px, batch {b}, {resolved}, "
                      f"{dtype}, {attn}{', compiled' if compile else ''} …")
            row = measure.run_point(cfg, dataclasses.replace(spec, batch=b), measures)
            row["max_batch"] = max_batch
            rows.append(row)
            for path in (csv, json):  # after every point: nothing measured is lost if a later one fails
                if path is not None:
                    write_rows(rows, path)
                    write_metadata(path, meta)
    meta["end"], meta["load_average_1min"]["end"] = now_iso(), _load()
    first = rows[0]
    title = f"vitbench bench — {resolved} ({first['device_name']})"
    out.print(bench_table(rows, title, _caption(spec, resolved, None not in (warmup, iters, min_time), torch.get_num_threads())))
    for line in error_lines(rows):
        out.print(f"[red]{line}[/]")
    load = meta["load_average_1min"]["end"]
    context = "" if load is None else f"; 1-min load average {load:.2f} on {os.cpu_count()} CPUs"
    for line in noise_lines(rows, context):
        out.print(f"[yellow]{line}[/]")
    for row in rows:
        if split and row["status"] == "ok":
            out.print(split_table(row))
    for path in (csv, json):
        if path is not None:
            write_metadata(path, meta)
            out.print(f"wrote {path} (+ {path.stem}.meta.json)")


@app.command()
def peak(
    device: DeviceOpt = "auto",
    size: Annotated[Optional[int], typer.Option(help="Matmul side n (n×n @ n×n) (default: cuda 8192, cpu 1024).")] = None,
    copy_mb: Annotated[Optional[int], typer.Option("--copy-mb", help="Copy buffer in MiB (default: cuda 1024, cpu 64).")] = None,
    iters: Annotated[int, typer.Option(help="Timed iterations per measurement.")] = 20,
    csv: CsvOpt = None, json: JsonOpt = None,
) -> None:
    """Measured matmul TFLOP/s (fp32, tf32, fp16, bf16) and copy bandwidth of a device, beside its datasheet."""
    from vitbench.environment import environment, now_iso
    from vitbench.measure.bench import device_name, resolve_device
    from vitbench.measure.peak import measure_peaks
    from vitbench.render.bench import peak_table
    from vitbench.storage import write_metadata, write_rows

    _check_output(csv, ".csv")
    _check_output(json, ".json")
    for key, value in (("size", size), ("copy-mb", copy_mb), ("iters", iters)):
        if value is not None and value < 1:
            raise VitbenchError(f"--{key} must be a positive integer, got {value}")
    resolved = resolve_device(device)
    start = now_iso()
    rows = [{"device": resolved, "device_name": device_name(resolved), **r}
            for r in measure_peaks(resolved, size, copy_mb, iters)]
    console().print(peak_table(rows, f"vitbench peak — {resolved} ({rows[0]['device_name']})"))
    for path in (csv, json):
        if path is not None:
            write_rows(rows, path)
            write_metadata(path, {"command": "vitbench peak", "args": {"device": resolved, "size": size,
                                  "copy_mb": copy_mb, "iters": iters}, "environment": environment(),
                                  "start": start, "end": now_iso()})
            console().print(f"wrote {path} (+ {path.stem}.meta.json)")
