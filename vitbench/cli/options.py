"""Options shared by the commands that take a model: the zoo name, resolution(s) and overrides."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from vitbench.zoo import ViTConfig, parse_res, resolve

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Zoo name, e.g. vit_b16, deit_s16 (see `vitbench models`).")]
ResOpt = Annotated[Optional[list[str]], typer.Option(
    "--res", "-r", help="Input resolution in px: 224 or HxW (384x512). Repeat for several.")]
PatchOpt = Annotated[Optional[int], typer.Option(help="Override the patch size (px).")]
DimOpt = Annotated[Optional[int], typer.Option(help="Override the width D.")]
DepthOpt = Annotated[Optional[int], typer.Option(help="Override the depth L (blocks).")]
HeadsOpt = Annotated[Optional[int], typer.Option(help="Override the number of heads.")]
MlpRatioOpt = Annotated[Optional[float], typer.Option("--mlp-ratio", help="Override the MLP ratio (F = ratio × D).")]
ClassesOpt = Annotated[Optional[int], typer.Option(help="Override the number of classes (0 = no head).")]
PoolOpt = Annotated[Optional[str], typer.Option(help="Override pooling: cls or gap.")]
RegistersOpt = Annotated[Optional[int], typer.Option(help="Number of register tokens.")]


def build_configs(model: str, res: list[str] | None, **overrides) -> list[ViTConfig]:
    """One config per requested resolution (the preset's own when none is given)."""
    overrides = {("num_classes" if k == "classes" else k): v for k, v in overrides.items()}
    if not res:
        return [resolve(model, None, **overrides)]
    return [resolve(model, parse_res(r), **overrides) for r in res]
