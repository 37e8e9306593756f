"""Which figures a results DataFrame supports, and what each would draw — chosen without drawing. No torch, no
matplotlib.

`plan_figures(df)` gives, per figure of FIGURES, its data (a FigureData) or `Skip(reason)`; vitbench.figures.output
draws the data. Units as drawn: MACs per image (1 MAC = 2 FLOPs), latency in ms per iteration of the whole batch
(a forward, or a training step), throughput in images/s, memory in MiB, MFU as a fraction of the dtype's peak.
Cost figures use every row (cost is known where a measurement failed); measured figures use status 'ok' only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import numpy as np
import pandas as pd

from vitbench.components import MATMUL, OTHER
from vitbench.cost import analytic
from vitbench.cost.breakdown import Breakdown
from vitbench.figures.rows import (Line, Skip, common_context, cost_rows, drawn_rows, measured_rows,
                                  memory_lower_bound_mb, series)
from vitbench.results_frame import with_patch
from vitbench.zoo import ViTConfig

COMPONENTS = tuple(c for c in MATMUL if c != OTHER)  # what the cost figures draw; 'other' is 0 for the zoo
MAX_MODEL_PANELS = 6
# Columns on which a train row and an infer row are the same point.
PAIR_COLUMNS = ("arch", "patch", "res_h", "res_w", "batch", "dtype", "attn", "device", "compile")
MFU_CONTEXT = ("model", "tokens", "device", "dtype", "attn")


@dataclass(frozen=True, eq=False)
class MacsPanel:
    """One model of macs_vs_tokens: its rows and the closed form over the panel's token range."""

    arch: str
    rows: pd.DataFrame  # one row per config, sorted by tokens then res_h
    connect: bool  # one resolution or one patch size: the rows form one series, joined by lines
    config: ViTConfig  # of the first row
    crossover: int  # the attention core exceeds the MLP above N = F tokens
    token_range: tuple[float, float]  # x axis: the rows and the crossover, with a margin
    curve_tokens: np.ndarray  # closed form at square inputs of the panel's patch size
    curve: list[Breakdown]


@dataclass(frozen=True, eq=False)
class MacsVsTokens:
    """Per model: MACs per component vs tokens, and their shares stacked to 100 %."""

    panels: tuple[MacsPanel, ...]  # the models with the most token counts, up to MAX_MODEL_PANELS
    models: int  # models with >= 2 token counts


@dataclass(frozen=True, eq=False)
class AttnShareVsRes:
    """The attention core's share of MACs vs resolution, one line per model and patch size."""

    lines: tuple[Line, ...]  # per model and patch, rows sorted by side = √(H·W); largest share at the right first
    square: bool  # every input is square
    share_max: float  # the largest attention-core share (fraction) of any cost row


@dataclass(frozen=True, eq=False)
class MeasuredLines:
    """Lines of measured rows, their legend title, and what every drawn row shares (for the title)."""

    legend_title: str
    lines: tuple[Line, ...]
    context: str


@dataclass(frozen=True, eq=False)
class LatencyVsTokens(MeasuredLines):
    """Median latency (p10–p90) and throughput along tokens."""


@dataclass(frozen=True, eq=False)
class MemoryVsTokens(MeasuredLines):
    """Measured peak memory along tokens, beside its closed-form lower bound."""

    bounds: tuple[list[float] | None, ...]  # per line: the closed-form lower bound (MiB) per row, or None
    base_measured: bool  # the bound includes a measured base (mem_base_mib)
    has_train: bool  # some drawn row is a training step
    devices: tuple[str, ...]  # device kinds of the drawn rows ('cpu', 'cuda')


@dataclass(frozen=True, eq=False)
class MfuVsBatch(MeasuredLines):
    """MFU (fraction of the dtype's peak) along batch, CUDA rows."""

    batches: tuple[int, ...]  # every measured CUDA batch size (x ticks)
    mfu_max: float


@dataclass(frozen=True, eq=False)
class TrainMemoryVsBatch(MeasuredLines):
    """Train rows: measured peak above the base along batch, beside the closed-form bound (mem_peak_pred_mib)."""

    batches: tuple[int, ...]  # every measured train batch size (x ticks)
    devices: tuple[str, ...]  # device kinds of the measured train rows


@dataclass(frozen=True, eq=False)
class TimePerImageVsTokens(MeasuredLines):
    """ms per image (ms_per_image column) along tokens per mode at one batch, and train / infer ratios."""

    tokens: pd.Series  # token counts of the rows at the chosen batch (x ticks)
    pairs: pd.DataFrame  # train rows with their infer row (train_infer_ratio); empty when none pair
    ratio_lines: tuple[Line, ...]  # lines of `pairs` along tokens


FigureData = Union[MacsVsTokens, AttnShareVsRes, LatencyVsTokens, MemoryVsTokens, MfuVsBatch, TrainMemoryVsBatch,
                   TimePerImageVsTokens]


