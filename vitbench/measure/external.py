"""External models measured by `bench` / `sweep` (`--model timm:NAME` / `torchvision:NAME`).

Reading and pricing live in `vitbench.external` and `vitbench.subject` (the rows' cost columns come from the
external model's own closed form). Here the model is built again (random weights) on the device; attn 'manual'
switches timm's blocks to their explicit attention (`fused_attn = False`); torchvision's nn.MultiheadAttention
has no such switch.
"""

from __future__ import annotations

from vitbench.external import SOURCES, create, is_external, parse, require  # noqa: F401 (re-exported)
from vitbench.zoo import ViTConfig


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
