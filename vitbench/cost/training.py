"""Closed-form MACs of one training step, per image, by component. No torch.

Convention (MACs, 1 MAC = 2 FLOPs; per image; matmul and attention-core MACs only, as for inference):

    forward    the inference closed form (vitbench.cost.analytic.macs)
    backward   every Linear: 2 × forward (dX = dY·Wᵀ and dW = Xᵀ·dY, each as large as the forward matmul);
               attention core: 2 × forward (QKᵀ and AV each need two matmuls back: dQ, dK and dP, dV);
               patch embed: 1 × forward (dW only: the input image needs no gradient, so autograd asks the
               convolution backward for the weight gradient alone)
    model      forward + backward. This is the "model FLOPs" of MFU (PaLM's convention): recomputation is not
               useful work and is left out. It is 3 × forward for every component but the patch embed (2 ×).
    recompute  (hardware MACs, on top of model MACs)
               fused attention (flash / efficient / cudnn, and sdpa, which picks one): the backward kernel
               recomputes QKᵀ from Q, K and the saved logsumexp: + N²·D per block (+ 1/2 × the core's forward);
               math / manual attention keep the N×N probabilities and recompute nothing;
               per-block activation checkpointing (torch.utils.checkpoint, non-reentrant): one more forward of
               every block up to its last saved tensor: attention projections, attention core and fc1, but not
               fc2 (- N·D·F per block): with torch's default early stop (`set_checkpoint_early_stop`) the
               recomputation ends once fc2's input is saved again, before fc2 itself runs. Not the patch embed
               or head (outside the checkpointed blocks).

Torch's FlopCounterMode counts the same (vitbench.cost.training_count.count_torch_training;
tests/test_training_cost.py): its SDPA backward formula counts the five matmuls of a fused backward (QKᵀ
recomputed, dP, dV, dQ, dK) and its convolution backward formula honours the output mask (no grad_input for the
image).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from vitbench.cost.analytic import macs
from vitbench.cost.breakdown import MATMUL_COMPONENTS, Breakdown
from vitbench.errors import VitbenchError
from vitbench.zoo import ViTConfig

MATERIALISED_ATTN = ("math", "manual")  # keep softmax(QKᵀ) for the backward; every other backend is fused
ATTN_BACKENDS = ("sdpa", "flash", "efficient", "cudnn", "math", "manual")
# `other` (MACs a counter saw outside the known components of an external model; 0 for the zoo): an ordinary
# layer whose input needs a gradient, 2 × forward.
BACKWARD_FACTOR = {"patch_embed": 1, "attn_proj": 2, "attn_core": 2, "mlp": 2, "head": 2, "other": 2}


@dataclass(frozen=True)
class TrainingMacs:
    """MACs per image of one training step (forward + loss + backward), by component; see the module docstring."""

    forward: Breakdown
    backward: Breakdown
    recompute_attention: int
    recompute_checkpoint: int

    @property
    def model(self) -> int:
        """Forward + backward: the MACs MFU counts."""
        return self.forward.total + self.backward.total

    @property
    def hardware(self) -> int:
        """Model MACs + recomputation: what the device executes."""
        return self.model + self.recompute_attention + self.recompute_checkpoint

    def by_component(self) -> dict[str, int]:
        """Model MACs (forward + backward) per matmul component."""
        return {c: getattr(self.forward, c) + getattr(self.backward, c) for c in MATMUL_COMPONENTS}

    def hardware_by_component(self) -> dict[str, int]:
        """Hardware MACs per component: model MACs + the recomputation each component does again."""
        out = self.by_component()
        out["attn_core"] += self.recompute_attention
        if self.recompute_checkpoint:
            out["attn_proj"] += self.forward.attn_proj
            out["attn_core"] += self.forward.attn_core
            out["mlp"] += self.forward.mlp // 2  # fc1 only: N·D·F per block
        return out


def is_fused(attn: str) -> bool:
    """True for attention backends whose backward recomputes the scores (all but math and manual)."""
    if attn not in ATTN_BACKENDS:
        raise VitbenchError(f"unknown attention backend {attn!r}; valid: {', '.join(ATTN_BACKENDS)}")
    return attn not in MATERIALISED_ATTN


def training_macs(cfg: ViTConfig, attn: str = "sdpa", grad_checkpoint: bool = False) -> TrainingMacs:
    """MACs per image of a training step of `cfg` with attention backend `attn` (see the module docstring)."""
    fwd = macs(cfg)
    values = {f.name: getattr(fwd, f.name) for f in fields(fwd) if f.name in MATMUL_COMPONENTS}
    backward = Breakdown("analytic", **{c: BACKWARD_FACTOR[c] * v for c, v in values.items()})
    scores = cfg.depth * cfg.tokens * cfg.tokens * cfg.dim  # QKᵀ of all heads, all blocks: N²·D per block
    blocks = fwd.attn_proj + fwd.attn_core + fwd.mlp // 2  # recomputed up to fc1; fc2 (N·D·F) is not
    return TrainingMacs(forward=fwd, backward=backward,
                        recompute_attention=scores if is_fused(attn) else 0,
                        recompute_checkpoint=blocks if grad_checkpoint else 0)


def model_macs(forward: Breakdown) -> int:
    """Model MACs per image (forward + backward, no recompute) of a forward breakdown: each component
    (1 + BACKWARD_FACTOR) × its forward. Equal to `training_macs(cfg).model` for `analytic.macs(cfg)`; also
    prices an external model from its own forward breakdown (vitbench.subject)."""
    return sum((1 + BACKWARD_FACTOR[c]) * getattr(forward, c) for c in MATMUL_COMPONENTS)


def cost_row(forward: Breakdown) -> dict:
    """The training cost column of a train row (vitbench.schema): `macs_train`, model MACs per image."""
    return {"macs_train": model_macs(forward)}
