"""Options shared by the commands: the model and its overrides, typed choices (so `--help` lists them), output
files. Choices come from their one definition (vitbench.dtypes, vitbench.measure.spec, ...). No torch."""

from __future__ import annotations

import enum
import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cost.train_cost import CONVENTIONS
from vitbench.errors import VitbenchError
from vitbench.measure.spec import ATTN_BACKENDS, DTYPES, MODES, OPTIMIZERS
from vitbench.zoo import POOLS, ViTConfig


def _choices(name: str, values) -> type[enum.Enum]:
    return enum.Enum(name, {v: v for v in values}, type=str)


DType = _choices("DType", DTYPES)
Attn = _choices("Attn", ATTN_BACKENDS)
Pool = _choices("Pool", POOLS)
Mode = _choices("Mode", MODES)
Optimizer = _choices("Optimizer", OPTIMIZERS)
Counter = _choices("Counter", ("analytic", "fvcore", "torch", "all"))
CountDevice = _choices("CountDevice", ("meta", "cpu", "cuda"))
MemoryDevice = _choices("MemoryDevice", ("cuda", "cpu"))
Convention = _choices("Convention", CONVENTIONS)
FigureFormat = _choices("FigureFormat", ("png", "svg"))


def value(choice) -> Optional[str]:
    """An Enum option's plain value (None stays None)."""
    return None if choice is None else getattr(choice, "value", choice)


def finite(x: Optional[float]) -> Optional[float]:
    """Typer parses 'inf' and 'nan' as floats: refuse them (one line)."""
    if x is not None and not math.isfinite(x):
        raise typer.BadParameter(f"must be a finite number, got {x}")
    return x


ModelOpt = Annotated[str, typer.Option(
    "--model", "-m", help="Zoo name (vit_b16, deit_s16, any vit_{ti,s,b,l,h}<patch>; see `vitbench models`), or "
                          "timm:NAME / torchvision:NAME.", show_default=False)]
ResOpt = Annotated[Optional[list[str]], typer.Option(
    "--res", "-r", help="Input resolution in px: 224 or HxW (384x512). Repeat for several. [default: the "
                        "model's, 224]", show_default=False)]
PatchOpt = Annotated[Optional[int], typer.Option(help="Override the patch size (px).", show_default=False)]
DimOpt = Annotated[Optional[int], typer.Option(help="Override the width D.", show_default=False)]
DepthOpt = Annotated[Optional[int], typer.Option(help="Override the depth L (blocks).", show_default=False)]
HeadsOpt = Annotated[Optional[int], typer.Option(help="Override the number of heads.", show_default=False)]
MlpRatioOpt = Annotated[Optional[float], typer.Option(
    "--mlp-ratio", help="Override the MLP ratio (F = ratio × D).", callback=finite, show_default=False)]
ClassesOpt = Annotated[Optional[int], typer.Option(help="Override the number of classes (0 = no head).",
                                                   show_default=False)]
PoolOpt = Annotated[Optional[Pool], typer.Option(help="Override pooling.", show_default=False)]
RegistersOpt = Annotated[Optional[int], typer.Option(help="Number of register tokens.", show_default=False)]
CsvOpt = Annotated[Optional[str], typer.Option(
    "--csv", help="Also write the rows as CSV to this path ('-' for stdout: the table goes to stderr); a file "
                  "gets a .meta.json sidecar.", show_default=False)]
JsonOpt = Annotated[Optional[str], typer.Option(
    "--json", help="Also write the rows as JSON to this path ('-' for stdout); a file gets a .meta.json "
                   "sidecar.", show_default=False)]
DeviceOpt = Annotated[str, typer.Option(help="auto (cuda if available) | cpu | cuda | cuda:N.")]
OptimizerOpt = Annotated[Optional[Optimizer], typer.Option(
    help="Training optimizer: adamw (torch defaults) or sgd (momentum 0.9). [default: adamw; --mode train only]",
    show_default=False)]
GradCheckpointOpt = Annotated[bool, typer.Option(
    "--grad-checkpoint", help="Per-block activation checkpointing (torch.utils.checkpoint; --mode train only).")]


def training_options(mode: Optional[str], optimizer: Optional[str], grad_checkpoint: bool) -> None:
    """--optimizer and --grad-checkpoint describe a training step: refuse them without --mode train."""
    if mode != "train" and (optimizer is not None or grad_checkpoint):
        given = [o for o, v in (("--optimizer", optimizer is not None), ("--grad-checkpoint", grad_checkpoint)) if v]
        verb = "describe" if len(given) > 1 else "describes"
        raise VitbenchError(f"{' and '.join(given)} {verb} a training step; add --mode train")


def overrides(patch=None, dim=None, depth=None, heads=None, mlp_ratio=None, classes=None, pool=None,
              registers=None) -> dict:
    """The zoo overrides a command was given, by ViTConfig field name (None = keep the preset's)."""
    return {"patch": patch, "dim": dim, "depth": depth, "heads": heads, "mlp_ratio": mlp_ratio,
            "num_classes": classes, "pool": value(pool), "registers": registers}


def build_configs(model: str, res: list[str] | None, given: dict) -> list[ViTConfig]:
    """The config to measure at each requested resolution (vitbench.subject: zoo names with their overrides, or
    an external model the closed form covers, so its rows carry exact cost columns)."""
    from vitbench.subject import subjects

    return [s.require_cfg() for s in subjects(model, res, given)]


def outputs(csv: Optional[str], json: Optional[str]) -> list[tuple[str, str]]:
    """[(format, path)] of --csv / --json, checked before any work: suffixes, writable paths, one stdout."""
    from vitbench.storage import STDOUT, check_writable

    chosen = [(fmt, path) for fmt, path in (("csv", csv), ("json", json)) if path is not None]
    if sum(path == STDOUT for _, path in chosen) > 1:
        raise VitbenchError("only one of --csv and --json can write to stdout ('-')")
    for fmt, path in chosen:
        if path != STDOUT and Path(path).suffix != f".{fmt}":
            raise VitbenchError(f"--{fmt} needs a path ending in .{fmt} (or '-' for stdout), got {path!r}")
        check_writable(path)
    return chosen


def to_stdout(chosen: list[tuple[str, str]]) -> bool:
    """True when rows go to stdout (then tables and messages go to stderr)."""
    return any(path == "-" for _, path in chosen)
