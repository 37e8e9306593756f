"""Figures from result files (`vitbench plot`, `vitbench report`) and closed-form curves (`split --plot`).

No torch. matplotlib is imported lazily inside the drawing functions and used through its object API on an
Agg canvas: no GUI, no pyplot state, nothing changed for a caller's own matplotlib.
Units: MACs per image (1 MAC = 2 FLOPs), latency in ms per iteration of the whole batch (a forward, or a
training step), throughput in images/s, memory in MiB. Cost figures use every row (cost is known where a measurement failed); measured
figures use rows with status 'ok' only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import pandas as pd

from vitbench.cost import analytic
from vitbench.errors import VitbenchError
from vitbench.plotdata import (common_context, cost_rows, measured_rows, memory_lower_bound_mb, row_config, series,
                               with_patch)
from vitbench.zoo import ViTConfig

FORMATS = ("png", "svg")
SIZE = (7.0, 4.5)  # inches, one panel
DPI = 120
COMPONENTS = ("patch_embed", "attn_proj", "attn_core", "mlp", "head")
LABELS = {"patch_embed": "patch embed", "attn_proj": "attn proj (qkv + out)", "attn_core": "attn core (QKᵀ, AV)",
          "mlp": "MLP (fc1 + fc2)", "head": "head"}
COLORS = {"patch_embed": "#8c8c8c", "attn_proj": "#1f77b4", "attn_core": "#d62728", "mlp": "#2ca02c",
          "head": "#9467bd"}
GMACS_LABEL = "GMACs per image (1 MAC = 2 FLOPs)"
TOKENS_LABEL = "tokens N"
MAX_MODEL_PANELS = 6
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


@dataclass(frozen=True)
class FigureFile:
    name: str
    path: Path
    caption: str


@dataclass(frozen=True)
class PlotResult:
    made: tuple[FigureFile, ...]
    skipped: tuple[tuple[str, str], ...]  # (figure name, why)


def _new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = SIZE):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, which="major", alpha=0.3)
        ax.grid(True, which="minor", alpha=0.1)
    return fig, axes


def _style(i: int) -> dict:
    """Colour and marker of the i-th line: no two of the first 100 lines share both."""
    return {"color": f"C{i % 10}", "marker": MARKERS[(i + i // 10) % len(MARKERS)]}


def _log_axes(ax, x: bool = True, y: bool = True) -> None:
    """Log scales with plain tick labels (0.1, 1, 10, 200 — not 2×10²); 1-2-5 ticks over a few decades."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    for flag, axis, setter, limits in ((x, ax.xaxis, ax.set_xscale, ax.get_xlim),
                                       (y, ax.yaxis, ax.set_yscale, ax.get_ylim)):
        if not flag:
            continue
        setter("log")
        lo, hi = limits()
        decades = np.log10(max(hi, 1e-12) / max(lo, 1e-12))
        if decades < 0.8:  # under a decade: evenly spaced round values read better than 1-2-5
            axis.set_major_locator(MaxNLocator(nbins=6))
        else:
            subs = (1.0,) if decades > 4.5 else (1.0, 2.0, 5.0) if decades > 1.5 else (1.0, 2.0, 3.0, 4.0, 5.0, 7.0)
            axis.set_major_locator(LogLocator(base=10, subs=subs))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _wrap(text: str, width_in: float, fontsize: float = 10) -> str:
    """Wrap a title to the figure's width (about 0.6·fontsize points per character)."""
    import textwrap

    return textwrap.fill(text, max(30, int(width_in * 72 / (0.6 * fontsize))), break_on_hyphens=False)


def _tick_values(ax, values, most: int = 7) -> None:
    """Tick a log x axis at the data's own values when there are few of them (e.g. 197, 785, 3137 tokens)."""
    values = sorted({float(v) for v in values})
    crowded = any(b / a < 1.1 for a, b in zip(values, values[1:]))
    if len(values) <= most and not crowded:
        ax.set_xticks(values, [f"{v:g}" for v in values])