def closed_form_series(cfg: ViTConfig, n_lo: float, n_hi: float, points: int = 160):
    """Tokens and analytic.macs of `cfg` at square inputs of its patch size, grid sides spaced evenly in log
    from about n_lo to n_hi tokens: (tokens array, list of Breakdown)."""
    prefix = cfg.num_prefix_tokens
    first = max(1, int(np.sqrt(max(n_lo - prefix, 1))))
    last = max(first + 1, int(np.ceil(np.sqrt(max(n_hi - prefix, 1)))))
    sides = np.unique(np.geomspace(first, last, points).astype(int))
    configs = [cfg.replace(img_size=(int(s) * cfg.patch, int(s) * cfg.patch)) for s in sides]
    return np.array([c.tokens for c in configs], dtype=float), [analytic.macs(c) for c in configs]


def _macs_panel(arch: str, g: pd.DataFrame) -> MacsPanel:
    cfg = ViTConfig.from_row(g.iloc[0])
    cross = analytic.crossovers(cfg)[0]
    n = g["tokens"].to_numpy(float)
    lo, hi = n.min() / 1.5, max(n.max(), cross.tokens) * 1.5
    curve_n, curve = closed_form_series(cfg, lo, hi)
    connect = g[["res_h", "res_w"]].drop_duplicates().shape[0] == 1 or g["patch"].nunique() == 1
    return MacsPanel(arch, g, connect, cfg, cross.tokens, (lo, hi), curve_n, curve)


def plan_macs_vs_tokens(df: pd.DataFrame) -> MacsVsTokens | Skip:
    """Per model with >= 2 token counts (those with the most first): MACs per component vs tokens."""
    rows = cost_rows(df, [f"macs_{c}" for c in COMPONENTS])
    if isinstance(rows, Skip):
        return rows
    groups = [(arch, g.sort_values(["tokens", "res_h"])) for arch, g in rows.groupby("arch", sort=True)
              if g["tokens"].nunique() >= 2]
    if not groups:
        return Skip("every model has a single token count (needs >= 2 per model)")
    shown = sorted(groups, key=lambda ag: -ag[1]["tokens"].nunique())[:MAX_MODEL_PANELS]
    return MacsVsTokens(tuple(_macs_panel(arch, g) for arch, g in shown), len(groups))


def plan_attn_share_vs_res(df: pd.DataFrame) -> AttnShareVsRes | Skip:
    """One line per model and patch size with >= 2 resolutions."""
    rows = cost_rows(df, ["attn_core_share"])
    if isinstance(rows, Skip):
        return rows
    rows = rows.assign(side=np.sqrt(rows["res_h"] * rows["res_w"]))
    lines = [(key, g.sort_values("side")) for key, g in rows.groupby(["arch", "patch"]) if g["side"].nunique() >= 2]
    if not lines:
        return Skip("every model and patch size has a single resolution (needs >= 2)")
    lines.sort(key=lambda kg: -kg[1]["attn_core_share"].iloc[-1])  # legend order = order at the right end
    return AttnShareVsRes(tuple((with_patch(arch, patch), g) for (arch, patch), g in lines),
                          bool((rows["res_h"] == rows["res_w"]).all()), rows["attn_core_share"].max())


def _lines_along_tokens(df: pd.DataFrame, columns: list[str], none_reason: str) -> tuple[str, list[Line]] | Skip:
    """(legend title, lines) of ok rows with `columns`, one line per varying series along tokens; or Skip."""
    ok = measured_rows(df, columns)
    if isinstance(ok, Skip):
        return ok
    title, lines = series(ok, "tokens")
    return (title, lines) if lines else Skip(none_reason)


def plan_latency_vs_tokens(df: pd.DataFrame) -> LatencyVsTokens | Skip:
    """Lines of measured latency along tokens, one per backend / dtype / model / ... that varies."""
    found = _lines_along_tokens(df, ["latency_ms_median"],
                                "no line has >= 2 token counts (rows differ only in batch, or single points)")
    if isinstance(found, Skip):
        return found
    title, lines = found
    return LatencyVsTokens(title, tuple(lines), common_context(drawn_rows(lines)))


def _device_kinds(rows: pd.DataFrame) -> tuple[str, ...]:
    """'cuda:1' -> 'cuda': the sorted device kinds of the rows."""
    return tuple(sorted(set(rows["device"].astype(str).str.split(":").str[0]))) if "device" in rows else ()


def plan_memory_vs_tokens(df: pd.DataFrame) -> MemoryVsTokens | Skip:
    """Lines of measured peak memory along tokens, each with its closed-form lower bound where the rows allow."""
    found = _lines_along_tokens(df, ["mem_peak_mib"], "no line has >= 2 token counts")
    if isinstance(found, Skip):
        return found
    title, lines = found
    ok = drawn_rows(lines)
    bounds = tuple(b if all(v is not None for v in b) else None
                   for b in ([memory_lower_bound_mb(r) for _, r in g.iterrows()] for _, g in lines))
    return MemoryVsTokens(title, tuple(lines), common_context(ok), bounds,
                          "mem_base_mib" in ok and ok["mem_base_mib"].notna().any(),
                          "mode" in ok and (ok["mode"] == "train").any(), _device_kinds(ok))


