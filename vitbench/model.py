"""The Vision Transformer module, built from a `ViTConfig`.

Parameter names and layout follow timm's `VisionTransformer` (patch_embed.proj, cls_token, pos_embed,
blocks.N.attn.qkv, ...), so a timm state dict loads and the two can be timed side by side. The attention core
(QKᵀ, softmax, AV) is its own submodule, `blocks.N.attn.core`, so counters and timers can see it apart from
the projections.

Attention backends: ``sdpa`` calls `torch.nn.functional.scaled_dot_product_attention` (which kernel runs is
chosen by torch, or pinned with `torch.nn.attention.sdpa_kernel`); ``manual`` materialises the N×N matrix:
``softmax(QKᵀ/√d)·V``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vitbench.zoo import ViTConfig

ATTENTION_IMPLS = ("sdpa", "manual")


class PatchEmbed(nn.Module):
    """Strided conv: (B, C, H, W) -> (B, H/P · W/P, D)."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.proj = nn.Conv2d(cfg.in_chans, cfg.dim, kernel_size=cfg.patch, stride=cfg.patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class AttentionCore(nn.Module):
    """softmax(QKᵀ/√d)·V over (B, heads, N, head_dim) tensors. No parameters."""

    def __init__(self, impl: str = "sdpa"):
        super().__init__()
        if impl not in ATTENTION_IMPLS:
            raise ValueError(f"attention impl must be one of {ATTENTION_IMPLS}, got {impl!r}")
        self.impl = impl

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if self.impl == "sdpa":
            return F.scaled_dot_product_attention(q, k, v)
        scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
        return scores.softmax(dim=-1) @ v


class Attention(nn.Module):
    def __init__(self, cfg: ViTConfig, impl: str = "sdpa"):
        super().__init__()
        self.heads = cfg.heads
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=cfg.qkv_bias)
        self.core = AttentionCore(impl)
        self.proj = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = self.core(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(B, N, D))


class Mlp(nn.Module):
    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.dim, cfg.mlp_hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(cfg.mlp_hidden, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, cfg: ViTConfig, impl: str = "sdpa"):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.attn = Attention(cfg, impl)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.mlp = Mlp(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """ViT / DeiT classifier. `forward_features` returns all tokens after the final norm; `forward_head`
    pools ([CLS] or mean of patch tokens) and classifies; with a distillation token the two heads' logits
    are averaged, as DeiT does at inference."""

    def __init__(self, cfg: ViTConfig, attn_impl: str = "sdpa"):
        super().__init__()
        self.cfg = cfg
        D = cfg.dim
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, D)) if cfg.distill else None
        self.reg_token = nn.Parameter(torch.zeros(1, cfg.registers, D)) if cfg.registers else None
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_patches + 1 + int(cfg.distill), D))
        self.blocks = nn.Sequential(*[Block(cfg, attn_impl) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(D, eps=1e-6)
        K = cfg.num_classes
        self.head = nn.Linear(D, K) if K else nn.Identity()
        self.head_dist = nn.Linear(D, K) if K and cfg.distill else None
        self.grad_checkpointing = False
        self._init_weights()

    def _init_weights(self) -> None:
        if self.pos_embed.is_meta:
            return
        for p in (self.pos_embed, self.cls_token, self.dist_token, self.reg_token):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)

    def component_map(self) -> dict[str, str]:
        """Qualified module name -> cost component (see `vitbench.component_map`). Counters attribute each
        module's own MACs to its nearest mapped ancestor; the split timer hooks these modules."""
        out = {"patch_embed": "patch_embed", "head": "head"}
        if self.head_dist is not None:
            out["head_dist"] = "head"
        for i in range(len(self.blocks)):
            out.update({f"blocks.{i}.attn.qkv": "attn_proj", f"blocks.{i}.attn.proj": "attn_proj",
                        f"blocks.{i}.attn.core": "attn_core", f"blocks.{i}.mlp": "mlp"})
        return out

    def set_attention_impl(self, impl: str) -> None:
        """Switch every block between ``sdpa`` and ``manual`` attention (weights untouched)."""
        for block in self.blocks:
            block.attn.core = AttentionCore(impl)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Per-block activation checkpointing (torch.utils.checkpoint, use_reentrant=False) while grad is on:
        each block saves only its input and recomputes its forward in the backward pass."""
        self.grad_checkpointing = enable

    def _run_blocks(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.grad_checkpointing and torch.is_grad_enabled()):
            return self.blocks(x)
        from torch.utils.checkpoint import checkpoint

        for block in self.blocks:
            x = checkpoint(block, x, use_reentrant=False)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        B = x.shape[0]
        prefix = [self.cls_token.expand(B, -1, -1)]
        if self.dist_token is not None:
            prefix.append(self.dist_token.expand(B, -1, -1))
        x = torch.cat(prefix + [x], dim=1) + self.pos_embed
        if self.reg_token is not None:  # after [CLS] (+ dist), before the patches; no position embedding
            n = len(prefix)
            x = torch.cat([x[:, :n], self.reg_token.expand(B, -1, -1), x[:, n:]], dim=1)
        return self.norm(self._run_blocks(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.pool == "gap":
            return self.head(x[:, self.cfg.num_prefix_tokens:].mean(dim=1))
        if self.head_dist is None:
            return self.head(x[:, 0])
        return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def build_model(cfg: ViTConfig, device: str | torch.device = "cpu", attn_impl: str = "sdpa",
                dtype: torch.dtype | None = None) -> VisionTransformer:
    """Build in eval mode directly on `device`; on ``meta`` no memory is allocated for weights."""
    with torch.device(device):
        model = VisionTransformer(cfg, attn_impl)
    if dtype is not None:
        model = model.to(dtype)
    return model.eval()


def example_input(cfg: ViTConfig, batch: int = 1, device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A (batch, C, H, W) input on `device` (random values; empty on meta)."""
    shape = (batch, cfg.in_chans, *cfg.img_size)
    if torch.device(device).type == "meta":
        return torch.empty(shape, device=device, dtype=dtype)
    return torch.randn(shape, device=device, dtype=dtype)