def _gmacs_axis(ax) -> None:
    _log_axes(ax)
    ax.set_xlabel(TOKENS_LABEL)
    ax.set_ylabel(GMACS_LABEL)


def _mark_crossover(ax, tokens: int, text: str, xmin: float, xmax: float, line: bool = True) -> None:
    """A dotted vertical line at N = tokens when it is inside [xmin, xmax] (and `line`), else a note."""
    if line and xmin <= tokens <= xmax:
        ax.axvline(tokens, color="black", ls=":", lw=1.2)
        ax.annotate(text, (tokens, 0.02), xycoords=("data", "axes fraction"), xytext=(4, 0),
                    textcoords="offset points", fontsize=8, rotation=90, va="bottom",
                    bbox=dict(fc="white", ec="none", alpha=0.75, pad=1))
    else:
        side = "beyond" if tokens > xmax else "below" if tokens < xmin else "within"
        ax.text(0.99, 0.02, f"{text} ({side} the data)", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=8, bbox=dict(fc="white", ec="none", alpha=0.75, pad=1))


def _macs_panel(ax, g: pd.DataFrame, arch: str, connect: bool) -> None:
    """GMACs per component vs tokens (log-log): the rows as markers (joined when they form one series), and
    the components that depend on N alone as closed-form dashed curves over a range reaching N = F."""
    cfg = row_config(g.iloc[0])
    cross = analytic.crossovers(cfg)[0]
    n = g["tokens"].to_numpy(float)
    lo, hi = n.min() / 1.5, max(n.max(), cross.tokens) * 1.5
    curve_n, curve = closed_form_series(cfg, lo, hi)
    L, D, F = cfg.depth, cfg.dim, cfg.mlp_hidden
    style = "-" if connect else "none"
    for c in COMPONENTS:
        ax.plot(n, g[f"macs_{c}"] / 1e9, marker="o", ls=style, color=COLORS[c], label=LABELS[c], ms=5, lw=1.5)
        if c in ("attn_proj", "attn_core", "mlp"):  # functions of N alone, whatever the patch
            ax.plot(curve_n, [getattr(b, c) / 1e9 for b in curve], color=COLORS[c], lw=0.8, ls="--", alpha=0.7)
    total = sum(g[f"macs_{c}"] for c in COMPONENTS)
    ax.plot(n, total / 1e9, marker="s", ls=style, color="black", ms=5, lw=2, label="total")
    ax.plot([], [], color="grey", lw=0.8, ls="--", label="closed form (attn proj, core, MLP depend on N only)")
    ax.set_xlim(lo, hi)
    _gmacs_axis(ax)
    _mark_crossover(ax, cross.tokens, f"attn core = MLP at N = F = {cross.tokens}", lo, hi)
    sizes = sorted({(h, w) for h, w in zip(g["res_h"], g["res_w"])})
    res = "/".join(f"{h}" if h == w else f"{h}x{w}" for h, w in sizes)
    patches = "" if "(P" in arch else f" · patch {'/'.join(str(p) for p in sorted(g['patch'].unique()))}"
    ax.set_title(_wrap(f"{arch} · D {D}, L {L}, F {F}{patches} · {res} px", 6), fontsize=10)


