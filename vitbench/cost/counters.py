"""Measured MAC counts from fvcore's FlopCountAnalysis and torch's FlopCounterMode, as `Breakdown` records.

Both counters trace a real forward of `vitbench.model.VisionTransformer`; on the ``meta`` device (the default)
no weights or activations are allocated. Per-component figures come from the leaf modules the counters
attribute work to (``blocks.N.attn.qkv``, ``blocks.N.attn.core``, ...); a MAC seen outside a known component
is an error, never silently dropped.

Two gaps in the counters are closed here, at the op level (attention stays on SDPA):

* fvcore has no handle for ``aten::scaled_dot_product_attention`` and skips it; `sdpa_fvcore_handle` counts
  QKᵀ and AV, B·h·Nq·Nk·(d + dv) MACs, whichever kernel runs later.
* torch's FlopCounterMode has formulas for the CUDA SDPA kernels (flash, efficient, cudnn) and sees the math
  fallback as bmm, but none for the CPU flash kernel ``aten._scaled_dot_product_flash_attention_for_cpu``, so
  it counts 0 on CPU. `TORCH_EXTRA_FORMULAS` adds it (and the "overrideable" kernel other backends use) with
  torch's own SDPA formula.

* fvcore traces with torch.jit. On meta tensors torch runs the Python meta kernel of ``aten::convolution``
  directly, so the tracer never records the conv (it records ``aten::_convolution``, which only the CPU/CUDA
  path calls) and the kernel's shape checks receive traced sizes. `_traceable_meta_conv` fixes both for the
  duration of one count: while tracing, the meta ``convolution`` calls ``aten::_convolution`` (recorded, and
  counted by fvcore's own conv handle), whose meta kernel runs with tracing paused. Outside a trace nothing
  changes; on exit the override is removed.

A counter that skips an op which does matrix work (conv, mm, linear, attention, ...), or counts 0 in a module
that does, is an error.

Convention: results are MACs per image. FlopCounterMode reports FLOPs (2 per MAC); they are halved exactly.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vitbench.cost.breakdown import ELEMENTWISE_COMPONENTS, MATMUL_COMPONENTS, Breakdown
from vitbench.errors import VitbenchError
from vitbench.zoo import ViTConfig

if TYPE_CHECKING:
    import torch

COUNTERS = ("analytic", "fvcore", "torch")
COUNT_DEVICES = ("meta", "cpu", "cuda")


def component_of(module_name: str) -> str | None:
    """Map a leaf module's qualified name to a cost component (None for modules that hold no MACs)."""
    parts = module_name.split(".")
    if parts[0] == "patch_embed":
        return "patch_embed"
    if parts[0] in ("head", "head_dist"):
        return "head"
    if parts[0] == "norm" or parts[-1] in ("norm1", "norm2"):
        return "norm"
    if parts[-1] == "act":
        return "gelu"
    if "attn" in parts:
        return "attn_core" if parts[-1] == "core" else "attn_proj"
    if "mlp" in parts:
        return "mlp"
    return None


