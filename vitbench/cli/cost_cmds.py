"""`vitbench models | params | flops | split | memory`: cost known without running the model (closed form: no
torch; `flops --counter fvcore|torch` traces the model)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.cli.options import (Attn, ClassesOpt, CountDevice, Counter, CsvOpt, DepthOpt, DimOpt, DType,
                                  GradCheckpointOpt, HeadsOpt, JsonOpt, MemoryDevice, MlpRatioOpt, Mode, ModelOpt,
                                  OptimizerOpt, PatchOpt, PoolOpt, RegistersOpt, ResOpt, build_configs, outputs,
                                  overrides, training_options, value)
from vitbench.cli.output import emit
from vitbench.cost import MATMUL_COMPONENTS, analytic
from vitbench.errors import VitbenchError
from vitbench.schema import (COST_ROW_COLUMNS, FLOPS_COLUMNS, MEMORY_COLUMNS, PARAMS_COLUMNS, SPLIT_COST_COLUMNS,
                             TRAIN_FLOPS_COLUMNS)
from vitbench.subject import subjects

AttnOpt = Annotated[Attn, typer.Option(help="Attention backend: in training the fused ones (sdpa, flash, efficient, "
                                            "cudnn) recompute QKᵀ in the backward; math and manual keep the N×N "
                                            "probabilities (more memory).")]


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
    mode: Annotated[Mode, typer.Option(help="infer: one forward; train: a training step (forward + loss + "
                                            "backward).")] = Mode.infer,
    attn: AttnOpt = Attn.sdpa, grad_checkpoint: GradCheckpointOpt = False,
    csv: CsvOpt = None, json: JsonOpt = None,
    patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None, heads: HeadsOpt = None,
    mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None, registers: RegistersOpt = None,
) -> None:
    """MACs and FLOPs per component from the closed form, fvcore or torch's FlopCounterMode.

    Convention: 1 MAC = 2 FLOPs; rows hold MACs per image. Default counter: the closed form (no torch).
    --mode train: forward, backward (2 × forward; the patch embed 1 ×) and
    recomputation per component; model MACs (forward + backward) are the MFU
    numerator."""
    from vitbench.cost.counters import COUNTERS
    from vitbench.render.cost import COUNTER_FOOTNOTES, agreement_line, counters_table, flops_table

    chosen = outputs(csv, json)
    given = overrides(patch, dim, depth, heads, mlp_ratio, classes, pool, registers)
    training_options(value(mode), None, grad_checkpoint)
    if value(mode) == "train":
        if compare_peers:
            raise VitbenchError("--compare-peers compares forward counts; it does not apply to --mode train")
        return _train_flops(model, res, batch, value(counter), value(device), value(attn), grad_checkpoint, chosen,
                            given)
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
        from vitbench.figures.closed_form import split_curves
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


def _train_flops(model: str, res, batch: int, counter: str, device: str, attn: str, grad_checkpoint: bool,
                 chosen, given: dict) -> None:
    """`flops --mode train`: the closed form's training MACs per component, and FlopCounterMode's count of a
    real step beside it (--counter torch | all)."""
    from vitbench.cost.training import training_macs
    from vitbench.render.train import counted_lines, train_flops_table, train_macs_lines

    counters = {"analytic": (), "torch": ("torch",), "all": ("torch",)}.get(counter)
    if counters is None:
        raise VitbenchError("--mode train: fvcore traces a forward only (no backward); use --counter analytic, "
                            "torch or all")
    if counters and device == "meta" and attn not in ("math", "manual"):
        raise VitbenchError(f"--mode train --attn {attn}: on the meta device SDPA runs as the math path (no fused "
                            f"kernel, no recompute); count --attn math or manual on meta, or --device cpu")
    rows, lines = [], []
    for cfg in build_configs(model, res, given):
        t = training_macs(cfg, attn, grad_checkpoint)
        lines += [train_flops_table(cfg, t, batch, attn, grad_checkpoint), *train_macs_lines(t, batch)]
        key = {**cfg.to_row(), "mode": "train", "attn": attn, "grad_checkpoint": grad_checkpoint, "batch": batch,
               "params": analytic.params(cfg).total}
        rows.append({**key, "counter": "analytic", "count_device": "", "macs": t.forward.total,
                     **{f"macs_{c}": getattr(t.forward, c) for c in MATMUL_COMPONENTS}, "macs_train": t.model,
                     "macs_recompute": t.hardware - t.model, "macs_step": t.hardware})
        counted = [("torch", device, _torch_step_macs(cfg, device, batch, attn, grad_checkpoint)) for _ in counters]
        lines += counted_lines(t.hardware, counted, batch)
        rows += [{**key, "counter": name, "count_device": where, "macs_step": total} for name, where, total in counted]
    emit("flops", rows, chosen, lines, columns=TRAIN_FLOPS_COLUMNS,
         settings={"model": model, "res": res, "batch": batch, "counter": counter, "device": device, "mode": "train",
                   "attn": attn, "grad_checkpoint": grad_checkpoint, "overrides": given})


def _torch_step_macs(cfg, device: str, batch: int, attn: str, grad_checkpoint: bool) -> int:
    """FlopCounterMode's MACs per image of a real training step (vitbench.cost.training_count.count_torch_training)."""
    from vitbench.cost.training_count import count_torch_training

    return count_torch_training(cfg, device, batch, attn, grad_checkpoint).total


