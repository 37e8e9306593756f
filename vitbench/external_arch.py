"""Read an external ViT module into an `ExternalArch` (a `ViTConfig` plus its variant's terms), by module type.

Covered: timm's `VisionTransformer` (and the distilled subclass) built from `Block`s with timm `Attention`
(fused or not, qk-norm) and `Mlp` / `SwiGLU` / `GluMlp` (SwiGLUPacked), LayerScale, registers, no [CLS], a
position table over patches only or none, ``norm_pre``, token or average pooling (``fc_norm``); torchvision's
`VisionTransformer` (conv patch embedding, `EncoderBlock` with `nn.MultiheadAttention` and `MLPBlock`,
optional pre-logits). Anything else is named in the "not covered" list and the caller falls back to counters.
"""

from __future__ import annotations

from vitbench.cost.external import ExternalArch
from vitbench.errors import VitbenchError
from vitbench.zoo import ViTConfig

POOLS = {"token": "cls", "avg": "gap"}


def read(module, name: str) -> tuple[ExternalArch | None, tuple[str, ...], tuple[int, int], int]:
    """(arch or None, parts not covered, (height, width) it was built for, input channels)."""
    from vitbench.model import VisionTransformer as Own

    if isinstance(module, Own):  # vitbench's own module (e.g. a stand-in for an external one in tests)
        cfg = module.cfg.replace(name=name)
        arch = ExternalArch(cfg, "vitbench", pos_tokens=cfg.num_patches + 1 + int(cfg.distill),
                            head_dim=cfg.head_dim, mlp_hidden=cfg.mlp_hidden, qk_norm=False)
        return arch, (), cfg.img_size, cfg.in_chans
    source = type(module).__module__.split(".")[0]
    reader = {"timm": _timm, "torchvision": _torchvision}.get(source)
    if reader is None:
        return None, (f"model class {type(module).__name__} from {source}",), _input_size(module), 3
    fields, extras, missing, size, in_chans = reader(module)
    if missing:
        return None, tuple(missing), size if all(size) else _input_size(module), in_chans
    try:
        cfg = ViTConfig(name=name, in_chans=in_chans, img_size=size, **fields)
    except VitbenchError as e:
        return None, (f"config ({e})",), size, in_chans
    return ExternalArch(cfg, source, **extras), (), size, in_chans


def _input_size(module) -> tuple[int, int]:
    """(height, width) a model of unknown layout takes: timm's pretrained_cfg input size, else 224 px."""
    size = getattr(module, "pretrained_cfg", {}).get("input_size", (3, 224, 224))
    return int(size[-2]), int(size[-1])


def _layer_norm(mod) -> bool:
    """A LayerNorm with weight and bias (what the closed form prices: 2 parameters per element)."""
    from torch import nn

    return isinstance(mod, nn.LayerNorm) and mod.weight is not None and mod.bias is not None


def _same(values: list, what: str, missing: list) -> object:
    """The one value every block shares, or a 'not covered' note when blocks differ."""
    if len(set(values)) > 1:
        missing.append(f"blocks differ in {what}")
    return values[0]


def _timm_block(block, missing: list) -> tuple:
    """One timm block's signature: (heads, head_dim, qkv bias, proj bias, qk-norm, mlp kind, F, mlp bias,
    LayerScale, fused)."""
    from timm.layers import Attention, GluMlp, LayerScale, Mlp, SwiGLU
    from timm.models.vision_transformer import Block
    from torch import nn

    if type(block) is not Block:
        missing.append(f"block class {type(block).__name__}")
        return ()
    attn, mlp = block.attn, block.mlp
    if type(attn) is not Attention:
        missing.append(f"attention class {type(attn).__name__}")
        return ()
    if getattr(attn, "gate", None) is not None or not isinstance(attn.norm, nn.Identity):
        missing.append("gated or normalised attention output")
    qk_norm = _layer_norm(attn.q_norm) and _layer_norm(attn.k_norm)
    if not qk_norm and not (isinstance(attn.q_norm, nn.Identity) and isinstance(attn.k_norm, nn.Identity)):
        missing.append(f"qk-norm {type(attn.q_norm).__name__}")
    if not (_layer_norm(block.norm1) and _layer_norm(block.norm2)):
        missing.append(f"block norm {type(block.norm1).__name__}")
    scales = [type(ls) for ls in (block.ls1, block.ls2)]
    if not all(t in (LayerScale, nn.Identity) for t in scales) or scales[0] is not scales[1]:
        missing.append(f"layer scale {scales[0].__name__}")
    if type(mlp) not in (Mlp, SwiGLU, GluMlp) or not isinstance(mlp.norm, nn.Identity):
        known = type(mlp) in (Mlp, SwiGLU, GluMlp)
        missing.append(f"MLP class {type(mlp).__name__}" + (" with a norm" if known else ""))
        return ()
    kind, hidden = ("gelu", mlp.fc1.out_features) if type(mlp) is Mlp else \
        ("swiglu", mlp.fc1_g.out_features) if type(mlp) is SwiGLU else ("swiglu", mlp.fc2.in_features)
    bias = mlp.fc2.bias is not None
    return (attn.num_heads, attn.head_dim, attn.qkv.bias is not None, attn.proj.bias is not None, qk_norm,
            kind, hidden, bias, scales[0] is LayerScale, bool(attn.fused_attn))