def _share_panel(ax, g: pd.DataFrame, arch: str, connect: bool) -> None:
    """Each component's share of the MACs, stacked to 100 %: bands over log tokens for one series, else
    one bar per row (patch and resolution both vary, so N alone does not order them)."""
    total = sum(g[f"macs_{c}"] for c in COMPONENTS)
    shares = np.vstack([g[f"macs_{c}"] / total * 100 for c in COMPONENTS])
    cross = analytic.crossovers(row_config(g.iloc[0]))[0]
    n = g["tokens"].to_numpy(float)
    if connect:
        ax.stackplot(n, shares, colors=[COLORS[c] for c in COMPONENTS], alpha=0.85)
        ax.set_xlim(n.min(), n.max())
        _log_axes(ax, y=False)
        _tick_values(ax, n, most=8)  # the rows' own token counts; bands are straight between them
        if len(n) <= 8:
            ax.vlines(n, 0, 100, colors="white", lw=0.8, alpha=0.8)
        ax.set_xlabel(TOKENS_LABEL)
        _mark_crossover(ax, cross.tokens, f"core = MLP at N = {cross.tokens}", n.min(), n.max())
    else:
        x, bottom = np.arange(len(g)), np.zeros(len(g))
        for c, share in zip(COMPONENTS, shares):
            ax.bar(x, share, bottom=bottom, color=COLORS[c], alpha=0.85, width=0.7)
            bottom += share
        ax.set_xticks(x, [f"{t}\nP{p} · {h}" for t, p, h in zip(g["tokens"], g["patch"], g["res_h"])], fontsize=8)
        ax.set_xlabel("tokens N (patch · resolution px)")
        _mark_crossover(ax, cross.tokens, f"core = MLP at N = {cross.tokens}", n.min(), n.max(), line=False)
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of MACs per image (%)")
    ax.set_title(f"{arch}: where the MACs go (stacked to 100 %)", fontsize=10)


def fig_macs_vs_tokens(df: pd.DataFrame):
    """Per model: MACs per component vs tokens (log-log; rows as markers, closed form as dashed curves), and
    the share of each component stacked to 100 %. The attention-core/MLP crossover N = F is marked."""
    rows = cost_rows(df, [f"macs_{c}" for c in COMPONENTS])
    if isinstance(rows, str):
        return rows
    groups = [(arch, g.sort_values(["tokens", "res_h"])) for arch, g in rows.groupby("arch", sort=True)
              if g["tokens"].nunique() >= 2]
    if not groups:
        return "every model has a single token count (needs >= 2 per model)"
    shown = sorted(groups, key=lambda ag: -ag[1]["tokens"].nunique())[:MAX_MODEL_PANELS]
    fig, axes = _new_figure(len(shown), 2, (12.5, 4.6 * len(shown)))
    for (arch, g), (ax, ax_share) in zip(shown, axes):
        connect = g[["res_h", "res_w"]].drop_duplicates().shape[0] == 1 or g["patch"].nunique() == 1
        _macs_panel(ax, g, arch, connect)
        _share_panel(ax_share, g, arch, connect)
    _legend_below(fig, axes[0, 0], 7)
    more = f"; {len(shown)} of {len(groups)} models" if len(shown) < len(groups) else ""
    fig.suptitle(f"MACs per image vs tokens, by component (closed form; markers = rows of the file{more})")
    return fig


def fig_attn_share_vs_res(df: pd.DataFrame):
    """Attention-core share of MACs vs input resolution, one line per model and patch size."""
    rows = cost_rows(df, ["attn_core_share"])
    if isinstance(rows, str):
        return rows
    rows = rows.assign(side=np.sqrt(rows["res_h"] * rows["res_w"]))
    lines = [(key, g.sort_values("side")) for key, g in rows.groupby(["arch", "patch"]) if g["side"].nunique() >= 2]
    if not lines:
        return "every model and patch size has a single resolution (needs >= 2)"
    lines.sort(key=lambda kg: -kg[1]["attn_core_share"].iloc[-1])  # legend order = order at the right end
    square = bool((rows["res_h"] == rows["res_w"]).all())
    many = len(lines) > 6
    fig, axes = _new_figure(size=(9.0, 5.0) if many else SIZE)
    ax = axes[0, 0]
    for i, ((arch, patch), g) in enumerate(lines):
        line, = ax.plot(g["side"], g["attn_core_share"] * 100, "-", **_style(i), label=with_patch(arch, patch))
        if not many:  # end values; with many lines they would overlap
            last = g.iloc[-1]
            ax.annotate(f"{last['attn_core_share'] * 100:.1f}%", (last["side"], last["attn_core_share"] * 100),
                        xytext=(5, 0), textcoords="offset points", va="center", fontsize=8, color=line.get_color())
    ax.set_xlabel("input resolution (px per side)" if square else "input resolution √(H·W) (px)")
    ax.set_ylabel("attention-core share of MACs (%)")
    ax.set_ylim(0, max(5.0, rows["attn_core_share"].max() * 115))
    ax.margins(x=0.12)
    ax.set_title("Attention core (QKᵀ, AV) share of MACs per image vs resolution\n(closed form; "
                 "core = 2·L·N²·D grows with N², the rest with N)", fontsize=10)
    if many:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    else:
        ax.legend(fontsize=8)
    return fig


