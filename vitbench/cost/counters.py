"""Measured MAC counts from fvcore's FlopCountAnalysis and torch's FlopCounterMode, as `Breakdown` records.

Both counters trace a real forward of a module — vitbench's `VisionTransformer`, or a timm / torchvision ViT
(`vitbench.external`); on the ``meta`` device (the default) no weights or activations are allocated. Both report
counts per module and op, each module's figure including its children's. Attribution follows the model's
component map (`vitbench.component_map`): each module's EXCLUSIVE count (its own minus its children's) goes to the
component of its nearest mapped ancestor, split by op kind inside modules that run attention inline;
normalisation ops are element-ops; MACs in a module with no mapped ancestor are ``other``. The components sum to
the counter's total (checked).

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

* torchvision's `nn.MultiheadAttention` takes a fused fast path (``aten._native_multi_head_attention``) on
  CPU/CUDA under inference mode, for which no counter has a formula. `_counting_context` turns the fast path
  off for the count, so its projections and SDPA run as separate, counted ops.

A counter that skips an op which does matrix work (conv, mm, linear, attention, ...) — fvcore's unsupported ops,
FlopCounterMode's ops without a formula — or counts 0 in a called module that does matrix work, is an error.

Convention: results are MACs per image. FlopCounterMode reports FLOPs (2 per MAC); they are halved exactly.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass

from vitbench.component_map import ATTENTION, component_map, nearest, op_component
from vitbench.cost.breakdown import BREAKDOWN_COMPONENTS, ELEMENTWISE_COMPONENTS, Breakdown
from vitbench.errors import VitbenchError
from vitbench.zoo import ViTConfig

COUNTERS = ("analytic", "fvcore", "torch")
COUNT_DEVICES = ("meta", "cpu", "cuda")
GLOBAL = "<global>"  # FlopCounterMode's "Global": work outside the root module


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




@dataclass(frozen=True)
class RawCount:
    """What a counter saw: counts per module (qualified name, root '') and op, each including its children's;
    the counter's total; ops it skipped that carry MACs; the modules whose forward ran (ids)."""

    counter: str
    inclusive: dict
    total: int
    skipped: tuple
    called: frozenset


