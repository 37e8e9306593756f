"""The three counters agree exactly on every component, on CPU and on the meta device."""

import pytest

from vitbench.cost import MATMUL_COMPONENTS, analytic
from vitbench.cost.attribution import GLOBAL, RawCount, attribute, check_nothing_skipped, exclusive
from vitbench.cost.counters import count
from vitbench.errors import VitbenchError
from vitbench.zoo import PRESETS, preset, resolve, snap_res

TINY_VARIANTS = [
    dict(),
    dict(distill=True),
    dict(registers=3, pool="gap"),
    dict(res="32x48"),
    dict(mlp_ratio=2.5, num_classes=0),
]


def _tiny(**kw):
    base = dict(res=32, depth=2, dim=64, heads=4)
    base.update(kw)
    return resolve("vit_ti16", **base)


def _matmul(b):
    return {c: getattr(b, c) for c in MATMUL_COMPONENTS}


@pytest.mark.parametrize("variant", TINY_VARIANTS, ids=str)
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_counters_agree_on_tiny_configs(variant, device):
    cfg = _tiny(**variant)
    expected = analytic.macs(cfg)
    for counter in ("torch", "fvcore"):
        got = count(cfg, counter, device, batch=3)
        assert _matmul(got) == _matmul(expected), counter
        assert got.total == expected.total


def test_fvcore_norm_count_matches_closed_form():
    cfg = _tiny(distill=True)
    assert count(cfg, "fvcore", "cpu").norm == analytic.macs(cfg).norm


def test_manual_attention_counts_the_same(monkeypatch):
    """The materialised softmax(QKᵀ)V path is counted as the same matmuls as SDPA."""
    import vitbench.cost.counters as counters
    from vitbench.model import build_model

    def build_manual(cfg, device, attn_impl="sdpa", dtype=None):
        return build_model(cfg, device, attn_impl="manual")

    monkeypatch.setattr("vitbench.model.build_model", build_manual)
    cfg = _tiny()
    for counter in ("fvcore", "torch"):
        assert _matmul(counters.count(cfg, counter, "cpu")) == _matmul(analytic.macs(cfg))


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("res", [224, 384])
def test_counters_match_closed_form_for_zoo_on_meta(name, res):
    cfg = resolve(name, res=snap_res(res, preset(name).patch))
    expected = analytic.macs(cfg)
    assert _matmul(count(cfg, "torch", "meta")) == _matmul(expected)
    fv = count(cfg, "fvcore", "meta")
    assert _matmul(fv) == _matmul(expected) and fv.norm == expected.norm


def test_meta_conv_override_is_scoped():
    """After an fvcore count on meta, meta convolutions behave as before (and still work)."""
    import torch

    from vitbench.cost.counter_fixes import traceable_meta_conv

    x, w = torch.empty(1, 3, 8, 8, device="meta"), torch.empty(4, 3, 4, 4, device="meta")
    with traceable_meta_conv():
        assert torch.nn.functional.conv2d(x, w, stride=4).shape == (1, 4, 2, 2)
    count(_tiny(), "fvcore", "meta")
    assert torch.nn.functional.conv2d(x, w, stride=4).shape == (1, 4, 2, 2)
    with pytest.raises(RuntimeError):  # the stock meta kernel's channel check is still in place
        torch.nn.functional.conv2d(x, torch.empty(4, 2, 4, 4, device="meta"), stride=4)


@pytest.mark.parametrize("name", ["vit_ti16", "vit_s16", "vit_b16", "vit_b32", "vit_l14", "vit_h14", "deit_b16"])
@pytest.mark.parametrize("res", [224, 384])
def test_counters_match_closed_form_for_zoo_widths_on_cpu(name, res):
    """Full width and resolution on real CPU tensors (the CPU SDPA kernel, the CPU conv), one block: MACs are
    exactly linear in depth, so this checks every per-block term of the zoo configs at CPU cost."""
    cfg = resolve(name, res=snap_res(res, preset(name).patch), depth=1)
    expected = _matmul(analytic.macs(cfg))
    assert _matmul(count(cfg, "fvcore", "cpu")) == expected
    assert _matmul(count(cfg, "torch", "cpu")) == expected


def test_closed_form_is_linear_in_depth():
    one, many = analytic.macs(resolve("vit_b16", depth=1)), analytic.macs(resolve("vit_b16"))
    for c in ("attn_proj", "attn_core", "mlp"):
        assert getattr(many, c) == 12 * getattr(one, c)