def plan_mfu_vs_batch(df: pd.DataFrame) -> MfuVsBatch | Skip:
    """Lines of MFU along batch on CUDA rows, one per model / tokens / dtype / backend that varies."""
    if "device" not in df or not df["device"].astype(str).str.startswith("cuda").any():
        return Skip("no CUDA rows (MFU is plotted for CUDA only)")
    ok = measured_rows(df[df["device"].astype(str).str.startswith("cuda")], ["mfu", "batch"])
    if isinstance(ok, Skip):
        return ok
    title, lines = series(ok, "batch", varying=("tokens",))
    if not lines:
        return Skip("no line has >= 2 batch sizes")
    return MfuVsBatch(title, tuple(lines), common_context(drawn_rows(lines), MFU_CONTEXT),
                      tuple(sorted(ok["batch"].unique())), ok["mfu"].max())


def _train_rows(df: pd.DataFrame) -> pd.DataFrame | Skip:
    """The training-step rows (mode 'train'), or why there are none."""
    if "mode" not in df or not (df["mode"] == "train").any():
        return Skip("no train rows (bench --mode train, or mode: train in a suite)")
    return df[df["mode"] == "train"]


def plan_train_memory_vs_batch(df: pd.DataFrame) -> TrainMemoryVsBatch | Skip:
    """Train rows with a measured peak and its closed-form bound: one line per model / tokens / runtime."""
    train = _train_rows(df)
    if isinstance(train, Skip):
        return train
    ok = measured_rows(train, ["mem_peak_mib", "mem_peak_pred_mib"])
    if isinstance(ok, Skip):
        return ok
    title, lines = series(ok, "batch", varying=("tokens",))
    if not lines:
        return Skip("no train line has >= 2 batch sizes")
    return TrainMemoryVsBatch(title, tuple(lines), common_context(drawn_rows(lines)),
                              tuple(sorted(ok["batch"].unique())), _device_kinds(ok))


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


def _common_batch(ok: pd.DataFrame) -> int:
    """The batch with the most train points that have an infer point beside them (ties: the largest)."""
    pairs = train_infer_ratio(ok) if "mode" in ok else ok.iloc[0:0]
    if pairs.empty:
        return ok.loc[ok["mode"] == "train", "batch"].max()
    counts = pairs.groupby("batch").size()
    return max(counts.index, key=lambda b: (counts[b], b))


def plan_time_per_image_vs_tokens(df: pd.DataFrame) -> TimePerImageVsTokens | Skip:
    """At the batch with the most points measured in both modes (lines per batch would crowd the figure): time
    per image (ms_per_image = median / batch) along tokens per mode, and the train / infer ratio of each pair."""
    train = _train_rows(df)
    if isinstance(train, Skip):
        return train
    ok = measured_rows(df, ["latency_ms_median", "batch"])
    if isinstance(ok, Skip):
        return ok
    if not (ok["mode"] == "train").any():
        return Skip("no train row with status ok and a latency")
    ok = ok[ok["batch"] == _common_batch(ok)]
    ok = ok.assign(ms_per_image=ok["latency_ms_median"] / ok["batch"])
    title, lines = series(ok, "tokens")
    if not lines:
        return Skip("no line has >= 2 token counts")
    pairs = train_infer_ratio(ok) if "mode" in ok else ok.iloc[0:0]
    ratio_lines = () if pairs.empty else tuple(series(pairs, "tokens")[1] or [("", pairs.sort_values("tokens"))])
    return TimePerImageVsTokens(title, tuple(lines), common_context(drawn_rows(lines)), ok["tokens"], pairs,
                                ratio_lines)


@dataclass(frozen=True)
class Figure:
    """One figure `vitbench plot` may draw: its name, caption, and how it is chosen from the rows."""

    name: str  # the file's stem: <name>.png
    caption: str  # the report's caption
    plan: Callable[[pd.DataFrame], Union[FigureData, Skip]]


FIGURES = (
    Figure("macs_vs_tokens", "MACs per image vs tokens by component (log-log) and their shares; attention core vs "
           "MLP crossover at N = F.", plan_macs_vs_tokens),
    Figure("attn_share_vs_res", "Attention-core share of MACs vs resolution, per patch size.",
           plan_attn_share_vs_res),
    Figure("latency_vs_tokens", "Median latency (p10–p90 bars) and throughput vs tokens.", plan_latency_vs_tokens),
    Figure("memory_vs_tokens", "Measured peak memory vs tokens, with a closed-form lower bound.",
           plan_memory_vs_tokens),
    Figure("mfu_vs_batch", "Model FLOP utilisation vs batch (CUDA rows).", plan_mfu_vs_batch),
    Figure("train_memory_vs_batch", "Training memory vs batch: measured peak above the base beside the closed-form "
           "lower bound.", plan_train_memory_vs_batch),
    Figure("time_per_image_vs_tokens", "Time per image vs tokens, training step and inference forward, and their "
           "ratio beside the MAC ratio.", plan_time_per_image_vs_tokens),
)


def plan_figures(df: pd.DataFrame) -> dict[str, Union[FigureData, Skip]]:
    """Every figure of FIGURES (in order): the data it would draw from the rows, or why it is skipped."""
    return {figure.name: figure.plan(df) for figure in FIGURES}
