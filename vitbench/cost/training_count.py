"""FlopCounterMode's count of one real training step (forward + cross-entropy + backward) of a zoo config, the
measured side of the closed form in `vitbench.cost.training`. MACs per image (FLOPs / 2), CPU SDPA formulas
added (`vitbench.cost.counter_fixes`). No torch at import."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from vitbench.component_map import component_map
from vitbench.cost.attribution import attribute, check_nothing_skipped, matrix_modules
from vitbench.cost.breakdown import Breakdown
from vitbench.cost.counters import check_count_args, torch_counts
from vitbench.zoo import ViTConfig


@dataclass(frozen=True)
class TrainingCount:
    """FlopCounterMode's count of one training step (forward + cross-entropy + backward), MACs per image.

    total: everything the device ran, recomputation included (the closed form's `TrainingMacs.hardware`).
    by_component: per matmul component, or None with checkpointing: FlopCounterMode attributes the ops that a
    checkpointed block recomputes during the backward to whichever module is being back-propagated, so only
    the total is meaningful then."""

    total: int
    by_component: Breakdown | None


def count_torch_training(cfg: ViTConfig, device: str = "meta", batch: int = 1, attn: str = "sdpa",
                         grad_checkpoint: bool = False) -> TrainingCount:
    """MACs per image of a training step by torch's FlopCounterMode (FLOPs / 2), CPU SDPA formulas added.

    attn: 'manual' builds the explicit softmax(QKᵀ)·V core; 'math' / 'flash' / 'efficient' / 'cudnn' pin the
    SDPA kernel; 'sdpa' lets torch choose (the meta device decomposes SDPA into the math path's bmm calls)."""
    import torch
    import torch.nn.functional as F

    from vitbench.model import build_model, example_input

    check_count_args(device, batch)
    model = build_model(cfg, device, attn_impl="manual" if attn == "manual" else "sdpa").train()
    model.set_grad_checkpointing(grad_checkpoint)
    x = example_input(cfg, batch, device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)

    def step():
        with _pinned_sdpa(attn):
            F.cross_entropy(model(x), labels).backward()

    raw = torch_counts(model, x, step=step)
    check_nothing_skipped("torch", raw.skipped)
    if raw.total % batch:
        raise RuntimeError(f"torch: {raw.total} MACs are not whole MACs per image")
    if grad_checkpoint:
        return TrainingCount(raw.total // batch, None)
    cmap = component_map(model)
    parts = attribute(raw, cmap, batch, set(), must_count=matrix_modules(model, cmap, raw.called))
    return TrainingCount(raw.total // batch, parts)


@contextlib.contextmanager
def _pinned_sdpa(attn: str):
    """sdpa_kernel(backend) for a pinned backend; nothing for 'sdpa' and 'manual'."""
    names = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION",
             "math": "MATH"}
    if attn not in names:
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(getattr(SDPBackend, names[attn])):
        yield
