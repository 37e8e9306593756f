"""Training MACs in closed form (vitbench.cost.training): by hand, and equal to torch's FlopCounterMode counting a
real forward + cross-entropy + backward (meta and CPU, fused and materialised attention, with checkpointing)."""

import subprocess
import sys

import pytest

from vitbench.cost import MATMUL_COMPONENTS
from vitbench.cost.analytic import macs
from vitbench.cost.training import training_macs
from vitbench.errors import VitbenchError
from vitbench.zoo import resolve


def test_by_hand_for_a_tiny_config():
    cfg = resolve("vit_ti16", 64, depth=2, num_classes=10)  # N = 17, D = 192, F = 768, L = 2, K = 10
    t = training_macs(cfg, attn="sdpa")
    patch, proj, core, mlp, head = 16 * 768 * 192, 2 * 4 * 17 * 192**2, 2 * 2 * 17**2 * 192, 2 * 2 * 17 * 192 * 768, 1920
    assert (t.forward.patch_embed, t.forward.attn_proj, t.forward.attn_core, t.forward.mlp, t.forward.head) == (
        patch, proj, core, mlp, head)
    assert t.by_component() == {"patch_embed": 2 * patch, "attn_proj": 3 * proj, "attn_core": 3 * core,
                                "mlp": 3 * mlp, "head": 3 * head, "other": 0}
    assert t.recompute_attention == 2 * 17**2 * 192 and t.recompute_checkpoint == 0  # QKᵀ again, per block
    assert t.model == 3 * t.forward.total - patch
    assert t.hardware == t.model + 2 * 17**2 * 192


def test_three_times_forward_for_every_matmul_but_the_patch_embed():
    for cfg in (resolve("vit_b16", 224), resolve("deit_s16", 384), resolve("vit_l14", 224, registers=4)):
        t = training_macs(cfg, "manual")
        fwd = macs(cfg)
        for c in MATMUL_COMPONENTS:
            assert t.by_component()[c] == (2 if c == "patch_embed" else 3) * getattr(fwd, c)
        assert t.hardware == t.model  # materialised attention recomputes nothing


def test_checkpointing_recomputes_every_block_up_to_fc1():
    cfg = resolve("vit_s16", 224)
    fwd, plain, ckpt = macs(cfg), training_macs(cfg, "flash"), training_macs(cfg, "flash", grad_checkpoint=True)
    assert ckpt.model == plain.model
    fc2 = cfg.depth * cfg.tokens * cfg.dim * cfg.mlp_hidden
    assert ckpt.recompute_checkpoint == fwd.attn_proj + fwd.attn_core + fwd.mlp - fc2
    assert ckpt.hardware - plain.hardware == ckpt.recompute_checkpoint
    assert sum(ckpt.hardware_by_component().values()) == ckpt.hardware


CASES = [  # (device, attn, grad_checkpoint, config overrides); meta decomposes SDPA into the math path's bmm
    ("meta", "math", False, {}), ("meta", "math", True, {}), ("cpu", "sdpa", False, {}), ("cpu", "sdpa", True, {}),
    ("cpu", "manual", False, {}), ("cpu", "manual", True, {}), ("cpu", "math", False, {}),
    ("cpu", "sdpa", False, dict(distill=True, registers=2)), ("cpu", "sdpa", False, dict(pool="gap", res="32x48")),
    ("meta", "math", True, dict(distill=True, mlp_ratio=2.5)),
]


@pytest.mark.parametrize("device,attn,ckpt,overrides", CASES, ids=str)
def test_closed_form_equals_flop_counter_mode(device, attn, ckpt, overrides):
    from vitbench.cost.training_count import count_torch_training

    cfg = resolve("vit_ti16", **{"res": 64, "depth": 2, "dim": 64, "heads": 4, "num_classes": 10, **overrides})
    counted = count_torch_training(cfg, device, batch=3, attn="sdpa" if attn == "math" and device == "meta"
                                   else attn, grad_checkpoint=ckpt)
    expected = training_macs(cfg, attn, ckpt)
    assert counted.total == expected.hardware
    if ckpt:
        assert counted.by_component is None  # FlopCounterMode misattributes recomputed ops (see training_count.py)
    else:
        assert {c: getattr(counted.by_component, c) for c in MATMUL_COMPONENTS} == expected.hardware_by_component()


def test_unknown_backend_is_an_error():
    with pytest.raises(VitbenchError, match="unknown attention backend"):
        training_macs(resolve("vit_ti16"), "xformers")


def test_training_cost_modules_do_not_import_torch():
    code = ("import sys, vitbench.cost.training, vitbench.cost.train_cost, vitbench.cost.memory; "
            "assert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_model_macs_of_a_forward_breakdown_equal_the_closed_form():
    """What prices an external model's training step from its own forward breakdown (`other` counts 3 ×)."""
    from vitbench.cost.breakdown import Breakdown
    from vitbench.cost.training import model_macs

    for cfg in (resolve("vit_b16"), resolve("deit_s16", 384), resolve("vit_ti16", 64, registers=2)):
        assert model_macs(macs(cfg)) == training_macs(cfg).model
    assert model_macs(Breakdown("x", 10, 0, 0, 0, 0, other=7)) == 2 * 10 + 3 * 7