def _attribute(counter: str, per_leaf: dict[str, int], total: int, batch: int, elementwise: set[str],
               must_count: set[str] = frozenset()) -> Breakdown:
    """Sum leaf-module counts into components; check nothing was lost; divide by the batch.

    `must_count`: modules that do matrix work (conv, linear, attention core); a zero there is an error."""
    sums = {c: 0 for c in MATMUL_COMPONENTS + ELEMENTWISE_COMPONENTS}
    for name, value in per_leaf.items():
        component = component_of(name)
        if component is None:
            if value:
                raise RuntimeError(f"{counter}: {value} MACs in module {name!r}, outside every known component")
            continue
        if value == 0 and name in must_count:
            raise RuntimeError(f"{counter} counted 0 MACs in {name!r}: an op without a formula (see counters.py)")
        sums[component] += value
    if sum(sums.values()) != total:
        raise RuntimeError(f"{counter}: components sum to {sum(sums.values())} but the counter's total is {total}")
    for name, value in sums.items():
        if value % batch:
            raise RuntimeError(f"{counter}: {name} count {value} is not a multiple of the batch {batch}")
    per_image = {k: v // batch if k in MATMUL_COMPONENTS or k in elementwise else None for k, v in sums.items()}
    return Breakdown(counter=counter, **per_image)


def _sdpa_macs(q_shape, k_shape, v_shape) -> int:
    """QKᵀ plus AV: B·h·Nq·Nk·d + B·h·Nq·Nk·dv MACs (scale, softmax and dropout are not MACs)."""
    *lead, n_q, d = q_shape
    n_k, d_v = k_shape[-2], v_shape[-1]
    batch_heads = 1
    for size in lead:
        batch_heads *= size
    return batch_heads * n_q * n_k * (d + d_v)


def sdpa_fvcore_handle(inputs, outputs) -> int:
    """fvcore op handle for ``aten::scaled_dot_product_attention`` (fvcore counts one MAC as one flop)."""
    from fvcore.nn.jit_handles import get_shape

    return _sdpa_macs(get_shape(inputs[0]), get_shape(inputs[1]), get_shape(inputs[2]))


def _torch_sdpa_formula(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs (2 per MAC) of an SDPA kernel, for FlopCounterMode's custom_mapping."""
    return 2 * _sdpa_macs(query_shape, key_shape, value_shape)


def _torch_sdpa_backward_formula(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None,
                                 **kwargs) -> int:
    """FLOPs of a fused SDPA backward with torch's own formula: QKᵀ recomputed, then dP, dV, dQ, dK."""
    from torch.utils.flop_counter import sdpa_backward_flop_count

    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def torch_extra_formulas() -> dict:
    """FlopCounterMode formulas for SDPA kernels torch's registry lacks (keyed by op overload packet): the CPU
    flash kernel (forward and backward) and the "overrideable" kernel other backends use."""
    import torch

    aten = torch.ops.aten
    names = ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_fused_attention_overrideable")
    formulas = {getattr(aten, n): _torch_sdpa_formula for n in names if hasattr(aten, n)}
    backward = "_scaled_dot_product_flash_attention_for_cpu_backward"
    if hasattr(aten, backward):
        formulas[getattr(aten, backward)] = _torch_sdpa_backward_formula
    return formulas


MATRIX_OP_MARKERS = ("conv", "mm", "matmul", "linear", "einsum", "attention")


def _check_nothing_skipped(counter: str, skipped_ops) -> None:
    """Fail if a counter skipped an op that does matrix work (its MACs would silently be lost)."""
    lost = sorted(op for op in skipped_ops if any(m in op for m in MATRIX_OP_MARKERS))
    if lost:
        raise RuntimeError(f"{counter} skipped op(s) that carry MACs: {', '.join(lost)}")


@contextlib.contextmanager
def _traceable_meta_conv():
    """Let torch.jit trace (and fvcore count) convolutions on meta tensors; see the module docstring."""
    import torch

    try:
        from torch._meta_registrations import meta__conv, meta_conv
    except ImportError:
        raise VitbenchError("fvcore cannot count on the meta device with this torch version; "
                            "use --device cpu or --counter torch") from None

    def convolution_meta(x, w, b, stride, padding, dilation, transposed, output_padding, groups):
        if torch._C._get_tracing_state() is None:
            return meta_conv(x, w, b, stride, padding, dilation, transposed, output_padding, groups)
        return torch.ops.aten._convolution.default(
            x, w, b, stride, padding, dilation, transposed, output_padding, groups, False, False, True, True)

    def _convolution_meta(*args):
        state = torch._C._get_tracing_state()
        if state is None:
            return meta__conv(*args)
        torch._C._set_tracing_state(None)  # the shape checks need concrete sizes, not traced ones
        try:
            return meta__conv(*args)
        finally:
            torch._C._set_tracing_state(state)

    library = torch.library.Library("aten", "IMPL")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "overriding a previously registered kernel": intended, undone below
            library.impl("convolution", convolution_meta, "Meta")
            library.impl("_convolution", _convolution_meta, "Meta")
        yield
    finally:
        library._destroy()


def _leaf_names(model: "torch.nn.Module") -> list[str]:
    return [name for name, mod in model.named_modules() if name and not any(True for _ in mod.children())]


def _matrix_modules(model: "torch.nn.Module") -> set[str]:
    """Leaf modules that do matrix work and so must get a nonzero count."""
    from torch import nn

    from vitbench.model import AttentionCore

    kinds = (nn.Linear, nn.Conv2d, AttentionCore)
    return {name for name, mod in model.named_modules() if isinstance(mod, kinds)}


def _prepare(cfg: ViTConfig, device: str, batch: int):
    import torch

    from vitbench.model import build_model, example_input

    if device not in COUNT_DEVICES and not device.startswith("cuda:"):
        raise VitbenchError(f"unknown device {device!r} for counting; valid: {', '.join(COUNT_DEVICES)}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VitbenchError("--device cuda requested but CUDA is not available here; use meta or cpu")
    if batch <= 0:
        raise VitbenchError(f"batch must be a positive integer, got {batch}")
    return build_model(cfg, device), example_input(cfg, batch, device)


def count_fvcore(cfg: ViTConfig, device: str = "meta", batch: int = 1) -> Breakdown:
    """MACs per image from fvcore's FlopCountAnalysis (jit trace) with the SDPA handle added."""
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        raise VitbenchError("fvcore is not installed; install it with `pip install fvcore` "
                            "or use --counter analytic|torch") from None
    import torch

    model, x = _prepare(cfg, device, batch)
    analysis = FlopCountAnalysis(model, (x,)).set_op_handle(
        "aten::scaled_dot_product_attention", sdpa_fvcore_handle)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    on_meta = x.device.type == "meta"
    with warnings.catch_warnings(), torch.inference_mode(), \
            (_traceable_meta_conv() if on_meta else contextlib.nullcontext()):
        warnings.simplefilter("ignore")  # jit tracer warnings
        logging.getLogger("fvcore").setLevel(logging.ERROR)
        total = analysis.total()
        by_module = analysis.by_module()
        skipped = analysis.unsupported_ops()
    _check_nothing_skipped("fvcore", skipped)
    per_leaf = {name: by_module.get(name, 0) for name in _leaf_names(model)}
    return _attribute("fvcore", per_leaf, total, batch, elementwise={"norm"}, must_count=_matrix_modules(model))


def count_torch(cfg: ViTConfig, device: str = "meta", batch: int = 1) -> Breakdown:
    """MACs per image from torch.utils.flop_counter.FlopCounterMode (FLOPs / 2), CPU SDPA formula added."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model, x = _prepare(cfg, device, batch)
    mode = FlopCounterMode(display=False, custom_mapping=torch_extra_formulas())
    with mode, torch.inference_mode():
        model(x)
    counts = mode.get_flop_counts()
    root = type(model).__name__
    per_leaf = {name: sum(counts.get(f"{root}.{name}", {}).values()) for name in _leaf_names(model)}
    flops_leaf = {name: value // 2 for name, value in per_leaf.items()}
    if any(v % 2 for v in per_leaf.values()):
        raise RuntimeError("torch: an odd FLOP count cannot be halved into MACs")
    return _attribute("torch", flops_leaf, mode.get_total_flops() // 2, batch, elementwise=set(),
                      must_count=_matrix_modules(model))


@dataclass(frozen=True)
class TrainingCount:
    """FlopCounterMode's count of one training step (forward + cross-entropy + backward), MACs per image.

    total: everything the device ran, recomputation included (the closed form's `TrainingMacs.hardware`).
    by_component: per matmul component, or None with checkpointing: FlopCounterMode attributes the ops that a
    checkpointed block recomputes during the backward to whichever module is being back-propagated, so only
    the total is meaningful then."""

    total: int
    by_component: Breakdown | None


def count_torch_training(cfg: ViTConfig, device: str = "meta", batch: int = 1, attn: str = "sdpa",
                         grad_checkpoint: bool = False) -> TrainingCount:
    """MACs per image of a training step by torch's FlopCounterMode (FLOPs / 2), CPU SDPA formulas added.

    attn: 'manual' builds the explicit softmax(QKᵀ)·V core; 'math' / 'flash' / 'efficient' / 'cudnn' pin the
    SDPA kernel; 'sdpa' lets torch choose (the meta device decomposes SDPA into the math path's bmm calls)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from vitbench.model import build_model, example_input

    _prepare(cfg, device, batch)  # validates device and batch
    model = build_model(cfg, device, attn_impl="manual" if attn == "manual" else "sdpa").train()
    model.set_grad_checkpointing(grad_checkpoint)
    x = example_input(cfg, batch, device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)
    mode = FlopCounterMode(display=False, custom_mapping=torch_extra_formulas())
    with mode, _pinned_sdpa(attn):
        F.cross_entropy(model(x), labels).backward()
    total_flops = mode.get_total_flops()
    if total_flops % (2 * batch):
        raise RuntimeError(f"torch: {total_flops} FLOPs are not whole MACs per image")
    if grad_checkpoint:
        return TrainingCount(total_flops // 2 // batch, None)
    counts = mode.get_flop_counts()
    root = type(model).__name__
    per_leaf = {name: sum(counts.get(f"{root}.{name}", {}).values()) // 2 for name in _leaf_names(model)}
    parts = _attribute("torch", per_leaf, total_flops // 2, batch, elementwise=set(),
                       must_count=_matrix_modules(model))
    return TrainingCount(total_flops // 2 // batch, parts)


@contextlib.contextmanager
def _pinned_sdpa(attn: str):
    """sdpa_kernel(backend) for a pinned backend; nothing for 'sdpa' and 'manual'."""
    names = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION",
             "math": "MATH"}
    if attn not in names:
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(getattr(SDPBackend, names[attn])):
        yield


def count(cfg: ViTConfig, counter: str = "analytic", device: str = "meta", batch: int = 1) -> Breakdown:
    """One counter's MACs per image. ``analytic`` ignores device and batch (closed form)."""
    if counter == "analytic":
        from vitbench.cost.analytic import macs

        return macs(cfg)
    if counter == "fvcore":
        return count_fvcore(cfg, device, batch)
    if counter == "torch":
        return count_torch(cfg, device, batch)
    raise VitbenchError(f"unknown counter {counter!r}; valid: {', '.join(COUNTERS)}, all")
