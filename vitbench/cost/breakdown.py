"""The records every cost counter fills in. No torch.

Convention: one multiply-accumulate (MAC) = one multiply + one add = 2 FLOPs. All MAC figures here are **per
image**, summed over all blocks, for a forward pass. Elementwise work (norms, softmax, GELU) is not a MAC; it
is kept apart in element-ops (LayerNorm 5 per element, as fvcore counts it; softmax and GELU 1 per element).

`other` holds MACs that a counter saw in modules outside every known component (e.g. an attention class vitbench
does not recognise in an external model): they are in the total, never dropped. For vitbench's own model and
for the closed form it is 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from vitbench.components import ELEMENTWISE as ELEMENTWISE_COMPONENTS
from vitbench.components import MATMUL as MATMUL_COMPONENTS

BREAKDOWN_COMPONENTS = MATMUL_COMPONENTS  # what a Breakdown holds and `total` sums, `other` included


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
    other: int = 0
    norm: int | None = None
    softmax: int | None = None
    gelu: int | None = None

    @property
    def total(self) -> int:
        """Matmul + attention-core MACs per image, `other` included (elementwise excluded)."""
        return sum(getattr(self, c) for c in BREAKDOWN_COMPONENTS)

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

    def to_row(self) -> dict:
        """MACs, FLOPs (2 × MACs) and element-ops per image as result columns (vitbench.schema
        FLOPS_COLUMNS): macs, flops, macs_<component>, ops_<elementwise>, attn_core_share."""
        return {"macs": self.total, "flops": 2 * self.total,
                **{f"macs_{c}": getattr(self, c) for c in MATMUL_COMPONENTS},
                **{f"ops_{c}": getattr(self, c) for c in ELEMENTWISE_COMPONENTS},
                "attn_core_share": round(self.share("attn_core"), 6)}


@dataclass(frozen=True)
class ParamBreakdown:
    """Trainable parameters by component; exact integers."""

    patch_embed: int
    tokens_pos: int  # [CLS], distillation token, registers and the position table
    attention: int  # qkv + out projections, weights and biases, all blocks (+ LayerScale ls1 where present)
    mlp: int  # all MLP matrices and biases (+ LayerScale ls2 where present)
    norms: int  # every LayerNorm, qk-norm included
    head: int  # classifier(s), + torchvision's pre-logits layer where present

    @property
    def total(self) -> int:
        return sum(asdict(self).values())

    def as_dict(self) -> dict:
        return asdict(self)
