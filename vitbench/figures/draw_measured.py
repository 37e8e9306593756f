"""Drawing the measured figures of inference rows, from the data vitbench.figures.plan chose: latency and
throughput vs tokens, peak memory vs tokens, MFU vs batch. No torch.

Latency in ms per iteration of the whole batch (median; bars p10–p90), throughput in images/s, memory in MiB.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vitbench.figures.canvas import (SIZE, TOKENS_LABEL, batch_axis, legend_below, log_axes, new_figure, style,
                                     tick_values, wrap)
from vitbench.figures.plan import LatencyVsTokens, MemoryVsTokens, MfuVsBatch
from vitbench.figures.rows import MEMORY_KIND

def _spread(g: pd.DataFrame) -> np.ndarray | None:
    """p10–p90 error bars around the median latency, or None where the columns are missing."""
    if not {"latency_ms_p10", "latency_ms_p90"} <= set(g) or g[["latency_ms_p10", "latency_ms_p90"]].isna().any().any():
        return None
    med = g["latency_ms_median"]
    return np.vstack([med - g["latency_ms_p10"], g["latency_ms_p90"] - med]).clip(min=0)


def _line_tokens(data) -> pd.Series:
    return pd.concat([g["tokens"] for _, g in data.lines])


def latency_vs_tokens(data: LatencyVsTokens):
    """Median latency (p10–p90 bars) and throughput vs tokens, one line per backend / dtype / model."""
    fig, axes = new_figure(1, 2, (12.5, 4.8))
    ax_lat, ax_thr = axes[0]
    for i, (label, g) in enumerate(data.lines):
        err, line_style = _spread(g), style(i)
        ax_lat.errorbar(g["tokens"], g["latency_ms_median"], yerr=err, fmt="-", **line_style, ms=6, mfc="none",
                        capsize=3, label=label)
        thr = g["throughput_ips"] if "throughput_ips" in g and g["throughput_ips"].notna().all() else (
            g["batch"] * 1e3 / g["latency_ms_median"])
        thr_err = None if err is None else np.vstack([
            thr - g["batch"] * 1e3 / g["latency_ms_p90"], g["batch"] * 1e3 / g["latency_ms_p10"] - thr]).clip(min=0)
        ax_thr.errorbar(g["tokens"], thr, yerr=thr_err, fmt="-", **line_style, ms=6, mfc="none", capsize=3)
    for ax in (ax_lat, ax_thr):
        log_axes(ax)
        tick_values(ax, _line_tokens(data))
        ax.set_xlabel(TOKENS_LABEL)
    ax_lat.set_ylabel("latency (ms per batch forward, median; bars p10–p90)")
    ax_thr.set_ylabel("throughput (images/s; bars from p10–p90)")
    ax_lat.set_title("latency", fontsize=10)
    ax_thr.set_title("throughput = batch / median latency", fontsize=10)
    legend_below(fig, ax_lat, len(data.lines), data.legend_title)
    fig.suptitle(wrap(f"Latency and throughput vs tokens — {data.context}", 12.5, 12))
    return fig


def memory_vs_tokens(data: MemoryVsTokens):
    """Measured peak memory vs tokens, with the closed-form lower bound dashed in the same colour."""
    fig, axes = new_figure(size=(8, 5.2))
    ax = axes[0, 0]
    for i, ((label, g), bound) in enumerate(zip(data.lines, data.bounds)):
        line, = ax.plot(g["tokens"], g["mem_peak_mib"], "-", **style(i), ms=6, mfc="none", label=label)
        if bound is not None:
            ax.plot(g["tokens"], bound, ls="--", lw=1, color=line.get_color())
    bounded = any(b is not None for b in data.bounds)
    if bounded:
        base = " + measured base" if data.base_measured else ""
        what = ("infer: weights + live activations; train: + optimizer state, inputs, saved activations"
                if data.has_train else "weights + live activations")
        ax.plot([], [], "k--", lw=1, label=f"lower bound: {what} (closed form){base}")
    log_axes(ax)
    tick_values(ax, _line_tokens(data))
    ax.set_xlabel(TOKENS_LABEL)
    how = "; ".join(MEMORY_KIND[d] for d in data.devices if d in MEMORY_KIND) or "measured"
    ax.set_ylabel(f"peak memory (MiB; {how})")
    legend_below(fig, ax, len(data.lines) + int(bounded), data.legend_title)
    ax.set_title(wrap(f"Peak memory vs tokens — {data.context}", 8), fontsize=10)
    return fig


def mfu_vs_batch(data: MfuVsBatch):
    """Model FLOP utilisation vs batch on CUDA, one line per model / dtype / backend."""
    fig, axes = new_figure()
    ax = axes[0, 0]
    for i, (label, g) in enumerate(data.lines):
        ax.plot(g["batch"], g["mfu"] * 100, "-", **style(i), ms=6, mfc="none", label=label)
    batch_axis(ax, list(data.batches), "batch (images per forward)")
    ax.set_ylabel("MFU (%): 2·MACs·batch / median time / dtype peak")
    ax.set_ylim(0, max(10.0, data.mfu_max * 115))
    ax.legend(fontsize=8, title=data.legend_title, title_fontsize=8)
    ax.set_title(wrap(f"Model FLOP utilisation vs batch — {data.context}", SIZE[0]), fontsize=10)
    return fig
