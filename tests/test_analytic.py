"""Closed-form cost against published figures and against the built module."""

import random

import pytest

from vitbench.cost import analytic
from vitbench.zoo import PRESETS, ViTConfig, preset, resolve

# torchvision's documented num_params / GFLOPS (GMACs) for its ViTs, and timm's DeiT parameter counts.
PUBLISHED = [
    ("vit_b16", 224, 86_567_656, 17.56),
    ("vit_b32", 224, 88_224_232, 4.41),
    ("vit_l16", 224, 304_326_632, 61.55),
    ("vit_l32", 224, 306_535_400, 15.38),
    ("vit_b16", 384, 86_859_496, 55.48),   # ViT_B_16 SWAG E2E, 384 px
    ("vit_l16", 512, 305_174_504, 361.99),  # ViT_L_16 SWAG E2E, 512 px
    ("vit_h14", 518, 633_470_440, 1016.72),  # ViT_H_14 SWAG E2E, 518 px
    ("deit_ti16", 224, 5_910_800, None),
    ("deit_s16", 224, 22_436_432, None),
    ("deit_b16", 224, 87_338_192, None),
    ("vit_ti16", 224, 5_717_416, None),
    ("vit_s16", 224, 22_050_664, None),
]


@pytest.mark.parametrize("name,res,n_params,gmacs", PUBLISHED)
def test_matches_published_tables(name, res, n_params, gmacs):
    cfg = resolve(name, res=res)
    assert analytic.params(cfg).total == n_params
    if gmacs is not None:
        assert round(analytic.macs(cfg).total / 1e9, 2) == gmacs


@pytest.mark.parametrize("name,gflops_paper", [("vit_ti16", 1.3), ("vit_s16", 4.6), ("vit_b16", 17.6)])
def test_deit_paper_gflops_are_gmacs(name, gflops_paper):
    """The DeiT paper's 'GFLOPs' (DeiT-Ti/S/B, no distillation token) are multiply-adds."""
    assert round(analytic.macs(preset(name)).total / 1e9, 1) == gflops_paper


def test_vit_b16_components_by_hand():
    m = analytic.macs(preset("vit_b16"))
    N, D, L, F = 197, 768, 12, 3072
    assert m.patch_embed == 196 * 3 * 16 * 16 * D
    assert m.attn_proj == L * 4 * N * D * D
    assert m.attn_core == L * 2 * N * N * D
    assert m.mlp == L * 2 * N * D * F
    assert m.head == D * 1000
    assert m.total == 17_563_828_224
    assert m.norm == 25 * 5 * N * D


def test_position_table_grows_with_resolution():
    p224, p384 = analytic.params(resolve("vit_b16")), analytic.params(resolve("vit_b16", res=384))
    assert p384.tokens_pos - p224.tokens_pos == (577 - 197) * 768
    assert p384.total - p224.total == (577 - 197) * 768


def test_crossovers_vit_b16():
    to_mlp, to_dense = analytic.crossovers(preset("vit_b16"))
    assert to_mlp.tokens == 4 * 768 and to_dense.tokens == 6 * 768
    assert (to_mlp.side, to_mlp.res) == (56, 896)  # 55² + 1 = 3026 <= 3072 < 56² + 1
    assert (to_dense.side, to_dense.res) == (68, 1088)


def test_crossover_is_where_core_overtakes():
    for name in ("vit_ti16", "vit_b16", "vit_l14", "deit_s16"):
        cfg = preset(name)
        to_mlp, to_dense = analytic.crossovers(cfg)
        at = analytic.macs(cfg.replace(img_size=(to_mlp.res, to_mlp.res)))
        below = analytic.macs(cfg.replace(img_size=(to_mlp.res - cfg.patch,) * 2))
        assert at.attn_core > at.mlp and below.attn_core <= below.mlp
        at = analytic.macs(cfg.replace(img_size=(to_dense.res, to_dense.res)))
        below = analytic.macs(cfg.replace(img_size=(to_dense.res - cfg.patch,) * 2))
        assert at.attn_core > at.mlp + at.attn_proj and below.attn_core <= below.mlp + below.attn_proj


def random_configs(n: int, seed: int = 0) -> list[ViTConfig]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        heads = rng.choice([1, 2, 4])
        patch = rng.choice([4, 8, 16])
        out.append(ViTConfig(
            patch=patch, img_size=(patch * rng.randint(1, 4), patch * rng.randint(1, 4)),
            dim=heads * rng.choice([8, 16]), depth=rng.randint(1, 3), heads=heads,
            mlp_ratio=rng.choice([1.0, 2.5, 4.0]), num_classes=rng.choice([0, 10]),
            pool=rng.choice(["cls", "gap"]), distill=rng.random() < 0.3, registers=rng.choice([0, 0, 2]),
            qkv_bias=rng.random() < 0.8, in_chans=rng.choice([1, 3]),
        ))
    return out


@pytest.mark.parametrize("cfg", random_configs(40), ids=lambda c: f"P{c.patch}-{c.img_size}-D{c.dim}")
def test_params_equal_module_numel_on_random_configs(cfg):
    from vitbench.model import build_model

    model = build_model(cfg, "meta")
    assert analytic.params(cfg).total == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", PRESETS)
def test_params_equal_module_numel_for_zoo(name):
    from vitbench.model import build_model

    cfg = preset(name)
    assert analytic.params(cfg).total == sum(p.numel() for p in build_model(cfg, "meta").parameters())

