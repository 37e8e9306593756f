"""Which module does which cost component's work: a model's component map, read from module structure.

A component map is ``{qualified module name: component}``. vitbench's own model states its map
(`VisionTransformer.component_map()`); for timm's and torchvision's ViTs it is built here from module types
(never from name guessing): timm `PatchEmbed`, `Attention` (+ its ``qkv``, ``proj``, ``gate`` linears), `Mlp`,
`SwiGLU`, `GluMlp` (SwiGLUPacked), `GatedMlp` and the classifier that `get_classifier()` returns; torchvision's
``conv_proj``, `nn.MultiheadAttention`, `MLPBlock` and ``heads``.

Components are `vitbench.components.MATMUL`, plus ``attention``: a module that runs attention in its own
forward (timm's `Attention` calls SDPA inline; torchvision's `MultiheadAttention` also runs its in/out
projections as functional calls). Ops there are split by kind: attention kernels and batched matmuls (QKᵀ, AV)
are ``attn_core``; linear, addmm, mm and batched matmuls against a broadcast weight are ``attn_proj``.
Normalisation ops are element-ops (``norm``) wherever they run. A module's work goes to its nearest mapped
ancestor (itself included); work with no mapped ancestor is ``other`` — counted, never dropped.

`timed_modules` gives the split timer the same map as modules to hook. timm's attention core has no module of
its own, so it is timed as a `HookSpan`: from the return of ``k_norm`` to the call of ``norm`` (``proj`` in
older timm), the stretch of `Attention.forward` that runs only the core, fused or not.
"""

from __future__ import annotations

from vitbench.components import BLOCK, MATMUL, OTHER
from vitbench.errors import VitbenchError

ATTENTION = "attention"
MAPPED = tuple(c for c in MATMUL if c != OTHER) + (ATTENTION,)  # what a map may name (`other`: unmapped work)
# Op names (fvcore: 'scaled_dot_product_attention', 'matmul'; torch: 'aten.bmm', ...) by what they compute.
# 'bmm(weight)': a batched matmul with a weight broadcast over the batch, i.e. a linear layer (counters.py).
_CORE_OPS = ("bmm", "baddbmm", "matmul", "einsum")
_PROJ_OPS = ("linear", "addmm", "mm", "bmm(weight)", "baddbmm(weight)")


class NotCovered(VitbenchError):
    """The model has a part vitbench cannot describe or time; the message names it."""


def component_map(model) -> dict[str, str]:
    """Qualified module name -> component (see the module docstring); {} for a model of unknown origin."""
    own = getattr(model, "component_map", None)
    source = type(model).__module__.split(".")[0]
    readers = {"timm": _timm_map, "torchvision": _torchvision_map}
    cmap = own() if callable(own) else readers[source](model) if source in readers else {}
    unknown = set(cmap.values()) - set(MAPPED)
    if unknown:
        raise ValueError(f"component map of {type(model).__name__} names unknown components {sorted(unknown)}")
    return cmap


def _timm_map(model) -> dict[str, str]:
    from timm.layers import Attention, GatedMlp, GluMlp, Mlp, PatchEmbed, SwiGLU
    from torch import nn

    out: dict[str, str] = {}
    for name, mod in model.named_modules():
        if isinstance(mod, PatchEmbed):
            out[name] = "patch_embed"
        elif type(mod) is Attention:
            out[name] = ATTENTION
            out.update({f"{name}.{c}": "attn_proj" for c in ("qkv", "proj", "gate")
                        if isinstance(getattr(mod, c, None), nn.Linear)})
        elif type(mod) in (Mlp, SwiGLU, GluMlp, GatedMlp):
            out[name] = "mlp"
    classifier = getattr(model, "get_classifier", lambda: ())()
    heads = {id(h) for h in (classifier if isinstance(classifier, tuple) else (classifier,))}
    out.update({name: "head" for name, mod in model.named_modules() if id(mod) in heads})
    return out


def _torchvision_map(model) -> dict[str, str]:
    from torch import nn
    from torchvision.models.vision_transformer import MLPBlock, VisionTransformer

    out: dict[str, str] = {}
    for name, mod in model.named_modules():
        if isinstance(mod, nn.MultiheadAttention):
            out[name] = ATTENTION
        elif isinstance(mod, MLPBlock):
            out[name] = "mlp"
    if isinstance(model, VisionTransformer):
        out.update({"conv_proj": "patch_embed", "heads": "head"})
    return out


def nearest(name: str, cmap: dict[str, str]) -> str | None:
    """The component of `name`'s nearest mapped ancestor (itself included); None when it has none."""
    while True:
        if name in cmap:
            return cmap[name]
        if not name:
            return None
        name = name.rpartition(".")[0]


def is_norm_op(op: str) -> bool:
    return "norm" in op.rsplit(".", 1)[-1]


def op_component(op: str, component: str | None) -> str:
    """The component one op's count goes to, given the component of the module it ran in (None: unmapped)."""
    base = op.rsplit(".", 1)[-1].split("::")[-1]  # 'aten.addmm' / 'aten::addmm' / 'addmm' -> 'addmm'
    if is_norm_op(base):
        return "norm"
    if component is None:
        return OTHER
    if component != ATTENTION:
        return component
    if "attention" in base or base in _CORE_OPS:
        return "attn_core"
    return "attn_proj" if base in _PROJ_OPS else OTHER


class HookSpan:
    """Stands in for a module in the split timer: its pre-hooks run when `start` returns, its forward hooks
    when `end` is called. It times the code between two sibling submodules (no module of its own)."""

    def __init__(self, start, end, label: str):
        self.start, self.end, self.label = start, end, label

    def register_forward_pre_hook(self, hook):
        def on_start(_module, args, _out):
            hook(self, args)

        return self.start.register_forward_hook(on_start)

    def register_forward_hook(self, hook):
        def on_end(_module, args):
            hook(self, args, None)

        return self.end.register_forward_pre_hook(on_end)

    def __repr__(self) -> str:
        return f"HookSpan({self.label})"


def _core_span(module, name: str) -> HookSpan:
    """The attention core of an ``attention``-mapped module as a span between its submodules."""
    from torch import nn

    start, end = getattr(module, "k_norm", None), getattr(module, "norm", None)
    end = end if isinstance(end, nn.Module) else getattr(module, "proj", None)
    if isinstance(module, nn.MultiheadAttention) or not isinstance(start, nn.Module) \
            or not isinstance(end, nn.Module):
        raise NotCovered(f"not covered: attention core of {name} ({type(module).__module__}."
                         f"{type(module).__name__}) runs with its projections in one call; hooks cannot "
                         f"time it apart")
    return HookSpan(start, end, f"{name}: {type(start).__name__} k_norm -> {type(end).__name__}")


def timed_modules(model) -> dict[str, list]:
    """{attn_proj, attn_core, mlp: modules (or `HookSpan`s) whose forward time is that component's}.

    Raises NotCovered when a block's attention core or MLP cannot be timed apart."""
    modules = dict(model.named_modules())
    out: dict[str, list] = {c: [] for c in BLOCK}
    for name, component in component_map(model).items():
        if component in out:
            out[component].append(modules[name])
        elif component == ATTENTION:
            out["attn_core"].append(_core_span(modules[name], name))
    if not out["attn_core"] or len(out["attn_core"]) != len(out["mlp"]):
        raise NotCovered(f"not covered: {len(out['attn_core'])} attention cores and {len(out['mlp'])} MLPs "
                         f"recognised in {type(model).__name__}; the split needs one of each per block")
    return out
