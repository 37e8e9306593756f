import pytest
import torch

from vitbench.model import build_model, example_input
from vitbench.zoo import resolve


@pytest.mark.parametrize("variant", [dict(), dict(distill=True), dict(registers=2, pool="gap"), dict(res="32x64")],
                         ids=str)
def test_manual_and_sdpa_attention_agree(tiny, variant):
    cfg = resolve("vit_ti16", **{"res": 32, "depth": 2, "dim": 64, "heads": 4, **variant})
    torch.manual_seed(0)
    model = build_model(cfg)
    x = example_input(cfg, batch=2)
    with torch.inference_mode():
        fused = model(x)
        model.set_attention_impl("manual")
        manual = model(x)
    assert fused.shape == (2, cfg.num_classes)
    torch.testing.assert_close(manual, fused, rtol=1e-5, atol=1e-5)


def test_meta_build_allocates_nothing():
    model = build_model(resolve("vit_h14", res=518), "meta")
    assert all(p.is_meta for p in model.parameters())
    out = model(example_input(model.cfg, 1, "meta"))
    assert out.shape == (1, 1000) and out.is_meta


def test_forward_features_keeps_all_tokens(tiny):
    model = build_model(tiny.replace(registers=2))
    with torch.inference_mode():
        feats = model.forward_features(example_input(model.cfg, 3))
    assert feats.shape == (3, model.cfg.tokens, model.cfg.dim)


def test_distilled_head_averages_both_heads():
    cfg = resolve("deit_ti16", res=32, depth=1, dim=32, heads=2)
    model = build_model(cfg)
    with torch.inference_mode():
        feats = model.forward_features(example_input(cfg, 2))
        expected = (model.head(feats[:, 0]) + model.head_dist(feats[:, 1])) / 2
        torch.testing.assert_close(model.forward_head(feats), expected)


def test_unknown_attention_impl():
    with pytest.raises(ValueError, match="sdpa"):
        build_model(resolve("vit_ti16", res=32, depth=1), attn_impl="flashy")


@pytest.mark.external
def test_state_dict_loads_into_timm():
    timm = pytest.importorskip("timm")
    cfg = resolve("vit_ti16", res=32, depth=2)
    ours = build_model(cfg)
    theirs = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=16, embed_dim=cfg.dim, depth=cfg.depth, num_heads=cfg.heads).eval()
    theirs.load_state_dict(ours.state_dict())
    x = example_input(cfg, 2)
    with torch.inference_mode():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


def test_grad_checkpointing_changes_what_is_saved_not_the_result():
    cfg = resolve("vit_ti16", res=32, depth=3, dim=64, heads=4)
    torch.manual_seed(0)
    model = build_model(cfg).train()
    assert model.grad_checkpointing is False
    x = torch.randn(2, 3, 32, 32)
    saved = []

    def run():
        saved.clear()
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
            return model(x)

    plain, n_plain = run(), len(saved)
    model.set_grad_checkpointing(True)
    ckpt, n_ckpt = run(), len(saved)
    assert torch.equal(plain, ckpt)
    assert n_ckpt < n_plain  # each block saves its input (and a 0-element marker) instead of its activations
    with torch.no_grad():
        assert torch.equal(model(x), plain)  # no grad: checkpointing is skipped
    model.set_grad_checkpointing(False)
    assert run() is not None and len(saved) == n_plain
