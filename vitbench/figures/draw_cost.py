"""Drawing the cost figures of a results file (closed-form MACs per image; 1 MAC = 2 FLOPs): macs_vs_tokens
and attn_share_vs_res, from the data vitbench.figures.plan chose. No torch.
"""

from __future__ import annotations

import numpy as np

from vitbench.components import BLOCK, COLORS, LABELS, SHORT
from vitbench.figures.canvas import (SIZE, TOKENS_LABEL, legend_below, log_axes, mark_crossover, new_figure, style,
                                     tick_values, wrap)
from vitbench.figures.plan import COMPONENTS, AttnShareVsRes, MacsPanel, MacsVsTokens

GMACS_LABEL = "GMACs per image (1 MAC = 2 FLOPs)"
LEGEND = {**LABELS, "patch_embed": SHORT["patch_embed"]}  # component legends: 'patch embed', not '... (conv)'


def gmacs_axis(ax) -> None:
    """Log-log axes: GMACs per image against tokens."""
    log_axes(ax)
    ax.set_xlabel(TOKENS_LABEL)
    ax.set_ylabel(GMACS_LABEL)


def _total(rows) -> np.ndarray:
    return sum(rows[f"macs_{c}"] for c in COMPONENTS)


def _macs_panel(ax, p: MacsPanel) -> None:
    """GMACs per component vs tokens (log-log): the rows as markers (joined when they form one series), and
    the block components (they depend on N alone) as closed-form dashed curves over a range reaching N = F."""
    g, (lo, hi) = p.rows, p.token_range
    n = g["tokens"].to_numpy(float)
    ls = "-" if p.connect else "none"
    for c in COMPONENTS:
        ax.plot(n, g[f"macs_{c}"] / 1e9, marker="o", ls=ls, color=COLORS[c], label=LEGEND[c], ms=5, lw=1.5)
        if c in BLOCK:  # functions of N alone, whatever the patch
            ax.plot(p.curve_tokens, [getattr(b, c) / 1e9 for b in p.curve], color=COLORS[c], lw=0.8, ls="--",
                    alpha=0.7)
    ax.plot(n, _total(g) / 1e9, marker="s", ls=ls, color="black", ms=5, lw=2, label="total")
    ax.plot([], [], color="grey", lw=0.8, ls="--", label="closed form (attn proj, core, MLP depend on N only)")
    ax.set_xlim(lo, hi)
    gmacs_axis(ax)
    mark_crossover(ax, p.crossover, f"attn core = MLP at N = F = {p.crossover}", lo, hi)
    sizes = sorted({(h, w) for h, w in zip(g["res_h"], g["res_w"])})
    res = "/".join(f"{h}" if h == w else f"{h}x{w}" for h, w in sizes)
    patches = "" if "(P" in p.arch else f" · patch {'/'.join(str(q) for q in sorted(g['patch'].unique()))}"
    cfg = p.config
    ax.set_title(wrap(f"{p.arch} · D {cfg.dim}, L {cfg.depth}, F {cfg.mlp_hidden}{patches} · {res} px", 6),
                 fontsize=10)


def _share_panel(ax, p: MacsPanel) -> None:
    """Each component's share of the MACs, stacked to 100 %: bands over log tokens for one series, else
    one bar per row (patch and resolution both vary, so N alone does not order them)."""
    g, total = p.rows, _total(p.rows)
    shares = np.vstack([g[f"macs_{c}"] / total * 100 for c in COMPONENTS])
    n = g["tokens"].to_numpy(float)
    if p.connect:
        ax.stackplot(n, shares, colors=[COLORS[c] for c in COMPONENTS], alpha=0.85)
        ax.set_xlim(n.min(), n.max())
        log_axes(ax, y=False)
        tick_values(ax, n, most=8)  # the rows' own token counts; bands are straight between them
        if len(n) <= 8:
            ax.vlines(n, 0, 100, colors="white", lw=0.8, alpha=0.8)
        ax.set_xlabel(TOKENS_LABEL)
        mark_crossover(ax, p.crossover, f"core = MLP at N = {p.crossover}", n.min(), n.max())
    else:
        x, bottom = np.arange(len(g)), np.zeros(len(g))
        for c, share in zip(COMPONENTS, shares):
            ax.bar(x, share, bottom=bottom, color=COLORS[c], alpha=0.85, width=0.7)
            bottom += share
        ax.set_xticks(x, [f"{t}\nP{q} · {h}" for t, q, h in zip(g["tokens"], g["patch"], g["res_h"])], fontsize=8)
        ax.set_xlabel("tokens N (patch · resolution px)")
        mark_crossover(ax, p.crossover, f"core = MLP at N = {p.crossover}", n.min(), n.max(), line=False)
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of MACs per image (%)")
    ax.set_title(f"{p.arch}: where the MACs go (stacked to 100 %)", fontsize=10)


def macs_vs_tokens(data: MacsVsTokens):
    """Per model: MACs per component vs tokens (log-log; rows as markers, closed form as dashed curves), and
    the share of each component stacked to 100 %. The attention-core/MLP crossover N = F is marked."""
    shown = data.panels
    fig, axes = new_figure(len(shown), 2, (12.5, 4.6 * len(shown)))
    for panel, (ax, ax_share) in zip(shown, axes):
        _macs_panel(ax, panel)
        _share_panel(ax_share, panel)
    legend_below(fig, axes[0, 0], 7)
    more = f"; {len(shown)} of {data.models} models" if len(shown) < data.models else ""
    fig.suptitle(f"MACs per image vs tokens, by component (closed form; markers = rows of the file{more})")
    return fig


def attn_share_vs_res(data: AttnShareVsRes):
    """Attention-core share of MACs vs input resolution, one line per model and patch size."""
    many = len(data.lines) > 6
    fig, axes = new_figure(size=(9.0, 5.0) if many else SIZE)
    ax = axes[0, 0]
    for i, (label, g) in enumerate(data.lines):
        line, = ax.plot(g["side"], g["attn_core_share"] * 100, "-", **style(i), label=label)
        if not many:  # end values; with many lines they would overlap
            last = g.iloc[-1]
            ax.annotate(f"{last['attn_core_share'] * 100:.1f}%", (last["side"], last["attn_core_share"] * 100),
                        xytext=(5, 0), textcoords="offset points", va="center", fontsize=8, color=line.get_color())
    ax.set_xlabel("input resolution (px per side)" if data.square else "input resolution √(H·W) (px)")
    ax.set_ylabel("attention-core share of MACs (%)")
    ax.set_ylim(0, max(5.0, data.share_max * 115))
    ax.margins(x=0.12)
    ax.set_title("Attention core (QKᵀ, AV) share of MACs per image vs resolution\n(closed form; "
                 "core = 2·L·N²·D grows with N², the rest with N)", fontsize=10)
    if many:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    else:
        ax.legend(fontsize=8)
    return fig
