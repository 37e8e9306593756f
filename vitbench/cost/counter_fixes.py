"""What vitbench adds to the stock counters so they count its models and timm / torchvision ViTs completely,
at the op level (attention stays on SDPA). No torch at import.

* fvcore has no handle for ``aten::scaled_dot_product_attention`` and skips it; `sdpa_fvcore_handle` counts
  QKᵀ and AV, B·h·Nq·Nk·(d + dv) MACs, whichever kernel runs later.
* torch's FlopCounterMode has formulas for the CUDA SDPA kernels (flash, efficient, cudnn) and sees the math
  fallback as bmm, but none for the CPU flash kernel ``aten._scaled_dot_product_flash_attention_for_cpu``, so
  it counts 0 on CPU. `torch_extra_formulas()` adds it (and the "overrideable" kernel other backends use) with
  torch's own SDPA formula.
* fvcore traces with torch.jit. On meta tensors torch runs the Python meta kernel of ``aten::convolution``
  directly, so the tracer never records the conv (it records ``aten::_convolution``, which only the CPU/CUDA
  path calls) and the kernel's shape checks receive traced sizes. `traceable_meta_conv` fixes both for the
  duration of one count: while tracing, the meta ``convolution`` calls ``aten::_convolution`` (recorded, and
  counted by fvcore's own conv handle), whose meta kernel runs with tracing paused. Outside a trace nothing
  changes; on exit the override is removed.
* torchvision's `nn.MultiheadAttention` takes a fused fast path (``aten._native_multi_head_attention``) on
  CPU/CUDA under inference mode, for which no counter has a formula. `counting_context` turns the fast path
  off for the count, so its projections and SDPA run as separate, counted ops.

Units: fvcore handles return MACs (fvcore counts one MAC as one flop); FlopCounterMode formulas return FLOPs
(2 per MAC).
"""

from __future__ import annotations

import contextlib
import warnings

from vitbench.errors import VitbenchError


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


@contextlib.contextmanager
def traceable_meta_conv():
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


@contextlib.contextmanager
def counting_context(model, called: set, freeze: bool = True):
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
