"""The closed form of external ViTs (no torch): plain layouts equal vitbench's own closed form, and each
variant's terms match hand-computed counts."""

import pytest

from vitbench.cost import analytic
from vitbench.cost.breakdown import BREAKDOWN_COMPONENTS
from vitbench.cost.external import ExternalArch, crossovers, macs, params
from vitbench.zoo import PRESETS, preset, resolve


def _plain(cfg, **extras):
    fields = dict(pos_tokens=cfg.num_patches + 1 + int(cfg.distill), head_dim=cfg.head_dim,
                  mlp_hidden=cfg.mlp_hidden)
    fields.update(extras)
    return ExternalArch(cfg, "timm", **fields)


@pytest.mark.parametrize("name", PRESETS)
def test_a_plain_layout_is_vitbenchs_own_closed_form(name):
    cfg = preset(name)
    arch = _plain(cfg)
    assert params(arch) == analytic.params(cfg)
    assert macs(arch) == analytic.macs(cfg)
    assert crossovers(arch) == analytic.crossovers(cfg)
    assert arch.extras == ()


def test_dinov2_small_hand_computed():
    """timm vit_small_patch14_dinov2 at 518 px: D 384, L 12, P 14, N = 37² + 1 = 1370, LayerScale, no head."""
    cfg = resolve("vit_s14", res=518, num_classes=0)
    arch = _plain(cfg, layer_scale=True)
    p = params(arch)
    assert p.patch_embed == 3 * 14**2 * 384 + 384 == 226_176
    assert p.tokens_pos == 384 + 1370 * 384 == 526_464
    assert p.attention == 12 * (4 * 384**2 + 4 * 384 + 384) == 7_100_928  # + ls1
    assert p.mlp == 12 * (2 * 384 * 1536 + 1536 + 384 + 384) == 14_183_424  # + ls2
    assert p.norms == 25 * 2 * 384 and p.head == 0
    assert p.total == 22_056_192 == analytic.params(cfg).total + 2 * 12 * 384  # timm's numel(); 9,216 = LayerScale
    assert macs(arch) == analytic.macs(cfg)  # LayerScale is an elementwise scale: no MACs


def test_registers_without_position_embedding_and_no_class_token():
    cfg = resolve("vit_b14", res=518, registers=4, num_classes=0)  # vit_base_patch14_reg4_dinov2
    arch = _plain(cfg, pos_tokens=1369, layer_scale=True)
    assert arch.tokens == 1369 + 1 + 4
    assert params(arch).tokens_pos == (1 + 4) * 768 + 1369 * 768
    assert params(arch).total == 86_582_016  # timm's numel()
    gap = _plain(resolve("vit_b16", res=256, pool="gap"), class_token=False, pos_tokens=256, final_norm="pooled")
    assert gap.tokens == 256 and gap.num_prefix_tokens == 0
    m = macs(gap)
    assert m.attn_core == 12 * 2 * 256**2 * 768
    assert m.norm == 5 * (12 * 2 * 256 * 768 + 768)  # fc_norm normalises one pooled vector per image
    assert "no [CLS]" in gap.extras and "fc_norm (norm after pooling)" in gap.extras


def test_swiglu_has_three_matrices():
    cfg = resolve("vit_s16", num_classes=10)
    gelu, swiglu = _plain(cfg), _plain(cfg, mlp="swiglu", mlp_hidden=1024)
    N, D = cfg.tokens, 384
    assert macs(swiglu).mlp == 12 * 3 * N * D * 1024
    assert params(swiglu).mlp == 12 * (3 * D * 1024 + 2 * 1024 + D)
    assert macs(swiglu).attn_proj == macs(gelu).attn_proj
    mlp_vs_core, _ = crossovers(swiglu)
    assert mlp_vs_core.tokens == 3 * D * 1024 // (2 * D) == 1536  # 2N²D > 3NDF  <=>  N > 1.5 F


def test_qk_norm_pre_norm_and_torchvision_pre_logits():
    cfg = resolve("vit_b16", num_classes=1000)
    N, D = cfg.tokens, 768
    qk = _plain(cfg, qk_norm=True, pre_norm=True)
    assert params(qk).norms == analytic.params(cfg).norms + 12 * 2 * 2 * 64 + 2 * D
    assert macs(qk).norm == analytic.macs(cfg).norm + 5 * (12 * 2 * N * D + N * D)
    tv = ExternalArch(cfg, "torchvision", pos_tokens=N, head_dim=64, mlp_hidden=3072, pre_logits=512)
    assert params(tv).head == D * 512 + 512 + 512 * 1000 + 1000
    assert macs(tv).head == D * 512 + 512 * 1000


def test_bad_variant_names_are_rejected():
    with pytest.raises(ValueError, match="mlp must be one of"):
        _plain(preset("vit_ti16"), mlp="relu2")
    with pytest.raises(ValueError, match="final_norm"):
        _plain(preset("vit_ti16"), final_norm="sometimes")


def test_other_is_zero_in_the_closed_form():
    assert macs(_plain(preset("vit_b16"))).other == 0
    assert "other" in BREAKDOWN_COMPONENTS
