"""`vitbench bench` (latency, throughput, memory per point: a one-grid run through vitbench.runs) and
`vitbench peak` (device ceilings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.cli.options import (Attn, ClassesOpt, CsvOpt, DepthOpt, DeviceOpt, DimOpt, DType, GradCheckpointOpt,
                                  HeadsOpt, JsonOpt, MlpRatioOpt, Mode, ModelOpt, OptimizerOpt, PatchOpt, PoolOpt,
                                  RegistersOpt, ResOpt, build_configs, finite, outputs, overrides, training_options,
                                  value)
from vitbench.errors import VitbenchError

BatchOpt = Annotated[Optional[list[int]], typer.Option("--batch", "-b", min=1, show_default=False,
                                                       help="Images per iteration. Repeat for several. [default: 1]")]
TIMING_HELP = "[default: the device's: cuda {}, cpu {}]"


@app.command()
def bench(
    model: ModelOpt, res: ResOpt = None, batch: BatchOpt = None, device: DeviceOpt = "auto",
    dtype: Annotated[DType, typer.Option(help="Weights/compute type (see docs/bench.md).")] = DType.fp32,
    attn: Annotated[Attn, typer.Option(help="sdpa: torch picks; flash/efficient/cudnn/math: pinned; manual: "
                                            "explicit N×N.")] = Attn.sdpa,
    mode: Annotated[Mode, typer.Option(help="infer: forward; train: forward + loss + backward + optimizer step."
                                       )] = Mode.infer,
    optimizer: OptimizerOpt = None, grad_checkpoint: GradCheckpointOpt = False,
    compile: Annotated[bool, typer.Option("--compile/--no-compile", help="torch.compile each point (static "
                                          "shapes; its compile time apart).")] = False,
    warmup: Annotated[Optional[int], typer.Option(min=0, show_default=False, help="Warm-up iterations. "
                                                  + TIMING_HELP.format(10, 2))] = None,
    min_warmup: Annotated[Optional[float], typer.Option("--min-warmup", min=0, callback=finite, show_default=False,
                                                        help="And at least this many seconds. "
                                                        + TIMING_HELP.format(1, 0.5))] = None,
    iters: Annotated[Optional[int], typer.Option(min=1, show_default=False, help="Timed iterations, at least. "
                                                 + TIMING_HELP.format(50, 10))] = None,
    min_time: Annotated[Optional[float], typer.Option("--min-time", min=0, callback=finite, show_default=False,
                                                      help="Keep timing until this many seconds. "
                                                      + TIMING_HELP.format(1, 2))] = None,
    split: Annotated[bool, typer.Option("--split/--no-split", help="Also time attention projections / core / "
                                        "MLP.")] = False,
    isolate: Annotated[bool, typer.Option("--isolate/--no-isolate", help="Run each point in its own process "
                                          "(a crash becomes a row).")] = False,
    find_max_batch: Annotated[bool, typer.Option("--find-max-batch", help="Bisect the largest batch that fits "
                                                 "(CUDA).")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Show every column (n, IQR, weights, TFLOP/s, MFU).")] = False,
    csv: CsvOpt = None, json: JsonOpt = None,
    patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None, heads: HeadsOpt = None,
    mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None, registers: RegistersOpt = None,
) -> None:
    """Latency, throughput, memory and MFU of a ViT (inference, or a training step), one row per --res × --batch.

    --mode train times whole training steps (forward + loss + backward +
    optimizer step; MFU from the training MACs) and splits memory into weights,
    gradients, optimizer state and saved activations, beside the closed form.
    --model also takes timm:NAME or torchvision:NAME (optional packages) to time
    the implementation you deploy.
    A point that runs out of memory, has no kernel for the device/dtype/backend, or fails becomes a row with its
    status; the run goes on. Same timing defaults as a sweep point on the same device."""
    from vitbench.measure.spec import BenchSpec

    chosen = outputs(csv, json)
    training_options(value(mode), value(optimizer), grad_checkpoint)
    if split and value(mode) == "train":
        raise VitbenchError("--split times the components of a forward with hooks; it does not apply to --mode train")
    spec = BenchSpec(device=device, dtype=value(dtype), attn=value(attn), mode=value(mode), compile=compile,
                     split=split, isolate=isolate, warmup=warmup, min_warmup_s=min_warmup, iters=iters,
                     min_time_s=min_time, optimizer=value(optimizer), grad_checkpoint=grad_checkpoint)
    cfgs = build_configs(model, res, overrides(patch, dim, depth, heads, mlp_ratio, classes, pool, registers))
    if split and any(":" in c.name for c in cfgs):
        raise VitbenchError("--split needs a zoo model (hooks on vitbench's blocks); drop --split for " + model)
    run_bench(cfgs, batch or [1], spec, chosen, find_max_batch=find_max_batch, wide=wide)


@app.command()
def peak(
    device: DeviceOpt = "auto",
    size: Annotated[Optional[int], typer.Option(min=1, show_default=False, help="Matmul side n (n×n @ n×n). "
                                                "[default: cuda 8192, cpu 1024]")] = None,
    copy_mb: Annotated[Optional[int], typer.Option("--copy-mb", min=1, show_default=False, help="Copy buffer "
                                                   "in MiB. [default: cuda 1024, cpu 64]")] = None,
    iters: Annotated[int, typer.Option(min=1, help="Timed iterations per measurement.")] = 20,
    csv: CsvOpt = None, json: JsonOpt = None,
) -> None:
    """Measured matmul TFLOP/s (fp32, tf32, fp16, bf16) and copy bandwidth of a device, beside its datasheet."""
    from vitbench import devices
    from vitbench.cli.output import emit
    from vitbench.environment import environment, now_iso
    from vitbench.measure.peak import measure_peaks
    from vitbench.render.bench import peak_table

    chosen = outputs(csv, json)
    resolved, start = devices.resolve(device), now_iso()
    rows = [{"device": resolved, "device_name": devices.device_name(resolved), **r}
            for r in measure_peaks(resolved, size, copy_mb, iters)]
    emit("peak", rows, chosen, [peak_table(rows, f"vitbench peak — {resolved} ({rows[0]['device_name']})")],
         columns=list(rows[0]), settings={"device": resolved, "size": size, "copy_mb": copy_mb, "iters": iters},
         start=start, env=environment())



def run_bench(cfgs: list, batches: list[int], spec, chosen: list[tuple[str, str]], *, find_max_batch: bool,
              wide: bool) -> None:
    """Plan the grid, find max batches, run it through vitbench.runs (rows appended to --csv as they finish,
    --json rewritten atomically), then print the table."""
    import sys

    from vitbench import devices, runs
    from vitbench.environment import now_iso
    from vitbench.measure.max_batch import require_cuda
    from vitbench.measure.point import find_max_batch as search
    from vitbench.measure.spec import DEFAULT_MEASURES, validate
    from vitbench.render import console
    from vitbench.render.sweep import SweepProgress

    spec = spec.resolved(devices.resolve(spec.device))
    measures = DEFAULT_MEASURES + (("split",) if spec.split else ())
    validate(spec, measures)
    if find_max_batch:
        require_cuda(spec.device)
    plan = runs.plan_bench(cfgs, batches, spec, measures, sys.argv[1:])
    err = console(stderr=True)
    max_batch = {cfg.name + cfg.res_label: _max_batch(cfg, spec, search, err) for cfg in cfgs} if find_max_batch else {}
    csv_path = next((p for f, p in chosen if f == "csv" and p != "-"), None)
    json_path = next((p for f, p in chosen if f == "json" and p != "-"), None)
    start = now_iso()
    own_sidecar = not (csv_path and json_path and Path(csv_path).with_suffix("") == Path(json_path).with_suffix(""))
    outcome = runs.execute(
        plan, None if csv_path is None else Path(csv_path), listener_for=lambda todo, n, skip: SweepProgress(
            err, todo, n, skip), sink=(lambda rows: _write_json(rows, json_path, plan, start, sidecar=own_sidecar)) if json_path else None,
        execute_point=_with_max_batch(max_batch) if max_batch else None)
    if json_path:
        _write_json(list(outcome.rows), json_path, plan, start, status="complete", sidecar=own_sidecar)
    _print_results(list(outcome.rows), plan, spec, chosen, wide)


def _max_batch(cfg, spec, search, err) -> int | None:
    err.print(f"finding the largest batch for {cfg.name} {cfg.res_label} px …")
    found = search(cfg, spec)
    if found.note:
        err.print(f"[yellow]max batch: {found.note}[/]")
    return found.batch


def _with_max_batch(max_batch: dict):
    from vitbench import runner

    def execute(point):
        done = runner.execute(point)
        done.row["max_batch"] = max_batch.get(point.cfg.name + point.cfg.res_label)
        return done

    return execute


def _write_json(rows: list[dict], path: str, plan, start: str, status: str = "running",
                sidecar: bool = True) -> None:
    """Rewrite the --json file atomically with every row so far (JSON cannot be appended to). `sidecar`: False
    when a --csv file of the same stem owns the sidecar."""
    from vitbench.environment import environment, now_iso
    from vitbench.storage import metadata, write_rows

    meta = metadata("bench", path, settings=plan.settings, environment=environment(), start=start, end=now_iso(),
                    status=status) if sidecar else None
    write_rows(rows, path, "json", meta)


def _print_results(rows: list[dict], plan, spec, chosen, wide: bool) -> None:
    import os

    import torch

    from vitbench.render import console
    from vitbench.render.bench import bench_table, caption, error_lines, noise_lines, split_table, train_memory_table
    from vitbench.storage import sidecar_path, write_rows

    out = console(stderr=any(p == "-" for _, p in chosen))
    title = f"vitbench bench — {spec.device} ({rows[0]['device_name']})"
    out.print(bench_table(rows, title, caption(spec, spec.device, torch.get_num_threads()), wide))
    for line in error_lines(rows):
        out.print(f"[red]{line}[/]")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    context = "" if load is None else f"; 1-min load average {load:.2f} on {os.cpu_count()} CPUs"
    for line in noise_lines(rows, context):
        out.print(f"[yellow]{line}[/]")
    for row in rows:
        if spec.split and row["status"] == "ok":
            out.print(split_table(row))
    if spec.mode == "train" and any(r["status"] == "ok" for r in rows):
        out.print(train_memory_table(rows))
    for fmt, path in chosen:
        if path == "-":
            write_rows(rows, path, fmt)
        else:
            out.print(f"wrote {path} (+ {sidecar_path(path).name}{', samples' if fmt == 'csv' else ''})")