@app.command()
def memory(
    model: ModelOpt, res: ResOpt = None,
    batch: Annotated[int, typer.Option(min=1, help="Images per step / forward.")] = 1,
    mode: Annotated[Mode, typer.Option(help="train: a training step's tensors; infer: a forward's lower bound."
                                       )] = Mode.train,
    dtype: Annotated[DType, typer.Option(help="Weights/compute type (docs/training.md: fp16 is not trained; "
                                              "use amp-fp16).")] = DType.fp32,
    attn: AttnOpt = Attn.sdpa, optimizer: OptimizerOpt = None, grad_checkpoint: GradCheckpointOpt = False,
    device: Annotated[MemoryDevice, typer.Option(help="Whose rules: cuda or cpu (they differ in bf16 LayerNorm "
                                                      "statistics, autocast's softmax, AdamW's step counters)."
                                                 )] = MemoryDevice.cuda,
    csv: CsvOpt = None, json: JsonOpt = None,
    patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None, heads: HeadsOpt = None,
    mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None, registers: RegistersOpt = None,
) -> None:
    """The memory model of a training step or a forward, in MiB (closed form, no torch).

    Train: weights, gradients, optimizer state, inputs, saved activations and
    the peak's lower bound (exact tensor bytes; --device picks the CUDA or CPU
    rules). Infer: the forward's lower bound."""
    from vitbench.render.train import memory_table

    chosen = outputs(csv, json)
    mode, dtype, attn, device = value(mode), value(dtype), value(attn), value(device)
    training_options(mode, value(optimizer), grad_checkpoint)
    optimizer = (value(optimizer) or "adamw") if mode == "train" else None
    rows, tables = [], []
    for cfg in build_configs(model, res, overrides(patch, dim, depth, heads, mlp_ratio, classes, pool, registers)):
        row, mem = _memory_row(cfg, batch, dtype, attn, mode, optimizer, grad_checkpoint, device)
        rows.append(row)
        tables.append(memory_table(cfg, batch, dtype, attn, device, mem, row["mem_peak_pred_mib"],
                                   row["mem_weights_mib"], optimizer, grad_checkpoint))
    emit("memory", rows, chosen, tables, columns=MEMORY_COLUMNS,
         settings={"model": model, "res": res, "batch": batch, "mode": mode, "dtype": dtype, "attn": attn,
                   "optimizer": optimizer, "grad_checkpoint": grad_checkpoint, "device": device})


def _memory_row(cfg, batch: int, dtype: str, attn: str, mode: str, optimizer, grad_checkpoint: bool, device: str):
    """(the `memory` row in MiB, the TrainingMemory of a train point or None)."""
    from vitbench.cost.memory import BYTES, MIB, by_kind_mib, inference_lower_bound_bytes, training_memory

    n_params = analytic.params(cfg).total
    key = {**cfg.to_row(), "batch": batch, "device": device, "dtype": dtype, "attn": attn, "mode": mode,
           "optimizer": optimizer, "grad_checkpoint": grad_checkpoint, "params": n_params}
    if mode != "train":
        bound = inference_lower_bound_bytes(cfg, n_params, batch, dtype, attn)
        return {**key, "mem_weights_mib": n_params * BYTES[dtype][0] / MIB, "mem_peak_pred_mib": bound / MIB}, None
    mem = training_memory(cfg, batch, dtype, attn, optimizer, grad_checkpoint, device)
    return {**key, "mem_weights_mib": mem.weights / MIB, **by_kind_mib(mem), "mem_inputs_mib": mem.inputs / MIB,
            "mem_recompute_mib": mem.recompute / MIB, "mem_peak_pred_mib": mem.peak_lower_bound / MIB}, mem