def _spread(g: pd.DataFrame) -> np.ndarray | None:
    """p10–p90 error bars around the median latency, or None where the columns are missing."""
    if not {"latency_ms_p10", "latency_ms_p90"} <= set(g) or g[["latency_ms_p10", "latency_ms_p90"]].isna().any().any():
        return None
    med = g["latency_ms_median"]
    return np.vstack([med - g["latency_ms_p10"], g["latency_ms_p90"] - med]).clip(min=0)


def _lines_along_tokens(df: pd.DataFrame, columns: list[str], none_reason: str):
    """(legend title, lines) of ok rows with `columns`, one line per varying series along tokens; or a str
    saying why there is nothing to draw."""
    ok = measured_rows(df, columns)
    if isinstance(ok, str):
        return ok
    title, lines = series(ok, "tokens")
    return (title, lines) if lines else none_reason


def fig_latency_vs_tokens(df: pd.DataFrame):
    """Median latency (p10–p90 bars) and throughput vs tokens, one line per backend / dtype / model."""
    found = _lines_along_tokens(df, ["latency_ms_median"],
                                "no line has >= 2 token counts (rows differ only in batch, or single points)")
    if isinstance(found, str):
        return found
    title, lines = found
    fig, axes = _new_figure(1, 2, (12.5, 4.8))
    ax_lat, ax_thr = axes[0]
    for i, (label, g) in enumerate(lines):
        err, style = _spread(g), _style(i)
        ax_lat.errorbar(g["tokens"], g["latency_ms_median"], yerr=err, fmt="-", **style, ms=6, mfc="none",
                        capsize=3, label=label)
        thr = g["throughput_ips"] if "throughput_ips" in g and g["throughput_ips"].notna().all() else (
            g["batch"] * 1e3 / g["latency_ms_median"])
        thr_err = None if err is None else np.vstack([
            thr - g["batch"] * 1e3 / g["latency_ms_p90"], g["batch"] * 1e3 / g["latency_ms_p10"] - thr]).clip(min=0)
        ax_thr.errorbar(g["tokens"], thr, yerr=thr_err, fmt="-", **style, ms=6, mfc="none", capsize=3)
    for ax in (ax_lat, ax_thr):
        _log_axes(ax)
        _tick_values(ax, pd.concat([g["tokens"] for _, g in lines]))
        ax.set_xlabel(TOKENS_LABEL)
    ax_lat.set_ylabel("latency (ms per batch forward, median; bars p10–p90)")
    ax_thr.set_ylabel("throughput (images/s; bars from p10–p90)")
    ax_lat.set_title("latency", fontsize=10)
    ax_thr.set_title("throughput = batch / median latency", fontsize=10)
    _legend_below(fig, ax_lat, len(lines), title)
    fig.suptitle(_wrap(f"Latency and throughput vs tokens — {common_context(_drawn(lines))}", 12.5, 12))
    return fig


def _drawn(lines: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The rows on the figure's lines (for its title: rows of dropped single-point lines are not on it)."""
    return pd.concat([g for _, g in lines])


def _legend_below(fig, ax, n: int, title: str | None = None) -> None:
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=min(n, 4), fontsize=8,
               title=title, title_fontsize=8)


