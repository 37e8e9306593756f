import pytest

from vitbench.errors import VitbenchError
from vitbench.zoo import PRESETS, SIZES, ViTConfig, parse_res, preset, resolve


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_parses_at_224(name):
    cfg = preset(name)
    assert cfg.name == name and cfg.img_size == (224, 224)
    assert cfg.dim % cfg.heads == 0


def test_paper_sizes():
    assert SIZES == {"ti": (192, 12, 3), "s": (384, 12, 6), "b": (768, 12, 12),
                     "l": (1024, 24, 16), "h": (1280, 32, 16)}
    b16 = preset("vit_b16")
    assert (b16.patch, b16.dim, b16.depth, b16.heads, b16.mlp_hidden) == (16, 768, 12, 12, 3072)
    assert preset("deit_s16").distill and not preset("vit_s16").distill


def test_tokens_include_prefix_tokens():
    assert preset("vit_b16").tokens == 197
    assert preset("deit_b16").tokens == 198
    assert resolve("vit_b16", res=384).tokens == 577
    assert resolve("vit_b16", registers=4).tokens == 201
    assert resolve("vit_b16", res="224x320").tokens == 14 * 20 + 1


def test_any_patch_in_grammar():
    cfg = preset("vit_b14")
    assert cfg.patch == 14 and cfg.img_size == (224, 224)


def test_parse_res():
    assert parse_res("384") == (384, 384)
    assert parse_res("384x512") == (384, 512)
    with pytest.raises(VitbenchError, match="HxW"):
        parse_res("big")
    with pytest.raises(VitbenchError):
        parse_res("0")


def test_unknown_model_suggests_close_names():
    with pytest.raises(VitbenchError, match="did you mean vit_b16"):
        preset("vitb16")
    with pytest.raises(VitbenchError, match="unknown model"):
        preset("resnet50")
    with pytest.raises(VitbenchError, match="DeiT comes in"):
        preset("deit_l16")


def test_resolution_not_divisible_names_nearest_valid():
    with pytest.raises(VitbenchError, match="nearest valid: 224 or 240"):
        resolve("vit_b16", res=225)


def test_width_not_divisible_by_heads():
    with pytest.raises(VitbenchError, match="not divisible by 5 heads"):
        resolve("vit_b16", heads=5)


@pytest.mark.parametrize("override", [{"dim": 0}, {"depth": -1}, {"heads": 0}, {"patch": 0},
                                      {"mlp_ratio": 0.0}, {"registers": -1}, {"num_classes": -2}])
def test_non_positive_sizes_rejected(override):
    with pytest.raises(VitbenchError):
        resolve("vit_b16", **override)


def test_unknown_pool():
    with pytest.raises(VitbenchError, match="valid: cls, gap"):
        resolve("vit_b16", pool="max")


def test_config_is_frozen():
    with pytest.raises(Exception):
        ViTConfig().dim = 3


def test_snap_res():
    from vitbench.zoo import snap_res

    assert snap_res(384, 16) == 384 and snap_res(384, 14) == 378 and snap_res(224, 14) == 224
    assert snap_res(5, 16) == 16


def test_mlp_ratio_whose_hidden_width_overflows_is_rejected():
    with pytest.raises(VitbenchError, match="mlp ratio must be a finite number"):
        resolve("vit_b16", mlp_ratio=1e308)  # 768 × 1e308 = inf: int() of it was an OverflowError traceback
