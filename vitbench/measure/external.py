"""External models for `bench` (`--model timm:NAME` / `torchvision:NAME`): today's bench wiring.

Reading and counting live in `vitbench.external` (names, optional packages, building on meta, the closed form
with each variant's terms). This module keeps the interface `measure.bench` and the bench CLI use: `describe`
returns the `ViTConfig` whose cost columns (params, MACs) bench fills from `cost.analytic`, so it accepts only
models that config prices exactly — plain ViTs; variants (LayerScale, SwiGLU, registers without a position
embedding, ...) are refused here until bench takes their cost from `vitbench.external`. For measuring the model
is built again (random weights) on the device; attn 'manual' switches timm's blocks to their explicit attention
(`fused_attn = False`); torchvision's nn.MultiheadAttention has no such switch.
"""

from __future__ import annotations

from vitbench.cost.breakdown import MATMUL_COMPONENTS
from vitbench.errors import VitbenchError
from vitbench.external import SOURCES, create, is_external, parse, require  # noqa: F401 (re-exported)
from vitbench.zoo import ViTConfig


def describe(model: str, img_size: tuple[int, int] | None = None) -> ViTConfig:
    """The vitbench config of an external plain ViT (built on meta; nothing allocated)."""
    from vitbench import external
    from vitbench.cost import analytic
    from vitbench.cost import external as closed_form

    ext = external.describe(model, img_size)
    if ext.arch is None:
        raise VitbenchError(f"{model} is not a ViT vitbench can describe (not covered: "
                            f"{'; '.join(ext.not_covered)}); use a zoo model")
    cfg = ext.arch.cfg
    ours, theirs = analytic.macs(cfg), closed_form.macs(ext.arch)
    exact = closed_form.params(ext.arch).total == analytic.params(cfg).total and \
        all(getattr(ours, c) == getattr(theirs, c) for c in MATMUL_COMPONENTS)
    if not exact:
        raise VitbenchError(f"{model} is not a plain ViT ({', '.join(ext.arch.extras) or 'layout'}): "
                            f"{ext.numel:,} parameters, while the closed form of its config gives "
                            f"{analytic.params(cfg).total:,}; bench measures plain ViTs only")
    return cfg


def build(cfg: ViTConfig, device: str, dtype, attn: str):
    """The external model for a described config, on `device` in `dtype`, eval mode."""
    from vitbench.measure.backends import Unsupported

    source, name = parse(cfg.name)
    model = create(source, name, cfg.img_size, device).to(dtype)
    if attn == "manual":
        if source != "timm":
            raise Unsupported("attn 'manual' needs timm's Attention (fused_attn); torchvision uses "
                              "nn.MultiheadAttention")
        for block in model.blocks:
            block.attn.fused_attn = False
    return model