def fig_memory_vs_tokens(df: pd.DataFrame):
    """Measured peak memory vs tokens, with the closed-form lower bound dashed in the same colour."""
    found = _lines_along_tokens(df, ["mem_peak_mib"], "no line has >= 2 token counts")
    if isinstance(found, str):
        return found
    title, lines = found
    ok = _drawn(lines)
    fig, axes = _new_figure(size=(8, 5.2))
    ax = axes[0, 0]
    bounded = False
    for i, (label, g) in enumerate(lines):
        line, = ax.plot(g["tokens"], g["mem_peak_mib"], "-", **_style(i), ms=6, mfc="none", label=label)
        bound = [memory_lower_bound_mb(r) for _, r in g.iterrows()]
        if all(v is not None for v in bound):
            ax.plot(g["tokens"], bound, ls="--", lw=1, color=line.get_color())
            bounded = True
    if bounded:
        base = " + measured base" if "mem_base_mib" in ok and ok["mem_base_mib"].notna().any() else ""
        what = ("infer: weights + live activations; train: + optimizer state, inputs, saved activations"
                if "mode" in ok and (ok["mode"] == "train").any() else "weights + live activations")
        ax.plot([], [], "k--", lw=1, label=f"lower bound: {what} (closed form){base}")
    _log_axes(ax)
    _tick_values(ax, pd.concat([g["tokens"] for _, g in lines]))
    ax.set_xlabel(TOKENS_LABEL)
    devices = set(ok["device"].astype(str).str.split(":").str[0]) if "device" in ok else set()
    how = {"cuda": "CUDA: peak allocated", "cpu": "CPU: peak RSS of the process"}
    ax.set_ylabel(f"peak memory (MiB; {'; '.join(how[d] for d in sorted(devices) if d in how) or 'measured'})")
    _legend_below(fig, ax, len(lines) + int(bounded), title)
    ax.set_title(_wrap(f"Peak memory vs tokens — {common_context(_drawn(lines))}", 8), fontsize=10)
    return fig


def fig_mfu_vs_batch(df: pd.DataFrame):
    """Model FLOP utilisation vs batch on CUDA, one line per model / dtype / backend."""
    if "device" not in df or not df["device"].astype(str).str.startswith("cuda").any():
        return "no CUDA rows (MFU is plotted for CUDA only)"
    ok = measured_rows(df[df["device"].astype(str).str.startswith("cuda")], ["mfu", "batch"])
    if isinstance(ok, str):
        return ok
    title, lines = series(ok, "batch", varying=("tokens",))
    if not lines:
        return "no line has >= 2 batch sizes"
    fig, axes = _new_figure()
    ax = axes[0, 0]
    for i, (label, g) in enumerate(lines):
        ax.plot(g["batch"], g["mfu"] * 100, "-", **_style(i), ms=6, mfc="none", label=label)
    ax.set_xscale("log", base=2)
    batches = sorted(ok["batch"].unique())
    ax.set_xticks(batches, [str(int(b)) for b in batches])
    ax.set_xlabel("batch (images per forward)")
    ax.set_ylabel("MFU (%): 2·MACs·batch / median time / dtype peak")
    ax.set_ylim(0, max(10.0, ok["mfu"].max() * 115))
    ax.legend(fontsize=8, title=title, title_fontsize=8)
    context = common_context(_drawn(lines), ("model", "tokens", "device", "dtype", "attn"))
    ax.set_title(_wrap(f"Model FLOP utilisation vs batch — {context}", SIZE[0]), fontsize=10)
    return fig


def _train_rows(df: pd.DataFrame) -> pd.DataFrame | str:
    if "mode" not in df or not (df["mode"] == "train").any():
        return "no train rows (bench --mode train, or mode: train in a suite)"
    return df[df["mode"] == "train"]


def _peak_above_base(g: pd.DataFrame) -> pd.Series:
    """Measured peak minus what was resident before the build (CPU: python + torch; CUDA: earlier allocations)."""
    base = g["mem_base_mib"].fillna(0.0) if "mem_base_mib" in g else 0.0
    return g["mem_peak_mib"] - base


