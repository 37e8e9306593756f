"""Models from other libraries, `--model timm:NAME` or `torchvision:NAME` (optional dependencies).

Only plain ViTs are accepted. The model is first built on the meta device (no memory) and described as a
`ViTConfig` named 'timm:NAME' (patch, size, width, depth, heads, MLP ratio, classes, pool, qkv bias); its
parameter count must equal vitbench's closed form for that config, so the cost columns hold for it. For
measuring, it is built again (random weights) on the device. attn 'manual' switches timm's blocks to their
explicit attention (`fused_attn = False`); torchvision's nn.MultiheadAttention has no such switch.
"""

from __future__ import annotations

import importlib

from vitbench.errors import VitbenchError
from vitbench.zoo import ViTConfig

SOURCES = ("timm", "torchvision")


def parse(model: str) -> tuple[str, str] | None:
    """'timm:vit_base_patch16_224' -> ('timm', 'vit_base_patch16_224'); a zoo name -> None."""
    if ":" not in model:
        return None
    source, name = model.split(":", 1)
    if source not in SOURCES:
        raise VitbenchError(f"unknown model source {source!r} in {model!r}; valid: timm:NAME, torchvision:NAME "
                            f"or a zoo name (see `vitbench models`)")
    if not name.strip():
        raise VitbenchError(f"missing model name after {source}: in {model!r}; e.g. {source}:vit_b_16")
    return source, name.strip()


def is_external(name: str) -> bool:
    return name.split(":", 1)[0] in SOURCES and ":" in name


def require(source: str):
    """Import the optional package or fail with a one-line hint."""
    try:
        return importlib.import_module(source)
    except ImportError:
        raise VitbenchError(f"--model {source}:NAME needs the optional package {source!r}, which is not "
                            f"installed; install it (pip install {source}) or use a zoo model") from None


def _create(source: str, name: str, img_size: tuple[int, int] | None, device: str):
    import torch

    lib = require(source)
    kwargs = {}
    if img_size is not None:
        if source == "torchvision" and img_size[0] != img_size[1]:
            raise VitbenchError(f"torchvision's ViT takes square images only, got {img_size[0]}x{img_size[1]}")
        kwargs = {"img_size": img_size} if source == "timm" else {"image_size": img_size[0]}
    try:
        with torch.device(device):
            if source == "timm":
                model = lib.create_model(name, pretrained=False, **kwargs)
            else:
                model = lib.models.get_model(name, weights=None, **kwargs)
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise VitbenchError(f"{source} cannot build {name!r}: {str(e).splitlines()[0] if str(e) else e!r}") from None
    return model.eval()


def _timm_fields(m) -> dict:
    pools = {"token": "cls", "avg": "gap"}
    if m.global_pool not in pools:
        raise AttributeError(f"global_pool {m.global_pool!r}")
    return {
        "patch": m.patch_embed.patch_size[0], "img_size": tuple(m.patch_embed.img_size), "dim": m.embed_dim,
        "depth": len(m.blocks), "heads": m.blocks[0].attn.num_heads,
        "mlp_ratio": m.blocks[0].mlp.fc1.out_features / m.embed_dim, "num_classes": m.num_classes,
        "pool": pools[m.global_pool], "distill": getattr(m, "dist_token", None) is not None,
        "registers": getattr(m, "num_reg_tokens", 0), "qkv_bias": m.blocks[0].attn.qkv.bias is not None,
    }


def _torchvision_fields(m) -> dict:
    return {
        "patch": m.patch_size, "img_size": (m.image_size, m.image_size), "dim": m.hidden_dim,
        "depth": len(m.encoder.layers), "heads": m.encoder.layers[0].self_attention.num_heads,
        "mlp_ratio": m.mlp_dim / m.hidden_dim, "num_classes": m.num_classes, "pool": "cls",
        "distill": False, "registers": 0, "qkv_bias": True,
    }


def describe(model: str, img_size: tuple[int, int] | None = None) -> ViTConfig:
    """The vitbench config of an external plain ViT (built on meta; nothing allocated)."""
    from vitbench.cost.analytic import params

    source, name = parse(model)
    m = _create(source, name, img_size, "meta")
    try:
        fields = _timm_fields(m) if source == "timm" else _torchvision_fields(m)
    except (AttributeError, IndexError, TypeError) as e:
        raise VitbenchError(f"{model} is not a plain ViT vitbench can describe ({e}); use a zoo model") from None
    cfg = ViTConfig(name=f"{source}:{name}", **fields)
    counted = sum(p.numel() for p in m.parameters())
    if counted != params(cfg).total:
        raise VitbenchError(f"{model} is not a plain ViT: {counted:,} parameters, while the closed form of its "
                            f"config gives {params(cfg).total:,}; vitbench measures plain ViTs only")
    return cfg


def build(cfg: ViTConfig, device: str, dtype, attn: str):
    """The external model for a described config, on `device` in `dtype`, eval mode."""
    from vitbench.measure.backends import Unsupported

    source, name = parse(cfg.name)
    model = _create(source, name, cfg.img_size, device).to(dtype)
    if attn == "manual":
        if source != "timm":
            raise Unsupported("attn 'manual' needs timm's Attention (fused_attn); torchvision uses "
                              "nn.MultiheadAttention")
        for block in model.blocks:
            block.attn.fused_attn = False
    return model