def _timm(m) -> tuple[dict, dict, list, tuple[int, int], int]:
    from timm.layers import PatchEmbed
    from timm.models.vision_transformer import VisionTransformer
    from torch import nn

    if not isinstance(m, VisionTransformer):
        return {}, {}, [f"model class {type(m).__name__}"], (0, 0), 3
    missing: list[str] = []
    pe = m.patch_embed
    size = tuple(pe.img_size) if pe.img_size else (0, 0)
    proj = pe.proj
    if type(pe) is not PatchEmbed or not isinstance(proj, nn.Conv2d) or not isinstance(pe.norm, nn.Identity) \
            or proj.kernel_size != proj.stride or proj.kernel_size[0] != proj.kernel_size[1]:
        missing.append(f"patch embedding {type(pe).__name__}")
    if m.global_pool not in POOLS or getattr(m, "attn_pool", None) is not None:
        missing.append(f"pooling {m.global_pool!r}")
    if not isinstance(m.head, (nn.Linear, nn.Identity)):
        missing.append(f"head {type(m.head).__name__}")
    norm = "tokens" if _layer_norm(m.norm) else "pooled" if _layer_norm(m.fc_norm) else "none"
    if not all(isinstance(n, nn.Identity) or _layer_norm(n) for n in (m.norm, m.fc_norm, m.norm_pre)):
        missing.append(f"final norm {type(m.norm).__name__}")
    signatures = [_timm_block(b, missing) for b in m.blocks] or [()]
    signature = _same(signatures, "layout", missing)
    if missing or not signature:
        return {}, {}, missing or ["no blocks"], size, proj.in_channels
    heads, head_dim, qkv_bias, proj_bias, qk_norm, kind, hidden, mlp_bias, ls, fused = signature
    dim, distill = m.embed_dim, getattr(m, "dist_token", None) is not None
    fields = dict(patch=proj.kernel_size[0], dim=dim, depth=len(m.blocks), heads=heads, mlp_ratio=hidden / dim,
                  num_classes=m.num_classes, pool=POOLS.get(m.global_pool, "cls"), distill=distill,
                  registers=m.num_reg_tokens, qkv_bias=qkv_bias)
    extras = dict(class_token=m.cls_token is not None,
                  pos_tokens=0 if m.pos_embed is None else m.pos_embed.shape[1], head_dim=head_dim, mlp=kind,
                  mlp_hidden=hidden, mlp_bias=mlp_bias, proj_bias=proj_bias, patch_bias=proj.bias is not None,
                  qk_norm=qk_norm, layer_scale=ls, pre_norm=_layer_norm(m.norm_pre), final_norm=norm,
                  fused_attn=fused)
    return fields, extras, missing, size, proj.in_channels


def _torchvision_block(layer, missing: list) -> tuple:
    from torch import nn
    from torchvision.models.vision_transformer import EncoderBlock, MLPBlock

    if type(layer) is not EncoderBlock or type(layer.mlp) is not MLPBlock:
        missing.append(f"encoder block {type(layer).__name__}")
        return ()
    attn = layer.self_attention
    if not (isinstance(attn, nn.MultiheadAttention) and attn.batch_first and attn._qkv_same_embed_dim
            and attn.bias_k is None and not attn.add_zero_attn):
        missing.append("attention layout")
    if not (_layer_norm(layer.ln_1) and _layer_norm(layer.ln_2)):
        missing.append("block norm")
    fc1, fc2 = layer.mlp[0], layer.mlp[3]
    return (attn.num_heads, attn.head_dim, attn.in_proj_bias is not None, attn.out_proj.bias is not None,
            fc1.out_features, fc2.bias is not None)


def _torchvision(m) -> tuple[dict, dict, list, tuple[int, int], int]:
    from torch import nn
    from torchvision.models.vision_transformer import VisionTransformer

    if not isinstance(m, VisionTransformer):
        return {}, {}, [f"model class {type(m).__name__}"], (0, 0), 3
    missing: list[str] = []
    size = (m.image_size, m.image_size)
    if not isinstance(m.conv_proj, nn.Conv2d):
        missing.append("convolutional stem (conv_stem_configs)")
        return {}, {}, missing, size, 3
    if not _layer_norm(m.encoder.ln):
        missing.append("final norm")
    signatures = [_torchvision_block(layer, missing) for layer in m.encoder.layers] or [()]
    signature = _same(signatures, "layout", missing)
    if missing or not signature:
        return {}, {}, missing or ["no blocks"], size, m.conv_proj.in_channels
    heads, head_dim, qkv_bias, proj_bias, hidden, mlp_bias = signature
    pre_logits = getattr(m.heads, "pre_logits", None)
    fields = dict(patch=m.patch_size, dim=m.hidden_dim, depth=len(m.encoder.layers), heads=heads,
                  mlp_ratio=hidden / m.hidden_dim, num_classes=m.num_classes, pool="cls", qkv_bias=qkv_bias)
    extras = dict(pos_tokens=m.encoder.pos_embedding.shape[1], head_dim=head_dim, mlp_hidden=hidden,
                  mlp_bias=mlp_bias, proj_bias=proj_bias, patch_bias=m.conv_proj.bias is not None,
                  pre_logits=pre_logits.out_features if pre_logits is not None else 0)
    return fields, extras, missing, size, m.conv_proj.in_channels
