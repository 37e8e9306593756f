"""`vitbench models | params | flops | split`: cost known without running the model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.cli.options import (ClassesOpt, DepthOpt, DimOpt, HeadsOpt, MlpRatioOpt, ModelOpt, PatchOpt,
                                  PoolOpt, RegistersOpt, ResOpt, build_configs)
from vitbench.cost import analytic
from vitbench.errors import VitbenchError
from vitbench.render import console


@app.command()
def models() -> None:
    """List the zoo (params and GMACs at 224 px, closed form; no torch)."""
    from vitbench.render.cost import models_table
    from vitbench.zoo import PRESETS, preset

    rows = [(cfg, analytic.params(cfg).total, analytic.macs(cfg).total) for cfg in map(preset, PRESETS)]
    console().print(models_table(rows))


@app.command()
def params(
    model: ModelOpt, res: ResOpt = None, patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None,
    heads: HeadsOpt = None, mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None,
    registers: RegistersOpt = None,
) -> None:
    """Exact parameter counts, total and per component (the position table grows with resolution)."""
    from vitbench.render.cost import params_table

    for cfg in build_configs(model, res, patch=patch, dim=dim, depth=depth, heads=heads, mlp_ratio=mlp_ratio,
                             classes=classes, pool=pool, registers=registers):
        console().print(params_table(cfg, analytic.params(cfg)))


@app.command()
def flops(
    model: ModelOpt, res: ResOpt = None, batch: Annotated[int, typer.Option(help="Images per forward.")] = 1,
    counter: Annotated[str, typer.Option(help="analytic | fvcore | torch | all")] = "analytic",
    device: Annotated[str, typer.Option(help="Where counters trace: meta (no memory) | cpu | cuda.")] = "meta",
    csv: Annotated[Optional[Path], typer.Option("--csv", help="Also write rows (MACs per image) to CSV.")] = None,
    json: Annotated[Optional[Path], typer.Option("--json", help="Also write rows to JSON.")] = None,
    patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None, heads: HeadsOpt = None,
    mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None, registers: RegistersOpt = None,
) -> None:
    """MACs and FLOPs per component from the closed form, fvcore or torch's FlopCounterMode.

    Convention: 1 MAC = 2 FLOPs. Default counter: the closed form (no torch)."""
    from vitbench.cost.counters import COUNT_DEVICES, COUNTERS, count
    from vitbench.render.cost import COUNTER_FOOTNOTES, counters_table, flops_table

    if counter not in COUNTERS + ("all",):
        raise VitbenchError(f"unknown counter {counter!r}; valid: {', '.join(COUNTERS)}, all")
    if device not in COUNT_DEVICES and not device.startswith("cuda:"):
        raise VitbenchError(f"unknown device {device!r}; valid: {', '.join(COUNT_DEVICES)}, cuda:N")
    if batch <= 0:
        raise VitbenchError(f"batch must be a positive integer, got {batch}")
    cfgs = build_configs(model, res, patch=patch, dim=dim, depth=depth, heads=heads, mlp_ratio=mlp_ratio,
                         classes=classes, pool=pool, registers=registers)
    out, rows = console(), []
    for cfg in cfgs:
        if counter == "all":
            records = [count(cfg, name, device, batch) for name in COUNTERS]
            out.print(counters_table(cfg, records, batch, device))
            out.print(f"[dim]{COUNTER_FOOTNOTES}[/]")
        else:
            records = [count(cfg, counter, device, batch)]
            out.print(flops_table(cfg, records[0], batch, device if counter != "analytic" else "closed form"))
        rows += [{**cfg.to_row(), "counter": r.counter, "count_device": device if r.counter != "analytic" else "",
                  "batch": batch, "params": analytic.params(cfg).total, **r.to_row()} for r in records]
    from vitbench.storage import write_rows

    for path in (csv, json):
        if path is not None:
            out.print(f"wrote {write_rows(rows, path)}")


@app.command()
def split(
    model: ModelOpt, res: ResOpt = None, patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None,
    heads: HeadsOpt = None, mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None,
    registers: RegistersOpt = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also draw the closed-form MACs per component vs "
                                                 "tokens (log-log, crossovers marked) to this .png or .svg.")] = None,
) -> None:
    """Attention projections vs attention core vs MLP, per block and total, and where the core takes over.

    Give --res several times for a row per resolution."""
    from vitbench.render.cost import crossover_lines, split_resolutions_table, split_table

    cfgs = build_configs(model, res, patch=patch, dim=dim, depth=depth, heads=heads, mlp_ratio=mlp_ratio,
                         classes=classes, pool=pool, registers=registers)
    out = console()
    if len(cfgs) == 1:
        out.print(split_table(cfgs[0], analytic.macs(cfgs[0])))
    else:
        out.print(split_resolutions_table([(cfg, analytic.macs(cfg)) for cfg in cfgs]))
    for line in crossover_lines(cfgs[0], *analytic.crossovers(cfgs[0])):
        out.print(line)
    if plot is not None:
        from vitbench.plot import split_curves

        out.print(f"wrote {split_curves(cfgs, plot)}")
