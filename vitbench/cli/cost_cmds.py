"""`vitbench models | params | flops | split`: cost known without running the model (closed form: no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.cli.options import (ClassesOpt, CountDevice, Counter, CsvOpt, DepthOpt, DimOpt, HeadsOpt, JsonOpt,
                                  MlpRatioOpt, ModelOpt, PatchOpt, PoolOpt, RegistersOpt, ResOpt, outputs, overrides,
                                  value)
from vitbench.cli.output import emit
from vitbench.cost import analytic
from vitbench.errors import VitbenchError
from vitbench.schema import COST_ROW_COLUMNS, FLOPS_COLUMNS, PARAMS_COLUMNS, SPLIT_COST_COLUMNS
from vitbench.subject import subjects


@app.command()
def models(csv: CsvOpt = None, json: JsonOpt = None) -> None:
    """List the zoo (params and GMACs at 224 px, closed form; no torch)."""
    from vitbench.render.cost import models_table
    from vitbench.zoo import PRESETS, preset

    chosen = outputs(csv, json)
    cfgs = [preset(name) for name in PRESETS]
    rows = [{**cfg.to_row(), **analytic.cost_row(cfg)} for cfg in cfgs]
    emit("models", rows, chosen, [models_table([(c, r["params"], r["macs"]) for c, r in zip(cfgs, rows)])],
         columns=COST_ROW_COLUMNS, settings={})


@app.command()
def params(
    model: ModelOpt, res: ResOpt = None, csv: CsvOpt = None, json: JsonOpt = None,
    patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None, heads: HeadsOpt = None,
    mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None, registers: RegistersOpt = None,
) -> None:
    """Exact parameter counts, total and per component (the position table grows with resolution)."""
    from vitbench.render.cost import params_table

    chosen = outputs(csv, json)
    given = overrides(patch, dim, depth, heads, mlp_ratio, classes, pool, registers)
    found = subjects(model, res, given)
    counts = [s.params() if s.covered else None for s in found]
    rows = [{**s.config_row(), "params": s.params_total,
             **({f"params_{k}": v for k, v in p.as_dict().items()} if p else {})} for s, p in zip(found, counts)]
    emit("params", rows, chosen, [params_table(s, p) for s, p in zip(found, counts)], columns=PARAMS_COLUMNS,
         settings={"model": model, "res": res, "overrides": given})


@app.command()
def flops(
    model: ModelOpt, res: ResOpt = None, batch: Annotated[int, typer.Option(min=1, help="Images per forward.")] = 1,
    counter: Annotated[Counter, typer.Option(help="Who counts: the closed form, fvcore, torch's FlopCounterMode, "
                                                  "or all three side by side.")] = Counter.analytic,
    device: Annotated[CountDevice, typer.Option(help="Where counters trace (meta: no memory).")] = CountDevice.meta,
    compare_peers: Annotated[bool, typer.Option("--compare-peers", help="Also show what plain fvcore and torch's "
                                                "FlopCounterMode report (a forward on cpu, no vitbench handles) "
                                                "and what they miss.")] = False,
    csv: CsvOpt = None, json: JsonOpt = None,
    patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None, heads: HeadsOpt = None,
    mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None, registers: RegistersOpt = None,
) -> None:
    """MACs and FLOPs per component from the closed form, fvcore or torch's FlopCounterMode.

    Convention: 1 MAC = 2 FLOPs; rows hold MACs per image. Default counter: the closed form (no torch)."""
    from vitbench.cost.counters import COUNTERS
    from vitbench.render.cost import COUNTER_FOOTNOTES, agreement_line, counters_table, flops_table

    chosen = outputs(csv, json)
    given = overrides(patch, dim, depth, heads, mlp_ratio, classes, pool, registers)
    names = COUNTERS if value(counter) == "all" else (value(counter),)
    rows, tables = [], []
    for s in subjects(model, res, given):
        counted = [n for n in names if n != "analytic" or s.covered]  # `all` on an uncovered model: the counters
        records = [s.count(name, value(device), batch) for name in counted]
        tables += ([counters_table(s, records, batch, value(device)), agreement_line(records),
                    f"[dim]{COUNTER_FOOTNOTES}[/]"] if len(records) > 1 else
                   [flops_table(s, records[0], batch, value(device) if names != ("analytic",) else "closed form")])
        rows += [{**s.config_row(), "counter": r.counter, "count_device": value(device) if r.counter != "analytic"
                  else "", "batch": batch, "params": s.params_total, **r.to_row()} for r in records]
        if compare_peers:
            tables += _peers(s, records[0], batch)
    emit("flops", rows, chosen, tables, columns=FLOPS_COLUMNS,
         settings={"model": model, "res": res, "batch": batch, "counter": value(counter), "device": value(device),
                   "overrides": given})


@app.command()
def split(
    model: ModelOpt, res: ResOpt = None, csv: CsvOpt = None, json: JsonOpt = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also draw the closed-form MACs per component vs "
                                                 "tokens (log-log, crossovers marked) to this .png or .svg.",
                                                 show_default=False)] = None,
    patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None, heads: HeadsOpt = None,
    mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None, registers: RegistersOpt = None,
) -> None:
    """Attention projections vs attention core vs MLP, per block and total, and where the core takes over.

    Give --res several times for a row per resolution."""
    from vitbench.render.cost import crossover_lines, split_resolutions_table, split_table

    chosen = outputs(csv, json)
    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        raise VitbenchError(f"--plot {plot}: give a file name ending in .png or .svg")
    given = overrides(patch, dim, depth, heads, mlp_ratio, classes, pool, registers)
    found = subjects(model, res, given)
    for s in found:
        s.require_cfg()
    lines = [split_table(found[0], found[0].macs()) if len(found) == 1 else
             split_resolutions_table([(s, s.macs()) for s in found])]
    lines += crossover_lines(found[0], *found[0].crossovers())
    rows = [{**s.config_row(), **s.cost_row(), **_crossover_fields(s)} for s in found]
    emit("split", rows, chosen, lines, columns=SPLIT_COST_COLUMNS,
         settings={"model": model, "res": res, "overrides": given})
    if plot is not None:
        from vitbench.plot import split_curves
        from vitbench.render import console

        console(stderr=any(p == "-" for _, p in chosen)).print(f"wrote {split_curves([s.cfg for s in found], plot)}")


def _peers(subject, exact, batch: int) -> list:
    """The peers table and one line per tool saying what it missed and why."""
    from vitbench.render.cost import peers_table

    found = subject.peers("cpu", batch)
    return [peers_table(subject, exact, found), *(f"[dim]{p.explain(exact)}[/]" for p in found)]


def _crossover_fields(subject) -> dict:
    to_mlp, to_dense = subject.crossovers()
    return {"crossover_mlp_tokens": to_mlp.tokens, "crossover_mlp_res": to_mlp.res,
            "crossover_dense_tokens": to_dense.tokens, "crossover_dense_res": to_dense.res}
