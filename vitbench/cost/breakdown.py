"""The records every cost counter fills in. No torch.

Convention: one multiply-accumulate (MAC) = one multiply + one add = 2 FLOPs. All MAC figures here are **per
image**, summed over all blocks, for a forward pass. Elementwise work (norms, softmax, GELU) is not a MAC; it
is kept apart in element-ops (LayerNorm 5 per element, as fvcore counts it; softmax and GELU 1 per element).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

MATMUL_COMPONENTS = ("patch_embed", "attn_proj", "attn_core", "mlp", "head")
ELEMENTWISE_COMPONENTS = ("norm", "softmax", "gelu")
COMPONENT_LABELS = {
    "patch_embed": "patch embed (conv)",
    "attn_proj": "attention projections (qkv + out)",
    "attn_core": "attention core (QKᵀ, AV)",
    "mlp": "MLP (fc1 + fc2)",
    "head": "head",
    "norm": "LayerNorm",
    "softmax": "softmax",
    "gelu": "GELU",
}


@dataclass(frozen=True)
class Breakdown:
    """MACs per image by component, as one counter saw them.

    `None` in an elementwise field means the counter does not see that kind of op (torch's FlopCounterMode
    counts no elementwise ops; fvcore counts norms only).
    """

    counter: str
    patch_embed: int
    attn_proj: int
    attn_core: int
    mlp: int
    head: int
    norm: int | None = None
    softmax: int | None = None
    gelu: int | None = None

    @property
    def total(self) -> int:
        """Matmul + attention-core MACs per image (elementwise excluded)."""
        return sum(getattr(self, c) for c in MATMUL_COMPONENTS)

    @property
    def attention(self) -> int:
        return self.attn_proj + self.attn_core

    def share(self, component: str) -> float:
        """Fraction of `total` spent in one matmul component (or 'attention' = proj + core)."""
        value = self.attention if component == "attention" else getattr(self, component)
        return value / self.total if self.total else 0.0

    def scaled(self, factor: int) -> "Breakdown":
        """The same breakdown for `factor` images (e.g. a batch)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "counter"}
        return Breakdown(self.counter, **{k: None if v is None else v * factor for k, v in values.items()})

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ParamBreakdown:
    """Trainable parameters by component; exact integers."""

    patch_embed: int
    tokens_pos: int  # [CLS], distillation token, registers and the position table
    attention: int  # qkv + out projections, weights and biases, all blocks
    mlp: int
    norms: int
    head: int

    @property
    def total(self) -> int:
        return sum(asdict(self).values())

    def as_dict(self) -> dict:
        return asdict(self)
