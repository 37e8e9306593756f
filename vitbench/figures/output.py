"""Writing figures: `plot_results` draws every figure the plan chose into a folder (<name>.<fmt>) and says why
the others were skipped; files are replaced atomically. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vitbench.errors import VitbenchError
from vitbench.figures import draw_cost, draw_measured, draw_train
from vitbench.figures.plan import FIGURES
from vitbench.figures.rows import Skip
from vitbench.storage import write_atomic

FORMATS = ("png", "svg")
DRAW = {  # figure name -> draw(its FigureData) -> matplotlib Figure
    "macs_vs_tokens": draw_cost.macs_vs_tokens,
    "attn_share_vs_res": draw_cost.attn_share_vs_res,
    "latency_vs_tokens": draw_measured.latency_vs_tokens,
    "memory_vs_tokens": draw_measured.memory_vs_tokens,
    "mfu_vs_batch": draw_measured.mfu_vs_batch,
    "train_memory_vs_batch": draw_train.train_memory_vs_batch,
    "time_per_image_vs_tokens": draw_train.time_per_image_vs_tokens,
}


@dataclass(frozen=True)
class FigureFile:
    name: str
    path: Path
    caption: str


@dataclass(frozen=True)
class PlotResult:
    made: tuple[FigureFile, ...]
    skipped: tuple[tuple[str, Skip], ...]  # (figure name, why)


def save(fig, path: Path) -> Path:
    """The figure to `path` (format from its suffix), atomically."""
    return write_atomic(path, lambda f: fig.savefig(f, format=path.suffix.lstrip(".").lower()))


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise VitbenchError(f"unknown figure format {fmt!r}; valid: {', '.join(FORMATS)}")
    return fmt


def plot_results(df: pd.DataFrame, out_dir: str | Path, fmt: str = "png") -> PlotResult:
    """Draw every figure the rows support into `out_dir` (<name>.<fmt>); say why the others were skipped.
    Each figure is planned, drawn and written before the next is planned."""
    check_format(fmt)
    made, skipped = [], []
    for figure in FIGURES:
        data = figure.plan(df)
        if isinstance(data, Skip):
            skipped.append((figure.name, data))
        else:
            path = save(DRAW[figure.name](data), Path(out_dir) / f"{figure.name}.{fmt}")
            made.append(FigureFile(figure.name, path, figure.caption))
    return PlotResult(tuple(made), tuple(skipped))
