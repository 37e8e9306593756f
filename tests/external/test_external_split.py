"""`bench --split` on external models: the split timer hooks timm's blocks through the component map; timm's
inline attention core is timed as a span; torchvision's MultiheadAttention cannot be split."""

import pytest

pytest.importorskip("timm")
pytest.importorskip("torchvision")
pytestmark = pytest.mark.external

import torch  # noqa: E402

from vitbench import external  # noqa: E402
from vitbench.component_map import HookSpan  # noqa: E402
from vitbench.measure.backends import Unsupported  # noqa: E402
from vitbench.measure.split import METHODS, component_modules, measure  # noqa: E402


def test_timm_core_span_brackets_sdpa_in_every_block(timm_tiny, monkeypatch):
    model = timm_tiny.build("cpu")
    modules = component_modules(model)
    assert modules["attn_proj"] == [m for b in model.blocks for m in (b.attn.qkv, b.attn.proj)]
    assert modules["mlp"] == [b.mlp for b in model.blocks]
    assert all(isinstance(s, HookSpan) for s in modules["attn_core"]) and len(modules["attn_core"]) == 12
    events = []
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda *a, **k: events.append("sdpa") or sdpa(*a, **k))
    for span in modules["attn_core"]:
        span.register_forward_pre_hook(lambda m, args: events.append("start"))
        span.register_forward_hook(lambda m, args, out: events.append("end"))
    with torch.inference_mode():
        model(timm_tiny.example_input(1, "cpu"))
    assert events == ["start", "sdpa", "end"] * 12


@pytest.mark.parametrize("method", METHODS)
def test_measure_split_on_timm(timm_tiny, method):
    """Both methods (hooks; profiler ranges, which must nest: the span opens and closes inside Attention)."""
    model = timm_tiny.build("cpu")
    x = timm_tiny.example_input(2, "cpu")
    with torch.inference_mode():
        cols = measure(model, lambda: model(x), "cpu", iters=2, method=method).columns()
    for c in ("attn_proj", "attn_core", "mlp"):
        assert cols[f"time_ms_{c}"] > 0
    assert sum(cols[f"time_share_{c}"] for c in ("attn_proj", "attn_core", "mlp", "rest")) == pytest.approx(1)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())  # all removed


def test_torchvision_attention_cannot_be_timed_apart():
    model = external.describe("torchvision:vit_b_16", (32, 32)).build("meta")
    with pytest.raises(Unsupported, match="not covered: attention core of encoder.layers.encoder_layer_0."
                                          "self_attention .*MultiheadAttention"):
        component_modules(model)
