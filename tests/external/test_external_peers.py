"""What a plain fvcore / FlopCounterMode user sees for the models users deploy, and why it differs."""

import pytest

pytest.importorskip("timm")
pytest.importorskip("torchvision")
pytestmark = pytest.mark.external

from vitbench import external  # noqa: E402


def test_plain_counters_drop_the_attention_core_on_cpu(timm_tiny):
    exact, (fv, th) = external.peers(timm_tiny, "cpu", batch=2)
    core = exact.attn_core
    assert core == 12 * 2 * 5**2 * 192  # N = 4 patches + [CLS]
    for peer in (fv, th):
        assert peer.error is None and peer.missing(exact) == {"attn_core": core}
        assert peer.macs.total == exact.total - core
    assert fv.skipped == ("aten::scaled_dot_product_attention",)
    assert th.skipped == ("aten._scaled_dot_product_flash_attention_for_cpu",)
    assert fv.reported == 2 * (fv.macs.total + fv.macs.norm)  # fvcore's "flops": MACs + LayerNorm ops, the batch
    assert th.reported == 2 * 2 * th.macs.total  # FLOPs of the batch
    assert "attn_core 0 of" in fv.explain(exact) and "_for_cpu" in th.explain(exact)


def test_torchvision_fast_path_hides_all_attention_from_plain_counters():
    exact, peers = external.peers("torchvision:vit_b_16", "cpu", img_size=(32, 32))
    for peer in peers:
        assert set(peer.missing(exact)) == {"attn_proj", "attn_core"}  # in-projection, core, out-projection
    assert [p.skipped for p in peers] == [("aten::_native_multi_head_attention",),
                                          ("aten._native_multi_head_attention",)]


def test_on_meta_flopcountermode_is_exact_and_plain_fvcore_fails(timm_tiny):
    exact, (fv, th) = external.peers(timm_tiny, "meta")
    assert th.missing(exact) == {} and th.explain(exact).startswith("FlopCounterMode: exact")
    assert fv.error is not None and fv.macs is None and fv.explain(exact).startswith("fvcore fails: ")
