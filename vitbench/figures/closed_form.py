"""`vitbench split --plot`: the closed-form MACs per image (1 MAC = 2 FLOPs) of one architecture by component
against tokens, at square inputs of its patch size, with both crossovers and the requested resolutions marked.
No torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vitbench.components import COLORS
from vitbench.cost import analytic
from vitbench.errors import VitbenchError
from vitbench.figures.canvas import mark_crossover, new_figure
from vitbench.figures.draw_cost import LEGEND, gmacs_axis
from vitbench.figures.output import FORMATS, save
from vitbench.figures.plan import COMPONENTS, closed_form_series
from vitbench.zoo import ViTConfig

PX_TICKS = (32, 64, 128, 224, 384, 512, 768, 1024, 2048, 4096, 8192)  # top axis: square resolutions


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
    fig, axes = new_figure(size=(8, 5.2))
    ax = axes[0, 0]
    for comp in COMPONENTS:
        ax.plot(n, [getattr(b, comp) / 1e9 for b in br], color=COLORS[comp], lw=1.8, label=LEGEND[comp])
    ax.plot(n, [b.total / 1e9 for b in br], color="black", lw=2.2, label="total")
    gmacs_axis(ax)
    ax.set_ylim(bottom=max(min(getattr(b, "head") for b in br) / 1e9 / 3, 1e-6))
    mark_crossover(ax, vs_mlp.tokens, f"core = MLP: N = F = {vs_mlp.tokens} (≈{vs_mlp.res_exact:.0f} px)",
                   n[0], n[-1])
    mark_crossover(ax, vs_dense.tokens, f"core = all dense: N = 2D+F = {vs_dense.tokens} "
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
    px_ticks = [r for r in PX_TICKS if lo_px <= r <= hi_px]
    top.set_xticks(px_ticks, [str(r) for r in px_ticks])
    top.set_xlabel(f"square input resolution (px) at patch {cfg.patch}")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"{cfg.name}: D {cfg.dim}, L {cfg.depth}, F {cfg.mlp_hidden}, heads {cfg.heads} — "
                 f"MACs per image by component (closed form)", fontsize=10)
    return save(fig, path)