def fig_train_memory_vs_batch(df: pd.DataFrame):
    """Train rows: measured peak memory above the base against batch (solid), and the closed-form lower bound
    (vitbench.cost.memory, dashed in the same colour); one line per model / tokens / runtime setting."""
    train = _train_rows(df)
    if isinstance(train, str):
        return train
    ok = measured_rows(train, ["mem_peak_mib", "mem_peak_pred_mib"])
    if isinstance(ok, str):
        return ok
    title, lines = series(ok, "batch", varying=("tokens",))
    if not lines:
        return "no train line has >= 2 batch sizes"
    fig, axes = _new_figure(size=(8, 5.4))
    ax = axes[0, 0]
    for i, (label, g) in enumerate(lines):
        line, = ax.plot(g["batch"], _peak_above_base(g), "-", **_style(i), ms=6, mfc="none", label=label)
        ax.plot(g["batch"], g["mem_peak_pred_mib"], ls="--", lw=1, marker=".", color=line.get_color())
    ax.plot([], [], "k--", lw=1, marker=".", label="closed-form lower bound")
    ax.set_xscale("log", base=2)
    batches = sorted(ok["batch"].unique())
    ax.set_xticks(batches, [str(int(b)) for b in batches])
    ax.set_xlabel("batch (images per training step)")
    devices = set(ok["device"].astype(str).str.split(":").str[0]) if "device" in ok else set()
    how = {"cuda": "CUDA: peak allocated", "cpu": "CPU: peak RSS"}
    ax.set_ylabel(f"peak − base (MiB; {'; '.join(how[d] for d in sorted(devices) if d in how)})")
    ax.set_ylim(bottom=0)
    _legend_below(fig, ax, len(lines) + 1, title)
    ax.set_title(_wrap(f"Training memory vs batch, measured (solid) and closed-form lower bound (dashed: weights "
                       f"+ optimizer state + inputs + saved activations) — {common_context(_drawn(lines))}", 8),
                 fontsize=10)
    return fig


PAIR_COLUMNS = ("arch", "patch", "res_h", "res_w", "batch", "dtype", "attn", "device", "compile")


def train_infer_ratio(ok: pd.DataFrame) -> pd.DataFrame:
    """Train rows paired with the infer row of the same point (PAIR_COLUMNS), with `ratio` = train median /
    infer median and `macs_ratio` = training MACs / forward MACs (3 × but the patch embed's 2 ×)."""
    keys = [c for c in PAIR_COLUMNS if c in ok]
    infer = ok[ok["mode"] != "train"].drop_duplicates(subset=keys)[keys + ["latency_ms_median"]]
    pairs = ok[ok["mode"] == "train"].merge(infer, on=keys, suffixes=("", "_infer"))
    pairs = pairs.assign(ratio=pairs["latency_ms_median"] / pairs["latency_ms_median_infer"])
    if "macs_train" in pairs and "macs" in pairs:
        pairs = pairs.assign(macs_ratio=pairs["macs_train"] / pairs["macs"])
    return pairs


def fig_time_per_image_vs_tokens(df: pd.DataFrame):
    """Time per image (median latency / batch) against tokens for train steps and inference forwards, at the
    batch with the most points measured in both modes, and the train / infer time ratio of the same points
    beside the MAC ratio (about 3)."""
    train = _train_rows(df)
    if isinstance(train, str):
        return train
    ok = measured_rows(df, ["latency_ms_median", "batch"])
    if isinstance(ok, str):
        return ok
    ok = ok[ok["batch"] == _common_batch(ok)]  # one batch (lines per batch would crowd the figure)
    ok = ok.assign(ms_per_image=ok["latency_ms_median"] / ok["batch"])
    title, lines = series(ok, "tokens")
    if not lines:
        return "no line has >= 2 token counts"
    fig, axes = _new_figure(1, 2, (12.5, 5.0))
    ax, ax_ratio = axes[0]
    for i, (label, g) in enumerate(lines):
        ax.plot(g["tokens"], g["ms_per_image"], "-" if (g["mode"] == "train").all() else "--", **_style(i), ms=6,
                mfc="none", label=label)
    _log_axes(ax)
    _tick_values(ax, ok["tokens"])
    ax.set_xlabel(TOKENS_LABEL)
    ax.set_ylabel("ms per image (median time of the batch / batch)")
    ax.set_title("time per image: train step (solid) and inference forward (dashed)", fontsize=10)
    pairs = train_infer_ratio(ok) if "mode" in ok else ok.iloc[0:0]
    _ratio_panel(ax_ratio, pairs)
    _legend_below(fig, ax, len(lines), title)
    fig.suptitle(_wrap(f"Training vs inference time per image vs tokens — {common_context(_drawn(lines))}", 12.5, 12))
    return fig


