"""Dtypes and attention backends of a measured forward, and telling 'unsupported' from 'error'.

dtype: fp32 (IEEE fp32 matmuls and convs: TF32 off), tf32 (fp32 weights, TF32 tensor-core matmuls/convs on
CUDA >= sm80), fp16 / bf16 (weights and input cast), amp-fp16 / amp-bf16 (fp32 weights, `torch.autocast`).
attn: sdpa (torch picks the kernel), flash / efficient / cudnn / math (pinned with
`torch.nn.attention.sdpa_kernel`), manual (the model's explicit softmax(QKᵀ/√d)·V).
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Callable, Iterator

import torch

from vitbench.dtypes import DTYPES
from vitbench.errors import one_line

PINNED = ("flash", "efficient", "cudnn", "math")
_NO_KERNEL = ("no available kernel", "no viable backend")
_NO_DTYPE_KERNEL = ("not implemented for 'half'", "not implemented for 'bfloat16'")
# Raised by a pinned kernel that accepted the call and then could not run this shape: cuDNN finding no
# execution plan for the graph, and CUDA launch-configuration errors (grid or block limits exceeded, e.g. an SDPA
# kernel's grid at batch >= 65536, pytorch#146704). The CUDA context stays usable after either.
_CANNOT_RUN_SHAPE = (
    "no execution plans", "no valid execution plans", "cudnn_status_not_supported", "cudnn frontend error",
    "invalid configuration argument", "too many resources requested for launch",
)


class Unsupported(Exception):
    """The device / dtype / backend combination cannot run; the message says why."""


def weight_dtype(dtype: str) -> torch.dtype:
    """The torch dtype of weights and input (vitbench.dtypes): fp16/bf16 cast them; fp32, tf32, amp-* keep fp32."""
    return getattr(torch, DTYPES[dtype].weights)


def autocast_dtype(dtype: str) -> torch.dtype | None:
    """The dtype torch.autocast computes in for amp-*; None for the others."""
    name = DTYPES[dtype].autocast
    return None if name is None else getattr(torch, name)


def attn_impl(attn: str) -> str:
    """The model's attention implementation: 'manual' for attn=manual, else 'sdpa'."""
    return "manual" if attn == "manual" else "sdpa"


def check_supported(dtype: str, device: str) -> None:
    """Raise Unsupported for combinations known not to run (before building anything)."""
    if dtype == "tf32":
        if not device.startswith("cuda"):
            raise Unsupported("tf32 is a CUDA tensor-core mode (sm80+); on CPU it would time plain fp32")
        major, minor = torch.cuda.get_device_capability(device)
        if major < 8:
            raise Unsupported(f"tf32 needs compute capability >= 8.0; this GPU is {major}.{minor}")
    if dtype in ("bf16", "amp-bf16") and device.startswith("cuda"):
        with torch.cuda.device(device):
            if not torch.cuda.is_bf16_supported(including_emulation=False):
                raise Unsupported("bf16 needs compute capability >= 8.0 on CUDA (this GPU would emulate it)")


@contextlib.contextmanager
def precision(dtype: str) -> Iterator[None]:
    """TF32 on for tf32, off otherwise (matmul and cuDNN flags); the previous flags are restored after."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    on = DTYPES[dtype].tf32
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def sdpa_backend(attn: str):
    """The SDPBackend a pinned `attn` names (None for sdpa / manual)."""
    from torch.nn.attention import SDPBackend

    return {
        "flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH,
    }.get(attn)


@contextlib.contextmanager
def forward_context(dtype: str, attn: str, device: str) -> Iterator[None]:
    """Everything a measured forward runs under: the current CUDA device, inference mode, autocast (amp-*),
    a pinned SDPA kernel."""
    with contextlib.ExitStack() as stack:
        if device.startswith("cuda"):  # events, streams and synchronize() then refer to this GPU
            stack.enter_context(torch.cuda.device(device))
        stack.enter_context(torch.inference_mode())
        amp = autocast_dtype(dtype)
        if amp is not None:
            stack.enter_context(torch.autocast(device_type=torch.device(device).type, dtype=amp))
        backend = sdpa_backend(attn)
        if backend is not None:
            from torch.nn.attention import sdpa_kernel

            stack.enter_context(sdpa_kernel(backend))
            stack.enter_context(mha_fastpath(False))
        yield


@contextlib.contextmanager
def mha_fastpath(enabled: bool) -> Iterator[None]:
    """Set nn.MultiheadAttention's fast path (torch._native_multi_head_attention) for the block, then restore it.

    The fast path computes attention itself and ignores `sdpa_kernel`, so a pinned backend turns it off: the
    module then calls F.scaled_dot_product_attention, which honours the pin (torchvision's ViT uses this module)."""
    saved = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(enabled)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(saved)


def probe(fn: Callable[[], object], attn: str, dtype: str) -> None:
    """Run `fn` once; a missing kernel (pinned SDPA backend, or a dtype the device lacks) -> Unsupported.

    torch explains why a fused SDPA kernel was rejected in warnings, then raises; the warnings become the
    reason."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn()
        except RuntimeError as e:
            text = str(e).lower()
            if isinstance(e, torch.OutOfMemoryError):
                raise
            if any(s in text for s in _NO_KERNEL):
                why = "; ".join(dict.fromkeys(one_line(str(w.message)) for w in caught))
                raise Unsupported(f"no {attn} SDPA kernel for this device/dtype/shape"
                                  + (f" ({why})" if why else "")) from None
            if any(s in text for s in _NO_DTYPE_KERNEL):
                raise Unsupported(f"{dtype} is not supported here: {one_line(str(e))}") from None
            raise


def describe_error(exc: BaseException, attn: str | None = None) -> tuple[str, str]:
    """(status, one-line error) for an exception raised while measuring a point.

    With `attn` a pinned backend (flash / efficient / cudnn / math), a cuDNN plan failure or a CUDA
    launch-configuration error is 'unsupported' (the pinned kernel cannot run this shape); unpinned, the
    same error is an 'error' (torch chose that kernel itself)."""
    if isinstance(exc, torch.OutOfMemoryError):
        return "oom", one_line(f"out of memory: {exc}")
    if isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc):  # CPU allocator
        return "oom", one_line("out of memory: " + str(exc).split("DefaultCPUAllocator: ")[-1])
    if isinstance(exc, Unsupported):
        return "unsupported", one_line(str(exc))
    from vitbench.measure.memory import is_sticky_cuda_error

    if attn in PINNED and cannot_run_shape(exc) and not is_sticky_cuda_error(exc):
        return "unsupported", one_line(f"the pinned {attn} kernel cannot run this shape: {exc}")
    return "error", one_line(f"{type(exc).__name__}: {exc}")


def cannot_run_shape(exc: BaseException) -> bool:
    """True for a cuDNN plan failure or a CUDA launch-configuration error (the context stays usable)."""
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(s in text for s in _CANNOT_RUN_SHAPE)
