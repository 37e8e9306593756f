"""Measured MAC counts from fvcore's FlopCountAnalysis and torch's FlopCounterMode, as `Breakdown` records.

Both counters trace a real forward of a module — vitbench's `VisionTransformer`, or a timm / torchvision ViT
(`vitbench.external`); on the ``meta`` device (the default) no weights or activations are allocated. Both report
counts per module and op (`RawCount`), which `vitbench.cost.attribution` turns into components. The gaps the
stock counters have (SDPA on fvcore and on CPU, convolutions traced on meta, MultiheadAttention's fused fast
path) are closed by `vitbench.cost.counter_fixes`; a plain user's count (`fixes=False`) is what
`vitbench.cost.peers` compares with. A training step's count is `vitbench.cost.training_count`.

Convention: results are MACs per image. FlopCounterMode reports FLOPs (2 per MAC); they are halved exactly.
No torch at import.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

from vitbench.component_map import component_map
from vitbench.cost.attribution import GLOBAL, RawCount, attribute, check_nothing_skipped, matrix_modules
from vitbench.cost.breakdown import Breakdown
from vitbench.cost.counter_fixes import counting_context, sdpa_fvcore_handle, torch_extra_formulas, \
    traceable_meta_conv
from vitbench.errors import VitbenchError
from vitbench.zoo import ViTConfig

COUNTERS = ("analytic", "fvcore", "torch")
COUNT_DEVICES = ("meta", "cpu", "cuda")


def fvcore_counts(model, x, fixes: bool = True) -> RawCount:
    """fvcore's counts (one MAC = one 'flop' in fvcore) per module and op. With `fixes`, vitbench's SDPA handle,
    the traceable meta conv and `counting_context`; without, a plain fvcore user's count (under no_grad)."""
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
    contexts = (torch.inference_mode(), counting_context(model, called),
                traceable_meta_conv() if x.device.type == "meta" else contextlib.nullcontext()) \
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
    formula (they count 0). With `fixes`, vitbench's SDPA formulas and `counting_context`; without, a plain
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
        contexts = (counting_context(model, called, freeze=False), mode)
    elif fixes:
        contexts = (counting_context(model, called), mode, torch.inference_mode())
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
    check_nothing_skipped(counter, raw.skipped)
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
