"""The parts of a ViT that cost is attributed to, defined once: names, labels, colours. No torch.

MATMUL: the components that carry multiply-accumulates (every MAC of a forward lands in exactly one of them).
ELEMENTWISE: work counted apart, in element-ops (LayerNorm 5 per element as fvcore counts it; softmax and GELU 1).
TIMED: what `--split` times: the three block components and `rest` (patch embed, norms, residual adds, head).
"""

from __future__ import annotations

MATMUL = ("patch_embed", "attn_proj", "attn_core", "mlp", "head", "other")
OTHER = "other"  # MACs a counter saw in modules outside every known component (never dropped; 0 for the zoo)
ELEMENTWISE = ("norm", "softmax", "gelu")
TIMED = ("attn_proj", "attn_core", "mlp", "rest")
BLOCK = ("attn_proj", "attn_core", "mlp")  # the components inside every transformer block

LABELS = {
    "patch_embed": "patch embed (conv)",
    "attn_proj": "attn proj (qkv + out)",
    "attn_core": "attn core (QKᵀ, AV)",
    "mlp": "MLP (fc1 + fc2)",
    "head": "head",
    "other": "other (unrecognised modules)",
    "norm": "LayerNorm",
    "softmax": "softmax",
    "gelu": "GELU",
    "rest": "rest (embed, norms, residuals, head)",
}
# Trainable parameters by part (vitbench.cost.breakdown.ParamBreakdown's fields, in order).
PARAM_PARTS = ("patch_embed", "tokens_pos", "attention", "mlp", "norms", "head")
PARAM_LABELS = {"patch_embed": "patch embed", "tokens_pos": "tokens + position table",
                "attention": "attention (qkv + out)", "mlp": "MLP", "norms": "LayerNorms", "head": "head"}
SHORT = {"patch_embed": "patch embed", "attn_proj": "attn proj", "attn_core": "attn core", "mlp": "MLP",
         "head": "head", "other": "other", "norm": "norm", "softmax": "softmax", "gelu": "GELU", "rest": "rest"}
COLORS = {"patch_embed": "#8c8c8c", "attn_proj": "#1f77b4", "attn_core": "#d62728", "mlp": "#2ca02c",
          "head": "#9467bd", "other": "#bcbd22", "rest": "#8c8c8c"}
