"""Component maps: op attribution rules, vitbench's own map, and the split timer's modules and spans."""

import pytest
import torch
from torch import nn

from vitbench.component_map import (ATTENTION, HookSpan, NotCovered, component_map, nearest, op_component,
                                    timed_modules)
from vitbench.model import build_model


def test_nearest_mapped_ancestor():
    cmap = {"blocks.0.attn": ATTENTION, "blocks.0.attn.qkv": "attn_proj", "head": "head"}
    assert nearest("blocks.0.attn.qkv", cmap) == "attn_proj"
    assert nearest("blocks.0.attn.q_norm", cmap) == ATTENTION
    assert nearest("blocks.0.mlp.fc1", cmap) is None
    assert nearest("", cmap) is None


@pytest.mark.parametrize("op, component, expected", [
    ("aten.addmm", "mlp", "mlp"),
    ("aten.bmm", "mlp", "mlp"),
    ("layer_norm", "mlp", "norm"),  # fvcore's name
    ("aten.native_layer_norm", None, "norm"),
    ("aten.addmm", None, "other"),
    ("scaled_dot_product_attention", ATTENTION, "attn_core"),  # fvcore
    ("aten._scaled_dot_product_flash_attention_for_cpu", ATTENTION, "attn_core"),  # torch, CPU kernel
    ("aten.bmm", ATTENTION, "attn_core"),  # QKᵀ / AV, explicit or SDPA's math path
    ("matmul", ATTENTION, "attn_core"),
    ("aten.addmm", ATTENTION, "attn_proj"),  # torchvision's functional out projection
    ("linear", ATTENTION, "attn_proj"),
    ("aten.bmm(weight)", ATTENTION, "attn_proj"),  # a linear that torch ran as a batched matmul
    ("aten.convolution", ATTENTION, "other"),
])
def test_op_component(op, component, expected):
    assert op_component(op, component) == expected


def test_own_model_map_and_timed_modules(tiny):
    model = build_model(tiny.replace(distill=True), "meta")
    cmap = component_map(model)
    assert cmap["patch_embed"] == "patch_embed" and cmap["head_dist"] == "head"
    assert {cmap[f"blocks.1.attn.{m}"] for m in ("qkv", "proj")} == {"attn_proj"}
    timed = timed_modules(model)
    assert timed["attn_proj"] == [model.blocks[0].attn.qkv, model.blocks[0].attn.proj,
                                  model.blocks[1].attn.qkv, model.blocks[1].attn.proj]
    assert timed["attn_core"] == [b.attn.core for b in model.blocks]
    assert timed["mlp"] == [b.mlp for b in model.blocks]


def test_unknown_model_maps_nothing_and_cannot_be_split():
    model = nn.Sequential(nn.Linear(4, 4))
    assert component_map(model) == {}
    with pytest.raises(NotCovered, match="0 attention cores and 0 MLPs"):
        timed_modules(model)


class _Inline(nn.Module):
    """timm-like attention: the core runs between k_norm and norm, with no module of its own."""

    def __init__(self, events: list):
        super().__init__()
        self.events = events
        self.qkv, self.k_norm, self.norm, self.proj = nn.Linear(4, 12), nn.Identity(), nn.Identity(), nn.Linear(4, 4)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        k = self.k_norm(k)
        self.events.append("core")
        x = torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v
        return self.proj(self.norm(x))


def test_hook_span_brackets_exactly_the_code_between_its_modules():
    events: list = []
    attn = _Inline(events)
    span = HookSpan(attn.k_norm, attn.norm, "test")
    handles = [span.register_forward_pre_hook(lambda m, args: events.append(("start", m))),
               span.register_forward_hook(lambda m, args, out: events.append(("end", m)))]
    attn.qkv.register_forward_hook(lambda *a: events.append("qkv"))
    attn.proj.register_forward_pre_hook(lambda *a: events.append("proj"))
    attn(torch.randn(1, 3, 4))
    assert events == ["qkv", ("start", span), "core", ("end", span), "proj"]
    for h in handles:
        h.remove()
    events.clear()
    attn(torch.randn(1, 3, 4))
    assert events == ["qkv", "core", "proj"]  # removed: the span leaves no hooks behind