def _common_batch(ok: pd.DataFrame) -> int:
    """The batch with the most train points that have an infer point beside them (ties: the largest)."""
    pairs = train_infer_ratio(ok) if "mode" in ok else ok.iloc[0:0]
    if pairs.empty:
        return ok.loc[ok["mode"] == "train", "batch"].max()
    counts = pairs.groupby("batch").size()
    return max(counts.index, key=lambda b: (counts[b], b))


def _ratio_panel(ax, pairs: pd.DataFrame) -> None:
    if pairs.empty:
        ax.text(0.5, 0.5, "no infer row measured at the same point as a train row", ha="center", va="center",
                transform=ax.transAxes, fontsize=9)
        ax.set_axis_off()
        return
    _, lines = series(pairs, "tokens")
    for i, (label, g) in enumerate(lines or [("", pairs.sort_values("tokens"))]):
        ax.plot(g["tokens"], g["ratio"], "-", **_style(i), ms=6, mfc="none", label=label)
    if "macs_ratio" in pairs:
        ax.plot(pairs["tokens"], pairs["macs_ratio"], "k_", ms=14, mew=1.5, ls="none",
                label="MAC ratio: training / forward MACs")
    ax.legend(fontsize=7, loc="best")
    _log_axes(ax, y=False)
    _tick_values(ax, pairs["tokens"])
    ax.set_ylim(bottom=0)
    ax.set_xlabel(TOKENS_LABEL)
    ax.set_ylabel("train step time / inference forward time (same point)")
    ax.set_title("what a training step costs in forwards", fontsize=10)


FIGURES = (
    ("macs_vs_tokens", fig_macs_vs_tokens,
     "MACs per image vs tokens by component (log-log) and their shares; attention core vs MLP crossover at N = F."),
    ("attn_share_vs_res", fig_attn_share_vs_res, "Attention-core share of MACs vs resolution, per patch size."),
    ("latency_vs_tokens", fig_latency_vs_tokens, "Median latency (p10–p90 bars) and throughput vs tokens."),
    ("memory_vs_tokens", fig_memory_vs_tokens, "Measured peak memory vs tokens, with a closed-form lower bound."),
    ("mfu_vs_batch", fig_mfu_vs_batch, "Model FLOP utilisation vs batch (CUDA rows)."),
    ("train_memory_vs_batch", fig_train_memory_vs_batch,
     "Training memory vs batch: measured peak above the base beside the closed-form lower bound."),
    ("time_per_image_vs_tokens", fig_time_per_image_vs_tokens,
     "Time per image vs tokens, training step and inference forward, and their ratio beside the MAC ratio."),
)


