"""`vitbench train-cost`: the compute, device-time and money of a whole training run (closed form, no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.cli.options import (ClassesOpt, Convention, CsvOpt, DepthOpt, DimOpt, DType, HeadsOpt, JsonOpt,
                                  MlpRatioOpt, ModelOpt, PatchOpt, PoolOpt, RegistersOpt, ResOpt, build_configs,
                                  finite, outputs, overrides, value)
from vitbench.errors import VitbenchError
from vitbench.schema import TRAIN_COST_COLUMNS


def _fraction(x: Optional[float]) -> Optional[float]:
    if x is not None and not (0 < finite(x) <= 1):
        raise typer.BadParameter(f"MFU is a fraction in (0, 1] (40% is 0.4), got {x}")
    return x


@app.command("train-cost")
def train_cost_cmd(
    model: ModelOpt,
    device: Annotated[str, typer.Option("--device", help="The device unit, a vitbench.hardware key: a GPU (h100-sxm, "
                                        "a100-sxm4-80gb, ...), a TPU chip (tpu-v4-chip) or core (tpu-v3-core); "
                                        "aliases h100, a100, tpu-v3, ... An unknown key lists them all.",
                                        show_default=False)],
    res: ResOpt = None,
    images: Annotated[Optional[int], typer.Option(min=1, help="Images seen in training.", show_default=False)] = None,
    dataset_size: Annotated[Optional[int], typer.Option(min=1, help="Images in the dataset (with --epochs).",
                                                        show_default=False)] = None,
    epochs: Annotated[Optional[float], typer.Option(min=0, callback=finite, help="Passes over the dataset.",
                                                    show_default=False)] = None,
    dtype: Annotated[DType, typer.Option(help="Training precision: picks the datasheet peak (amp-bf16 runs at "
                                              "the bf16 rate).")] = DType.bf16,
    mfu: Annotated[Optional[float], typer.Option(callback=_fraction, help="Model FLOP utilisation, a fraction "
                                                 "in (0, 1].", show_default=False)] = None,
    measured: Annotated[Optional[Path], typer.Option("--measured", help="A `bench --mode train` result file "
                                                     "(.csv/.json): the MFU of its best ok row for this model, "
                                                     "resolution and precision.", show_default=False)] = None,
    device_days: Annotated[Optional[float], typer.Option("--device-days", callback=finite, help="Reported "
                                                         "device-days (the inverse: the MFU they imply).",
                                                         show_default=False)] = None,
    price: Annotated[Optional[float], typer.Option(min=0, callback=finite, help="Price per device-hour (any "
                                                   "currency).", show_default=False)] = None,
    convention: Annotated[Convention, typer.Option(help="MACs per image: model (forward + backward, the MFU "
                                                        "numerator) or 3x-forward (papers' estimates).")
                          ] = Convention.model,
    csv: CsvOpt = None, json: JsonOpt = None,
    patch: PatchOpt = None, dim: DimOpt = None, depth: DepthOpt = None, heads: HeadsOpt = None,
    mlp_ratio: MlpRatioOpt = None, classes: ClassesOpt = None, pool: PoolOpt = None, registers: RegistersOpt = None,
) -> None:
    """Compute, device-time and cost of a training run, or the MFU reported device-days imply.

    Give the images seen (--images, or --dataset-size × --epochs) and one of
    --mfu, --measured or --device-days. Compute = training MACs per image ×
    images; device-time = FLOPs / (MFU × peak); cost = device-hours × --price."""
    from vitbench.cli.output import emit
    from vitbench.cost.train_cost import images_seen, train_cost
    from vitbench.render.train import train_cost_table

    chosen = outputs(csv, json)
    if sum(x is not None for x in (mfu, measured, device_days)) != 1:
        raise VitbenchError("give exactly one of --mfu, --measured and --device-days")
    seen = images_seen(images, dataset_size, epochs)
    rows, tables = [], []
    for cfg in build_configs(model, res, overrides(patch, dim, depth, heads, mlp_ratio, classes, pool, registers)):
        rate, source = _mfu(cfg, mfu, measured, value(dtype))
        run = train_cost(cfg, seen, device, dtype=value(dtype), mfu=rate, device_days=device_days,
                         price_per_hour=price, convention=value(convention))
        tables.append(train_cost_table(cfg, run, value(convention), source or "implied by --device-days"))
        rows.append(_row(cfg, run, value(convention), value(dtype)))
    emit("train-cost", rows, chosen, tables, columns=TRAIN_COST_COLUMNS,
         settings={"model": model, "res": res, "images": seen, "device": device, "dtype": value(dtype), "mfu": mfu,
                   "measured": None if measured is None else str(measured), "device_days": device_days,
                   "price": price, "convention": value(convention)})


def _mfu(cfg, mfu: Optional[float], measured: Optional[Path], dtype: str) -> tuple[Optional[float], Optional[str]]:
    """(MFU, where it came from): --mfu as given, or the best row of a measured file; (None, None) for the
    inverse."""
    if measured is None:
        return mfu, None if mfu is None else "given (--mfu)"
    from vitbench.cost.train_cost import measured_mfu
    from vitbench.results_io import read_table

    found = measured_mfu(read_table(measured).to_dict("records"), cfg, dtype, str(measured))
    return found.mfu, found.source


def _row(cfg, run, convention: str, dtype: str) -> dict:
    from vitbench.cost.training import training_macs

    return {**cfg.to_row(), "convention": convention, "images": run.images, "macs_train": training_macs(cfg).model,
            "macs_total": run.macs, "flops_total": run.flops, "hardware": run.device.key, "dtype": dtype,
            "peak_tflops": run.peak_tflops, "mfu": run.mfu, "device_hours": run.device_hours,
            "device_days": run.device_days, "price_per_hour": run.price_per_hour, "cost": run.cost}
