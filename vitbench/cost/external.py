"""Closed-form parameters and MACs of external ViTs (timm, torchvision): a `ViTConfig` plus the terms their
variants add. No torch: `vitbench.external` reads an `ExternalArch` from the module; this prices it.

With tokens N, width D, depth L, attention width A = heads · head_dim, MLP hidden F, patch P, channels C,
classes K (per image, MACs; 1 MAC = 2 FLOPs):

    patch embed   (HW/P²)·C·P²·D                   C·P²·D (+ D bias)
    attn proj     L · N·(3·D·A + A·D)              L · (4·D·A + 3A bias + D bias)
    attn core     L · 2·N²·A (QKᵀ and AV)          0
    MLP gelu      L · 2·N·D·F  (fc1, fc2)          L · (2·D·F + F + D)
    MLP swiglu    L · 3·N·D·F  (two gates, fc2)    L · (3·D·F + 2F + D)   timm SwiGLU, and SwiGLUPacked (D→2F)
    head          D·K (× 2 with distillation); torchvision pre-logits: D·R + R·K

Variants: no [CLS] token (N loses one), registers (+R tokens, no position embedding), a position table over
patches only (timm ``no_embed_class``) or none, LayerScale (ls1, ls2: D parameters each per block, no MACs:
an elementwise scale), qk-norm (LayerNorm over head_dim on q and k: 2·2·head_dim parameters, 2·5·N·A
element-ops per block), a norm before the blocks (CLIP's ``norm_pre``), the final norm over all tokens or over
the pooled vector (timm ``fc_norm`` with average pooling). Fused (SDPA) and explicit attention cost the same
MACs. Element-ops follow `vitbench.cost.breakdown`: LayerNorm 5 per element, softmax and activation 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from vitbench.cost.analytic import Crossover, crossover
from vitbench.cost.breakdown import Breakdown, ParamBreakdown
from vitbench.zoo import ViTConfig

MLP_KINDS = ("gelu", "swiglu")
FINAL_NORMS = ("tokens", "pooled", "none")


@dataclass(frozen=True)
class ExternalArch:
    """An external ViT's architecture: `cfg` (name 'timm:NAME' / 'torchvision:NAME', patch, size, D, L, heads,
    classes, pool, registers, distillation, qkv bias, channels) plus what its variant adds.

    `mlp_hidden` is F read from the module (exact; `cfg.mlp_ratio` is F/D for display). `pos_tokens`: rows
    of the position table. `final_norm`: 'tokens' (a LayerNorm over all N tokens), 'pooled' (over the pooled
    vector, timm's fc_norm) or 'none'. `pre_logits`: width R of torchvision's pre-logits layer (0: none)."""

    cfg: ViTConfig
    layout: str  # 'timm' | 'torchvision': where the module came from (for display)
    class_token: bool = True
    pos_tokens: int = 0
    head_dim: int = 0
    mlp: str = "gelu"
    mlp_hidden: int = 0
    mlp_bias: bool = True
    proj_bias: bool = True
    patch_bias: bool = True
    qk_norm: bool = False
    layer_scale: bool = False
    pre_norm: bool = False
    final_norm: str = "tokens"
    pre_logits: int = 0
    fused_attn: bool = True  # SDPA vs explicit QKᵀ/softmax/AV: same MACs, recorded for display

    def __post_init__(self) -> None:
        if self.mlp not in MLP_KINDS:
            raise ValueError(f"mlp must be one of {MLP_KINDS}, got {self.mlp!r}")
        if self.final_norm not in FINAL_NORMS:
            raise ValueError(f"final_norm must be one of {FINAL_NORMS}, got {self.final_norm!r}")

    @property
    def num_prefix_tokens(self) -> int:
        """[CLS] (if any), the distillation token and the registers."""
        return int(self.class_token) + int(self.cfg.distill) + self.cfg.registers

    @property
    def tokens(self) -> int:
        """Sequence length N seen by every block."""
        return self.cfg.num_patches + self.num_prefix_tokens

    @property
    def attn_dim(self) -> int:
        return self.cfg.heads * self.head_dim

    @property
    def mlp_matrices(self) -> int:
        """D×F matrices per MLP: 2 (fc1, fc2) or 3 (SwiGLU: gate, value, fc2)."""
        return 3 if self.mlp == "swiglu" else 2

    @property
    def extras(self) -> tuple[str, ...]:
        """The variant's terms beyond a plain ViT, in words (for tables and docs)."""
        plain_pos = self.cfg.num_patches + 1 + int(self.cfg.distill)
        terms = [
            "no [CLS]" if not self.class_token else "",
            f"pos table {self.pos_tokens} tokens" if self.pos_tokens != plain_pos else "",
            "LayerScale" if self.layer_scale else "", "SwiGLU MLP" if self.mlp == "swiglu" else "",
            "qk-norm" if self.qk_norm else "", "pre-norm" if self.pre_norm else "",
            "fc_norm (norm after pooling)" if self.final_norm == "pooled" else "",
            f"pre-logits {self.pre_logits}" if self.pre_logits else "",
            f"head_dim {self.head_dim}" if self.attn_dim != self.cfg.dim else "",
            "explicit attention (not fused)" if not self.fused_attn else "",
        ]
        return tuple(t for t in terms if t)


def _norm(width: int) -> int:
    return 2 * width  # LayerNorm weight + bias


def params(arch: ExternalArch) -> ParamBreakdown:
    """Exact trainable-parameter counts (equal to the module's numel(): checked by `vitbench.external`).

    LayerScale's ls1 is counted in `attention`, ls2 in `mlp` (each scales that branch's output); qk-norm and
    norm_pre in `norms`; torchvision's pre-logits layer in `head`."""
    cfg, D, L, A, F = arch.cfg, arch.cfg.dim, arch.cfg.depth, arch.attn_dim, arch.mlp_hidden
    K, R = cfg.num_classes, arch.pre_logits
    qkv = 3 * D * A + (3 * A if cfg.qkv_bias else 0)
    proj = A * D + (D if arch.proj_bias else 0)
    ls = D if arch.layer_scale else 0
    gates = arch.mlp_matrices - 1  # input-side matrices of the MLP
    mlp = gates * D * F + F * D + ((gates * F + D) if arch.mlp_bias else 0)
    block_norms = 2 * _norm(D) + (2 * _norm(arch.head_dim) if arch.qk_norm else 0)
    final = _norm(D) if arch.final_norm != "none" else 0
    head_in = R or D
    head = (1 + int(cfg.distill)) * (head_in * K + K) if K else 0
    return ParamBreakdown(
        patch_embed=cfg.in_chans * cfg.patch**2 * D + (D if arch.patch_bias else 0),
        tokens_pos=arch.num_prefix_tokens * D + arch.pos_tokens * D,
        attention=L * (qkv + proj + ls),
        mlp=L * (mlp + ls),
        norms=L * block_norms + final + (_norm(D) if arch.pre_norm else 0),
        head=head + (D * R + R if R else 0),
    )


def macs(arch: ExternalArch) -> Breakdown:
    """Forward MACs per image by component, plus element-ops (LayerNorm 5/element, softmax, activation)."""
    cfg, N, D, L, A, F = arch.cfg, arch.tokens, arch.cfg.dim, arch.cfg.depth, arch.attn_dim, arch.mlp_hidden
    K, R = cfg.num_classes, arch.pre_logits
    heads_out = 1 + int(cfg.distill)
    head = heads_out * (R or D) * K + (D * R if R else 0)
    final = {"tokens": N * D, "pooled": D, "none": 0}[arch.final_norm]
    norm_elements = L * (2 * N * D + (2 * N * A if arch.qk_norm else 0)) + final + (N * D if arch.pre_norm else 0)
    return Breakdown(
        counter="analytic",
        patch_embed=cfg.num_patches * cfg.in_chans * cfg.patch**2 * D,
        attn_proj=L * N * 4 * D * A,
        attn_core=L * 2 * N * N * A,
        mlp=L * arch.mlp_matrices * N * D * F,
        head=head,
        norm=5 * norm_elements,
        softmax=L * cfg.heads * N * N,
        gelu=L * N * F,
    )


def crossovers(arch: ExternalArch) -> tuple[Crossover, Crossover]:
    """Attention core vs the MLP (2N²A > m·N·D·F, m MLP matrices) and vs all dense layers (+ 4·N·D·A)."""
    D, A, F, m = arch.cfg.dim, arch.attn_dim, arch.mlp_hidden, arch.mlp_matrices
    mlp, dense = m * D * F, m * D * F + 4 * D * A  # MACs per token
    return (crossover("mlp", mlp, 2 * A, arch.num_prefix_tokens, arch.cfg.patch),
            crossover("dense", dense, 2 * A, arch.num_prefix_tokens, arch.cfg.patch))