def write_atomically(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Create or replace `path` with what `write(file)` writes: into a new file in the same folder, flushed to
    disk, then renamed over `path` — so `path` is always either its old content or the whole new one. On a
    failure the temporary file is removed and an OSError becomes one-line VitbenchError."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise VitbenchError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path


def _save(fig, path: Path) -> Path:
    """The figure to `path` (format from its suffix), atomically."""
    return write_atomically(path, lambda f: fig.savefig(f, format=path.suffix.lstrip(".").lower()))


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise VitbenchError(f"unknown figure format {fmt!r}; valid: {', '.join(FORMATS)}")
    return fmt


def plot_results(df: pd.DataFrame, out_dir: str | Path, fmt: str = "png") -> PlotResult:
    """Draw every figure the rows support into `out_dir` (<name>.<fmt>); say why the others were skipped."""
    check_format(fmt)
    made, skipped = [], []
    for name, draw, caption in FIGURES:
        fig = draw(df)
        if isinstance(fig, str):
            skipped.append((name, fig))
        else:
            made.append(FigureFile(name, _save(fig, Path(out_dir) / f"{name}.{fmt}"), caption))
    return PlotResult(tuple(made), tuple(skipped))


def closed_form_series(cfg: ViTConfig, n_lo: float, n_hi: float, points: int = 160):
    """Tokens and analytic.macs of `cfg` at square inputs of its patch size, grid sides spaced evenly in log
    from about n_lo to n_hi tokens: (tokens array, list of Breakdown)."""
    prefix = cfg.num_prefix_tokens
    first = max(1, int(np.sqrt(max(n_lo - prefix, 1))))
    last = max(first + 1, int(np.ceil(np.sqrt(max(n_hi - prefix, 1)))))
    sides = np.unique(np.geomspace(first, last, points).astype(int))
    configs = [cfg.replace(img_size=(int(s) * cfg.patch, int(s) * cfg.patch)) for s in sides]
    return np.array([c.tokens for c in configs], dtype=float), [analytic.macs(c) for c in configs]


def split_curves(cfgs: list[ViTConfig], path: str | Path) -> Path:
    """Closed-form MACs per component vs tokens (log-log) for the architecture of cfgs[0], square inputs at
    its patch size; both crossovers marked, each requested resolution marked. Format from the suffix."""
    path = Path(path)
    if path.suffix.lstrip(".").lower() not in FORMATS:
        raise VitbenchError(f"cannot draw {path.name!r}: give a file name ending in .png or .svg")
    cfg = cfgs[0]
    vs_mlp, vs_dense = analytic.crossovers(cfg)
    n_max = max(4 * vs_dense.tokens, 2 * max(c.tokens for c in cfgs))
    first_side = max(2, int(np.sqrt(min(c.num_patches for c in cfgs)) / 4))
    n, br = closed_form_series(cfg, first_side**2 + cfg.num_prefix_tokens, n_max)
    fig, axes = _new_figure(size=(8, 5.2))
    ax = axes[0, 0]
    for comp in COMPONENTS:
        ax.plot(n, [getattr(b, comp) / 1e9 for b in br], color=COLORS[comp], lw=1.8, label=LABELS[comp])
    ax.plot(n, [b.total / 1e9 for b in br], color="black", lw=2.2, label="total")
    _gmacs_axis(ax)
    ax.set_ylim(bottom=max(min(getattr(b, "head") for b in br) / 1e9 / 3, 1e-6))
    _mark_crossover(ax, vs_mlp.tokens, f"core = MLP: N = F = {vs_mlp.tokens} (≈{vs_mlp.res_exact:.0f} px)",
                    n[0], n[-1])
    _mark_crossover(ax, vs_dense.tokens, f"core = all dense: N = 2D+F = {vs_dense.tokens} "
                    f"(≈{vs_dense.res_exact:.0f} px)", n[0], n[-1])
    for c in cfgs:
        total = analytic.macs(c).total / 1e9
        ax.plot([c.tokens], [total], "o", color="black", ms=7, mfc="white", zorder=5)
        ax.annotate(f"{c.res_label} px\n{total:.3g} GMACs", (c.tokens, total), xytext=(-8, 8),
                    textcoords="offset points", ha="right", fontsize=8)
    prefix = cfg.num_prefix_tokens
    top = ax.secondary_xaxis("top", functions=(
        lambda x: cfg.patch * np.sqrt(np.clip(x - prefix, 1e-9, None)), lambda r: (r / cfg.patch) ** 2 + prefix))
    lo_px, hi_px = (cfg.patch * np.sqrt(n[[0, -1]] - prefix)).round()
    px_ticks = [r for r in (32, 64, 128, 224, 384, 512, 768, 1024, 2048, 4096, 8192) if lo_px <= r <= hi_px]
    top.set_xticks(px_ticks, [str(r) for r in px_ticks])
    top.set_xlabel(f"square input resolution (px) at patch {cfg.patch}")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"{cfg.name}: D {cfg.dim}, L {cfg.depth}, F {cfg.mlp_hidden}, heads {cfg.heads} — "
                 f"MACs per image by component (closed form)", fontsize=10)
    return _save(fig, path)
