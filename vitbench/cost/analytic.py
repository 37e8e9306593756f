"""Closed-form parameters and MACs of a ViT, from its config alone. No torch.

With tokens N, width D, depth L, MLP hidden F, patch P, channels C, classes K (see DESIGN.md):

    patch embed   (HW/P²)·C·P²·D MACs        C·P²·D + D params
    attn proj     4·N·D² per block            4D² + 4D (qkv bias) per block
    attn core     2·N²·D per block            0
    MLP           2·N·D·F per block           2DF + F + D per block
    head          D·K (×2 with distillation)  D·K + K (×2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vitbench.cost.breakdown import MATMUL_COMPONENTS, Breakdown, ParamBreakdown
from vitbench.zoo import ViTConfig


def params(cfg: ViTConfig) -> ParamBreakdown:
    """Exact trainable-parameter counts of `vitbench.model.VisionTransformer(cfg)` (timm's layout)."""
    D, L, F, K = cfg.dim, cfg.depth, cfg.mlp_hidden, cfg.num_classes
    n_heads_out = 1 + int(cfg.distill)
    pos_tokens = cfg.num_patches + 1 + int(cfg.distill)
    qkv = 3 * D * D + (3 * D if cfg.qkv_bias else 0)
    return ParamBreakdown(
        patch_embed=cfg.in_chans * cfg.patch**2 * D + D,
        tokens_pos=(1 + int(cfg.distill) + cfg.registers) * D + pos_tokens * D,
        attention=L * (qkv + D * D + D),
        mlp=L * (2 * D * F + F + D),
        norms=(2 * L + 1) * 2 * D,
        head=n_heads_out * (D * K + K) if K else 0,
    )


def macs(cfg: ViTConfig) -> Breakdown:
    """Forward MACs per image by component, plus elementwise element-ops (see `breakdown`)."""
    N, D, L, F, K = cfg.tokens, cfg.dim, cfg.depth, cfg.mlp_hidden, cfg.num_classes
    norm_layers = 2 * L + 1  # two per block + the final norm, each over all N tokens
    return Breakdown(
        counter="analytic",
        patch_embed=cfg.num_patches * cfg.in_chans * cfg.patch**2 * D,
        attn_proj=L * 4 * N * D * D,
        attn_core=L * 2 * N * N * D,
        mlp=L * 2 * N * D * F,
        head=(1 + int(cfg.distill)) * D * K,
        norm=norm_layers * 5 * N * D,
        softmax=L * cfg.heads * N * N,
        gelu=L * N * F,
    )


def cost_row(cfg: ViTConfig) -> dict:
    """The exact cost columns of a result row (vitbench.schema, kind 'cost'): params, MACs per image in total
    and by component, and the attention core's share of them."""
    m = macs(cfg)
    return {"params": params(cfg).total, "macs": m.total, **{f"macs_{c}": getattr(m, c) for c in MATMUL_COMPONENTS},
            "attn_core_share": round(m.share("attn_core"), 6)}


@dataclass(frozen=True)
class Crossover:
    """Where the attention core overtakes another component, for square images of one config.

    `tokens`: the core exceeds the other component when N > tokens. `side`: the first square patch grid
    with N above that; `res` = side · patch pixels. `res_exact`: the continuous resolution at equality.
    """

    versus: str
    tokens: int
    side: int
    res: int
    res_exact: float


def _first_side_above(threshold: int, prefix_tokens: int) -> int:
    """Smallest grid side s with s² + prefix > threshold."""
    side = math.isqrt(max(0, threshold - prefix_tokens))
    while side * side + prefix_tokens <= threshold:
        side += 1
    return side


def crossover(versus: str, num: int, den: int, prefix_tokens: int, patch: int) -> Crossover:
    """The attention core exceeds `versus` when N > num/den tokens (square images, `prefix_tokens` non-patch
    tokens, `patch` px): the integer token threshold, the first grid side past it and the exact resolution."""
    side = _first_side_above(num // den, prefix_tokens)
    exact = patch * math.sqrt(max(0.0, num / den - prefix_tokens))
    return Crossover(versus, num // den, side, side * patch, exact)


def crossovers(cfg: ViTConfig) -> tuple[Crossover, Crossover]:
    """Attention core vs MLP (2N²D > 2NDF  <=>  N > F) and vs all dense layers (N > 2D + F).

    With the usual F = 4D that is N > 4D and N > 6D.
    """
    mlp, dense = cfg.mlp_hidden, 2 * cfg.dim + cfg.mlp_hidden
    return (crossover("mlp", mlp, 1, cfg.num_prefix_tokens, cfg.patch),
            crossover("dense", dense, 1, cfg.num_prefix_tokens, cfg.patch))
