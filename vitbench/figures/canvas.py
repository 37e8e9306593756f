"""The matplotlib side shared by every figure: a new figure on an Agg canvas (no GUI, no pyplot state, nothing
changed for a caller's own matplotlib), line styles, log axes with plain ticks, crossover marks, legends, titles.

The one place vitbench.figures imports matplotlib (the draw_* modules draw through these helpers). No torch.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

SIZE = (7.0, 4.5)  # inches, one panel
DPI = 120
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
TOKENS_LABEL = "tokens N"


def new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = SIZE):
    """(figure, 2-d array of axes) with a light grid, sized in inches at DPI."""
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, which="major", alpha=0.3)
        ax.grid(True, which="minor", alpha=0.1)
    return fig, axes


def style(i: int) -> dict:
    """Colour and marker of the i-th line: no two of the first 100 lines share both."""
    return {"color": f"C{i % 10}", "marker": MARKERS[(i + i // 10) % len(MARKERS)]}


def log_axes(ax, x: bool = True, y: bool = True) -> None:
    """Log scales with plain tick labels (0.1, 1, 10, 200 — not 2×10²); 1-2-5 ticks over a few decades."""
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


def wrap(text: str, width_in: float, fontsize: float = 10) -> str:
    """Wrap a title to the figure's width (about 0.6·fontsize points per character)."""
    return textwrap.fill(text, max(30, int(width_in * 72 / (0.6 * fontsize))), break_on_hyphens=False)


def tick_values(ax, values, most: int = 7) -> None:
    """Tick a log x axis at the data's own values when there are few of them (e.g. 197, 785, 3137 tokens)."""
    values = sorted({float(v) for v in values})
    crowded = any(b / a < 1.1 for a, b in zip(values, values[1:]))
    if len(values) <= most and not crowded:
        ax.set_xticks(values, [f"{v:g}" for v in values])


def batch_axis(ax, batches, label: str) -> None:
    """A log-2 x axis ticked at each batch size."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches, [str(int(b)) for b in batches])
    ax.set_xlabel(label)


def mark_crossover(ax, tokens: int, text: str, xmin: float, xmax: float, line: bool = True) -> None:
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


def legend_below(fig, ax, n: int, title: str | None = None) -> None:
    """The legend of `ax` under the figure, up to four entries a row."""
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=min(n, 4), fontsize=8,
               title=title, title_fontsize=8)

