"""Drawing the training figures, from the data vitbench.figures.plan chose: training memory vs batch (measured
beside the closed-form bound) and time per image vs tokens, train step against inference forward. No torch.

Memory in MiB; time per image in ms (median time of the batch / batch).
"""

from __future__ import annotations

import pandas as pd

from vitbench.figures.canvas import (TOKENS_LABEL, batch_axis, legend_below, log_axes, new_figure, style,
                                     tick_values, wrap)
from vitbench.figures.plan import TimePerImageVsTokens, TrainMemoryVsBatch
from vitbench.figures.rows import MEMORY_KIND

def _peak_above_base(g: pd.DataFrame) -> pd.Series:
    """Measured peak minus what was resident before the build (CPU: python + torch; CUDA: earlier allocations)."""
    base = g["mem_base_mib"].fillna(0.0) if "mem_base_mib" in g else 0.0
    return g["mem_peak_mib"] - base


def train_memory_vs_batch(data: TrainMemoryVsBatch):
    """Train rows: measured peak memory above the base against batch (solid), and the closed-form lower bound
    (vitbench.cost.memory, dashed in the same colour); one line per model / tokens / runtime setting."""
    fig, axes = new_figure(size=(8, 5.4))
    ax = axes[0, 0]
    for i, (label, g) in enumerate(data.lines):
        line, = ax.plot(g["batch"], _peak_above_base(g), "-", **style(i), ms=6, mfc="none", label=label)
        ax.plot(g["batch"], g["mem_peak_pred_mib"], ls="--", lw=1, marker=".", color=line.get_color())
    ax.plot([], [], "k--", lw=1, marker=".", label="closed-form lower bound")
    batch_axis(ax, list(data.batches), "batch (images per training step)")
    how = "; ".join(MEMORY_KIND[d] for d in data.devices if d in MEMORY_KIND)
    ax.set_ylabel(f"peak − base (MiB; {how})")
    ax.set_ylim(bottom=0)
    legend_below(fig, ax, len(data.lines) + 1, data.legend_title)
    ax.set_title(wrap(f"Training memory vs batch, measured (solid) and closed-form lower bound (dashed: weights "
                      f"+ optimizer state + inputs + saved activations) — {data.context}", 8), fontsize=10)
    return fig


def _ratio_panel(ax, data: TimePerImageVsTokens) -> None:
    """Train step time / inference forward time of each pair, beside the MAC ratio."""
    pairs = data.pairs
    if pairs.empty:
        ax.text(0.5, 0.5, "no infer row measured at the same point as a train row", ha="center", va="center",
                transform=ax.transAxes, fontsize=9)
        ax.set_axis_off()
        return
    for i, (label, g) in enumerate(data.ratio_lines):
        ax.plot(g["tokens"], g["ratio"], "-", **style(i), ms=6, mfc="none", label=label)
    if "macs_ratio" in pairs:
        ax.plot(pairs["tokens"], pairs["macs_ratio"], "k_", ms=14, mew=1.5, ls="none",
                label="MAC ratio: training / forward MACs")
    ax.legend(fontsize=7, loc="best")
    log_axes(ax, y=False)
    tick_values(ax, pairs["tokens"])
    ax.set_ylim(bottom=0)
    ax.set_xlabel(TOKENS_LABEL)
    ax.set_ylabel("train step time / inference forward time (same point)")
    ax.set_title("what a training step costs in forwards", fontsize=10)


def time_per_image_vs_tokens(data: TimePerImageVsTokens):
    """Time per image against tokens for train steps (solid) and inference forwards (dashed) at one batch, and
    the train / infer time ratio of the same points beside the MAC ratio (about 3)."""
    fig, axes = new_figure(1, 2, (12.5, 5.0))
    ax, ax_ratio = axes[0]
    for i, (label, g) in enumerate(data.lines):
        ax.plot(g["tokens"], g["ms_per_image"], "-" if (g["mode"] == "train").all() else "--", **style(i), ms=6,
                mfc="none", label=label)
    log_axes(ax)
    tick_values(ax, data.tokens)
    ax.set_xlabel(TOKENS_LABEL)
    ax.set_ylabel("ms per image (median time of the batch / batch)")
    ax.set_title("time per image: train step (solid) and inference forward (dashed)", fontsize=10)
    _ratio_panel(ax_ratio, data)
    legend_below(fig, ax, len(data.lines), data.legend_title)
    fig.suptitle(wrap(f"Training vs inference time per image vs tokens — {data.context}", 12.5, 12))
    return fig