def test_torch_counts_zero_for_cpu_sdpa_without_the_extra_formula():
    """The trap the extra formula closes: stock FlopCounterMode sees no FLOPs in CPU SDPA."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from vitbench.cost.counter_fixes import torch_extra_formulas

    q = torch.randn(1, 2, 10, 8)
    with FlopCounterMode(display=False) as stock, torch.inference_mode():
        F.scaled_dot_product_attention(q, q, q)
    with FlopCounterMode(display=False, custom_mapping=torch_extra_formulas()) as fixed, torch.inference_mode():
        F.scaled_dot_product_attention(q, q, q)
    assert stock.get_total_flops() == 0
    assert fixed.get_total_flops() == 2 * (2 * 10 * 10 * 8 * 2)


def _raw(inclusive, total, counter="torch"):
    return RawCount(counter, inclusive, total, (), frozenset())


def test_exclusive_counts_subtract_children():
    inclusive = {GLOBAL: {"mm": 10, "conv": 4}, "": {"mm": 9, "conv": 4}, "a": {"mm": 7}, "a.b": {"mm": 3},
                 "a.b.c": {"mm": 1}, "d.e": {"conv": 4}}  # 'd' has no entry of its own: 'd.e' reports to ''
    assert exclusive(inclusive) == {GLOBAL: {"mm": 1, "conv": 0}, "": {"mm": 2, "conv": 0}, "a": {"mm": 4},
                                    "a.b": {"mm": 2}, "a.b.c": {"mm": 1}, "d.e": {"conv": 4}}
    with pytest.raises(RuntimeError, match="children count more than their parent"):
        exclusive({"": {"mm": 1}, "a": {"mm": 2}})


def test_attribution_by_nearest_mapped_ancestor_and_op_kind():
    cmap = {"blocks.0.attn": "attention", "blocks.0.attn.qkv": "attn_proj", "blocks.0.mlp": "mlp", "head": "head"}
    inclusive = {"": {"aten.addmm": 70, "aten.bmm": 8, "aten.mm": 5, "layer_norm": 6},
                 "blocks.0": {"aten.addmm": 60, "aten.bmm": 8, "layer_norm": 6},
                 "blocks.0.attn": {"aten.addmm": 30, "aten.bmm": 8, "layer_norm": 2},  # out proj inline, q-norm
                 "blocks.0.attn.qkv": {"aten.addmm": 20}, "blocks.0.mlp": {"aten.addmm": 30},
                 "head": {"aten.addmm": 10}}
    b = attribute(_raw(inclusive, 89), cmap, batch=1, elementwise={"norm"}, must_count={})
    assert (b.attn_proj, b.attn_core, b.mlp, b.head, b.other, b.norm) == (30, 8, 30, 10, 5, 6)
    assert b.total + b.norm == 89


def test_a_zero_count_in_a_matmul_module_is_an_error():
    inclusive = {"": {"aten.addmm": 6}, "blocks.0.attn.qkv": {"aten.addmm": 6}}
    cmap = {"blocks.0.attn.qkv": "attn_proj", "blocks.0.attn.core": "attn_core"}
    with pytest.raises(RuntimeError, match="counted 0 MACs in 'blocks.0.attn.core'"):
        attribute(_raw(inclusive, 6), cmap, 1, set(), must_count={"blocks.0.attn.core": "any"})
    with pytest.raises(RuntimeError, match="0 MACs in the attention core of 'blocks.0.attn'"):
        attribute(_raw({"": {"aten.addmm": 6}, "blocks.0.attn": {"aten.addmm": 6}}, 6),
                  {"blocks.0.attn": "attention"}, 1, set(), must_count={"blocks.0.attn": "attn_core"})


def test_macs_outside_known_modules_are_other_not_dropped():
    b = attribute(_raw({"": {"aten.mm": 5}, "mystery": {"aten.mm": 5}}, 5), {}, 1, set(), must_count={})
    assert b.other == 5 and b.total == 5


def test_components_must_sum_to_the_counters_total():
    with pytest.raises(RuntimeError, match="components sum to 5 but the counter's total is 7"):
        attribute(_raw({"": {"aten.mm": 5}}, 7), {}, 1, set(), must_count={})


def test_own_model_has_nothing_in_other_and_a_complete_map():
    from vitbench.component_map import component_map
    from vitbench.model import build_model

    cfg = _tiny(distill=True)
    model = build_model(cfg, "meta")
    cmap = component_map(model)
    assert cmap == model.component_map()
    assert cmap["blocks.1.attn.core"] == "attn_core" and cmap["head_dist"] == "head"
    for counter in ("torch", "fvcore"):
        assert count(cfg, counter, "meta").other == 0


def test_torch_ops_without_a_formula_are_an_error():
    """FlopCounterMode counts an op without a formula as 0; vitbench lists such ops and fails on matrix work."""
    import torch

    from vitbench.cost.counters import count_module, torch_counts

    class Core(torch.nn.Module):
        def forward(self, q):
            return torch.nn.functional.scaled_dot_product_attention(q, q, q)

    q = torch.randn(1, 2, 10, 8)
    assert "aten._scaled_dot_product_flash_attention_for_cpu" in torch_counts(Core(), q, fixes=False).skipped
    assert torch_counts(Core(), q).skipped == ()
    assert count_module(Core(), q, "torch").other == 2 * 10 * 10 * 8 * 2  # unmapped module: other, never dropped


def test_skipped_matrix_ops_are_an_error():
    check_nothing_skipped("fvcore", {"aten::add": 3, "aten::gelu": 1})
    with pytest.raises(RuntimeError, match="scaled_dot_product_attention"):
        check_nothing_skipped("fvcore", {"aten::scaled_dot_product_attention": 1})


def test_bad_counter_inputs():
    cfg = _tiny()
    with pytest.raises(VitbenchError, match="valid: analytic, fvcore, torch"):
        count(cfg, "thop")
    with pytest.raises(VitbenchError, match="unknown device"):
        count(cfg, "torch", "tpu")
    with pytest.raises(VitbenchError, match="batch"):
        count(cfg, "torch", "meta", batch=0)
