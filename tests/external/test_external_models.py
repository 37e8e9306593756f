"""The models users deploy: timm's and torchvision's ViTs are read into the closed form, whose parameters equal
the module's numel() and whose MACs equal fvcore's and FlopCounterMode's, component by component."""

import pytest

pytest.importorskip("timm")
pytest.importorskip("torchvision")
pytestmark = pytest.mark.external

from vitbench import external  # noqa: E402
from vitbench.cost.breakdown import BREAKDOWN_COMPONENTS  # noqa: E402
from vitbench.cost.counters import count_module  # noqa: E402
from vitbench.errors import VitbenchError  # noqa: E402

DONE_WHEN = ["timm:vit_base_patch16_224", "timm:vit_base_patch16_384", "timm:vit_small_patch14_dinov2",
             "timm:vit_base_patch14_reg4_dinov2", "timm:vit_huge_patch14_224", "torchvision:vit_b_16",
             "torchvision:vit_l_16"]
# Variants beyond the list: SwiGLU (packed), no [CLS] + GAP + fc_norm, CLIP's norm_pre, distillation.
VARIANTS = ["timm:vit_giant_patch14_dinov2", "timm:vit_medium_patch16_gap_256", "timm:vit_base_patch16_clip_224",
            "timm:deit_base_distilled_patch16_224"]


def _matmul(b):
    return {c: getattr(b, c) for c in BREAKDOWN_COMPONENTS}  # `other` included


@pytest.mark.parametrize("name", DONE_WHEN + VARIANTS)
def test_closed_form_equals_numel_and_both_counters_on_meta(name):
    ext = external.describe(name)
    assert ext.covered, ext.not_covered
    assert external.params(ext).total == ext.numel
    closed = external.count(ext, "analytic")
    assert closed.other == 0
    fv, th = external.count(ext, "fvcore"), external.count(ext, "torch")
    assert _matmul(fv) == _matmul(closed) and _matmul(th) == _matmul(closed)
    assert fv.norm == closed.norm  # LayerNorm element-ops, qk/pre/fc norms included
    mlp, dense = external.crossovers(ext)
    assert 0 < mlp.tokens < dense.tokens


def test_published_and_read_values():
    """Parameter counts timm/torchvision publish, and the variant terms read from the modules."""
    dinov2 = external.describe("timm:vit_small_patch14_dinov2")
    assert dinov2.numel == 22_056_192 and dinov2.arch.layer_scale and dinov2.arch.tokens == 1370
    reg4 = external.describe("timm:vit_base_patch14_reg4_dinov2")
    assert reg4.arch.cfg.registers == 4 and reg4.arch.pos_tokens == 37 * 37 and reg4.arch.tokens == 1374
    assert external.describe("torchvision:vit_b_16").numel == 86_567_656
    assert external.macs("torchvision:vit_l_16").total == 61_554_712_576  # torchvision docs: 61.55 "GFLOPS"
    giant = external.describe("timm:vit_giant_patch14_dinov2").arch
    assert giant.mlp == "swiglu" and giant.mlp_hidden == 4096


@pytest.mark.parametrize("name, size", [("timm:vit_small_patch14_dinov2", (98, 126)),
                                        ("timm:vit_base_patch16_reg4_gap_256", (64, 64)),
                                        ("torchvision:vit_b_16", (64, 64))])
def test_counters_on_cpu_tensors(name, size):
    """Real CPU kernels: timm's SDPA (the CPU flash kernel), torchvision's MultiheadAttention (its fused fast
    path is kept off while counting)."""
    ext = external.describe(name, size)
    closed = _matmul(external.count(ext, "analytic"))
    for counter in ("fvcore", "torch"):
        assert _matmul(external.count(ext, counter, "cpu", batch=2)) == closed


def test_unfused_timm_attention_counts_the_same(timm_tiny):
    model = timm_tiny.build("cpu")
    for block in model.blocks:
        block.attn.fused_attn = False
    closed = _matmul(external.count(timm_tiny, "analytic"))
    for counter in ("fvcore", "torch"):
        assert _matmul(count_module(model, timm_tiny.example_input(2, "cpu"), counter)) == closed


def _custom_attention_model(ext):
    """timm's ViT with every block's attention swapped for a class vitbench does not know."""
    import torch
    from torch import nn

    class MyAttention(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

        def forward(self, x, attn_mask=None, is_causal=False):
            B, N, D = x.shape
            q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
            x = torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, dim=-1) @ v
            return self.proj(x.transpose(1, 2).reshape(B, N, D))

    model = ext.build("meta")
    for block in model.blocks:
        block.attn = MyAttention(model.embed_dim, block.attn.num_heads).to("meta")
    return model


def test_unrecognised_attention_is_other_never_dropped(timm_tiny):
    from vitbench.external_arch import read

    model = _custom_attention_model(timm_tiny)
    closed = external.count(timm_tiny, "analytic")
    arch, missing, _, _ = read(model, "timm:custom")
    assert arch is None and missing == ("attention class MyAttention",) * 12
    for counter in ("fvcore", "torch"):
        got = count_module(model, timm_tiny.example_input(2, "meta"), counter)
        assert got.attn_proj == 0 and got.attn_core == 0
        assert got.other == closed.attn_proj + closed.attn_core
        assert got.total == closed.total and got.mlp == closed.mlp


def test_not_covered_model_falls_back_to_counters():
    ext = external.describe("timm:vit_base_patch16_siglip_224", (64, 64))
    assert not ext.covered and ext.not_covered == ("pooling 'map'",)
    with pytest.raises(VitbenchError, match="not covered: pooling 'map'"):
        external.macs(ext)
    fv, th = external.count(ext, "fvcore"), external.count(ext, "torch")
    assert _matmul(fv) == _matmul(th) and fv.other > 0  # the attention pool's q, kv, proj projections


def test_bench_rows_price_variants_with_their_own_closed_form():
    """DINOv2 (LayerScale): bench refused it as "not plain"; its rows now carry the module's exact cost."""
    from vitbench.subject import subjects

    s = subjects("timm:vit_small_patch14_dinov2", None, {})[0]
    row = s.cost_row()
    assert row["params"] == s.external.numel == 22_056_192 and row["macs"] == s.count("torch").total