def exclusive(inclusive: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Per module and op, the module's own count: its count minus its nearest counted descendants'."""
    out = {name: dict(ops) for name, ops in inclusive.items()}
    for name, ops in inclusive.items():
        parent = _parent(name, inclusive)
        if parent is not None:
            for op, value in ops.items():
                out[parent][op] = out[parent].get(op, 0) - value
    negative = [f"{n} {op}" for n, ops in out.items() for op, v in ops.items() if v < 0]
    if negative:
        raise RuntimeError(f"children count more than their parent in {', '.join(negative[:3])} (shared module?)")
    return out


def _parent(name: str, present) -> str | None:
    """The nearest proper ancestor of `name` that has a count ('' is the root; GLOBAL holds the root)."""
    while name != GLOBAL:
        name = GLOBAL if name == "" else name.rpartition(".")[0]
        if name in present:
            return name
    return None


def attribute(raw: RawCount, cmap: dict[str, str], batch: int, elementwise: set[str],
              must_count: dict[str, str] | None = None) -> Breakdown:
    """Exclusive counts -> components (see the module docstring); checks; divided by the batch.

    `must_count`: {module: 'any' | 'attn_core'} for called modules that do matrix work; a zero there (in the
    whole module, or in its own attention-core ops) is an error. None skips the checks (a peer's view)."""
    own = exclusive(raw.inclusive)
    sums = dict.fromkeys(BREAKDOWN_COMPONENTS + ELEMENTWISE_COMPONENTS, 0)
    for name, ops in own.items():
        component = None if name == GLOBAL else nearest(name, cmap)
        for op, value in ops.items():
            sums[op_component(op, component)] += value
    if must_count is not None:
        _check_matrix_work(raw, own, must_count)
        if sum(sums.values()) != raw.total:
            raise RuntimeError(f"{raw.counter}: components sum to {sum(sums.values())} but the counter's total "
                               f"is {raw.total}")
        unseen = [c for c in ELEMENTWISE_COMPONENTS if c not in elementwise and sums[c]]
        if unseen:
            raise RuntimeError(f"{raw.counter}: unexpected element-op counts in {', '.join(unseen)}")
    for name, value in sums.items():
        if value % batch:
            raise RuntimeError(f"{raw.counter}: {name} count {value} is not a multiple of the batch {batch}")
    per_image = {k: v // batch if k in BREAKDOWN_COMPONENTS or k in elementwise else None for k, v in sums.items()}
    return Breakdown(counter=raw.counter, **per_image)


def _check_matrix_work(raw: RawCount, own: dict, must_count: dict[str, str]) -> None:
    for name, what in must_count.items():
        if what == "attn_core":
            value = sum(v for op, v in own.get(name, {}).items() if op_component(op, ATTENTION) == "attn_core")
        else:
            value = sum(raw.inclusive.get(name, {}).values())
        if value == 0:
            where = f"the attention core of {name!r}" if what == "attn_core" else repr(name)
            raise RuntimeError(f"{raw.counter} counted 0 MACs in {where}: an op without a formula "
                               f"(see counters.py)")


def matrix_modules(model, cmap: dict[str, str], called) -> dict[str, str]:
    """{name: 'any' | 'attn_core'} for the called modules that must show MACs: convolutions, linears,
    vitbench's AttentionCore ('any'), and modules mapped ``attention`` (their own core ops, 'attn_core')."""
    from torch import nn

    from vitbench.model import AttentionCore

    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, AttentionCore)
    out = {}
    for name, mod in model.named_modules():
        if id(mod) not in called:
            continue
        if cmap.get(name) == ATTENTION:
            out[name] = "attn_core"
        elif isinstance(mod, kinds):
            out[name] = "any"
    return out


@contextlib.contextmanager
def _counting_context(model, called: set, freeze: bool = True):
    """For one count: record which modules run (ids), keep MultiheadAttention off its uncountable fused fast
    path, and (`freeze`, inference counts) freeze the parameters (restored after). An inference count needs no
    gradients, and FlopCounterMode's module tracker crashes under inference mode when a parameter is a
    module's input (timm's attention-pool latent: 'NoneType' object has no attribute 'next_functions')."""
    import torch
    from torch.nn.modules.module import register_module_forward_pre_hook

    mha = getattr(torch.backends, "mha", None)
    fastpath = mha.get_fastpath_enabled() if mha is not None else None
    trainable = [p for p in model.parameters() if p.requires_grad] if freeze else []
    handle = register_module_forward_pre_hook(lambda module, _args: called.add(id(module)))
    try:
        for p in trainable:
            p.requires_grad_(False)
        if mha is not None:
            mha.set_fastpath_enabled(False)
        yield
    finally:
        handle.remove()
        for p in trainable:
            p.requires_grad_(True)
        if mha is not None:
            mha.set_fastpath_enabled(fastpath)


def fvcore_counts(model, x, fixes: bool = True) -> RawCount:
    """fvcore's counts (one MAC = one 'flop' in fvcore) per module and op. With `fixes`, vitbench's SDPA handle,
    the traceable meta conv and `_counting_context`; without, a plain fvcore user's count (under no_grad)."""
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        raise VitbenchError("fvcore is not installed; install it with `pip install fvcore` "
                            "or use --counter analytic|torch") from None
    import torch

    analysis = FlopCountAnalysis(model, (x,))
    if fixes:
        analysis.set_op_handle("aten::scaled_dot_product_attention", sdpa_fvcore_handle)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    called: set = set()
    contexts = (torch.inference_mode(), _counting_context(model, called),
                _traceable_meta_conv() if x.device.type == "meta" else contextlib.nullcontext()) \
        if fixes else (torch.no_grad(),)
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        warnings.simplefilter("ignore")  # jit tracer warnings
        logging.getLogger("fvcore").setLevel(logging.ERROR)
        for context in contexts:
            stack.enter_context(context)
        total = analysis.total()
        inclusive = {name: dict(ops) for name, ops in analysis.by_module_and_operator().items()}
        skipped = tuple(analysis.unsupported_ops())
    return RawCount("fvcore", inclusive, total, skipped, frozenset(called))


def torch_counts(model, x, fixes: bool = True, step=None) -> RawCount:
    """FlopCounterMode's counts per module and op, halved into MACs; `skipped` lists ops that ran with no
    formula (they count 0). With `fixes`, vitbench's SDPA formulas and `_counting_context`; without, a plain
    FlopCounterMode user's count (under no_grad). `step`: a callable run instead of ``model(x)`` under
    inference mode — a training step, with gradients (parameters not frozen)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    class Recording(FlopCounterMode):
        def _count_flops(self, func_packet, out, args, kwargs):
            if func_packet not in self.flop_registry:
                self.unhandled.add(str(func_packet))
            elif _bmm_with_weight(func_packet, args) and hasattr(self, "mod_tracker"):
                flops = self.flop_registry[func_packet](*args, **kwargs, out_val=out)
                for parent in set(self.mod_tracker.parents):
                    self.flop_counts[parent][f"{func_packet}(weight)"] += flops
                return out
            return super()._count_flops(func_packet, out, args, kwargs)

    mode = Recording(display=False, custom_mapping=torch_extra_formulas() if fixes else None)
    mode.unhandled = set()
    called: set = set()
    if step is not None:
        contexts = (_counting_context(model, called, freeze=False), mode)
    elif fixes:
        contexts = (_counting_context(model, called), mode, torch.inference_mode())
    else:
        contexts = (mode, torch.no_grad())
    with contextlib.ExitStack() as stack:
        for context in contexts:
            stack.enter_context(context)
        step() if step is not None else model(x)
    root = type(model).__name__
    inclusive = {}
    for key, ops in mode.get_flop_counts().items():
        name = GLOBAL if key == "Global" else "" if key == root else \
            key[len(root) + 1:] if key.startswith(root + ".") else None
        if name is not None:
            inclusive[name] = {str(op): v for op, v in ops.items()}
    if any(v % 2 for ops in inclusive.values() for v in ops.values()):
        raise RuntimeError("torch: an odd FLOP count cannot be halved into MACs")
    inclusive = {name: {op: v // 2 for op, v in ops.items()} for name, ops in inclusive.items()}
    return RawCount("torch", inclusive, mode.get_total_flops() // 2, tuple(sorted(mode.unhandled)),
                    frozenset(called))


def _bmm_with_weight(func_packet, args) -> bool:
    """A bmm/baddbmm with an operand broadcast over the batch (stride 0): a linear layer that torch ran as a
    batched matmul (F.linear on a non-contiguous 3-D input), not QKᵀ or AV. Recorded as 'aten.bmm(weight)'."""
    import torch

    if func_packet not in (torch.ops.aten.bmm, torch.ops.aten.baddbmm):
        return False
    return any(isinstance(t, torch.Tensor) and t.dim() == 3 and t.shape[0] > 1 and t.stride(0) == 0
               for t in args[-2:])


def count_module(model, x, counter: str) -> Breakdown:
    """MACs per image of `model` on input `x` (batch = x.shape[0]) from one counter, by its component map."""
    if counter == "fvcore":
        raw, elementwise = fvcore_counts(model, x), {"norm"}
    elif counter == "torch":
        raw, elementwise = torch_counts(model, x), set()
    else:
        raise VitbenchError(f"unknown counter {counter!r} for a module; valid: fvcore, torch")
    _check_nothing_skipped(counter, raw.skipped)
    cmap = component_map(model)
    return attribute(raw, cmap, x.shape[0], elementwise, must_count=matrix_modules(model, cmap, raw.called))


def check_count_args(device: str, batch: int) -> None:
    """Raise VitbenchError for a device counters cannot use or a non-positive batch."""
    import torch

    if device not in COUNT_DEVICES and not device.startswith("cuda:"):
        raise VitbenchError(f"unknown device {device!r} for counting; valid: {', '.join(COUNT_DEVICES)}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VitbenchError("--device cuda requested but CUDA is not available here; use meta or cpu")
    if batch <= 0:
        raise VitbenchError(f"batch must be a positive integer, got {batch}")


def _prepare(cfg: ViTConfig, device: str, batch: int):
    from vitbench.model import build_model, example_input

    check_count_args(device, batch)
    return build_model(cfg, device), example_input(cfg, batch, device)


@contextlib.contextmanager
def too_large_is_bad_input(device: str):
    """A model or input too large to trace (a tensor's size overflows int64 bytes on meta; memory runs out on
    cpu/cuda) is bad input with one line pointing at the closed form, not a traceback."""
    import torch

    try:
        yield
    except torch.OutOfMemoryError:
        raise VitbenchError(f"out of memory counting on {device}; count on the meta device (--device meta) or "
                            f"with the closed form (--counter analytic)") from None
    except RuntimeError as e:
        text = str(e)
        if "overflow" not in text and "can't allocate memory" not in text:
            raise
        raise VitbenchError(f"too large to trace on {device} ({text.splitlines()[0][:120]}); the closed form "
                            f"counts any size: --counter analytic") from None


def count_fvcore(cfg: ViTConfig, device: str = "meta", batch: int = 1) -> Breakdown:
    """MACs per image from fvcore's FlopCountAnalysis (jit trace) with the SDPA handle added."""
    with too_large_is_bad_input(device):
        return count_module(*_prepare(cfg, device, batch), "fvcore")


def count_torch(cfg: ViTConfig, device: str = "meta", batch: int = 1) -> Breakdown:
    """MACs per image from torch.utils.flop_counter.FlopCounterMode (FLOPs / 2), CPU SDPA formula added."""
    with too_large_is_bad_input(device):
        return count_module(*_prepare(cfg, device, batch), "torch")


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

    from vitbench.model import build_model, example_input

    check_count_args(device, batch)
    model = build_model(cfg, device, attn_impl="manual" if attn == "manual" else "sdpa").train()
    model.set_grad_checkpointing(grad_checkpoint)
    x = example_input(cfg, batch, device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)

    def step():
        with _pinned_sdpa(attn):
            F.cross_entropy(model(x), labels).backward()

    raw = torch_counts(model, x, step=step)
    _check_nothing_skipped("torch", raw.skipped)
    if raw.total % batch:
        raise RuntimeError(f"torch: {raw.total} MACs are not whole MACs per image")
    if grad_checkpoint:
        return TrainingCount(raw.total // batch, None)
    cmap = component_map(model)
    parts = attribute(raw, cmap, batch, set(), must_count=matrix_modules(model, cmap, raw.called))
    return TrainingCount(raw.total // batch, parts)


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
