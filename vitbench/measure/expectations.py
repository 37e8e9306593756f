"""What each attention backend should do on a CUDA GPU: status and kernel by compute capability × dtype × backend.
No torch.

`expect(capability, dtype, attn)` is the explicit table `make gpu-check` holds a GPU to: every row of a backend
sweep must have the status it gives ('ok' or 'unsupported'), and an 'ok' row the kernel it gives (the
`attn_kernel` label of vitbench.measure.kernels). The rules are torch's SDPA dispatch filters, read in
aten/src/ATen/native/transformers/cuda/sdp_utils.cpp at pytorch commit 001f694 (main, read 2026-11; wheels do
not ship the file, so `make gpu-check` on a device is what confirms them for the installed torch). Only the
filters that matter for vitbench's forward are modelled (dense q/k/v, no mask, no dropout, inference):

- flash (`can_use_flash_attention`): `check_flash_attention_hardware_support` sm80..sm121;
  `check_dtypes_flash_attention` -> `check_dtypes_low_precision`: fp16 / bf16 on sm80+ (no fp32);
  `check_head_dim_size_flash`: q/k/v head dim equal and <= 256.
- efficient (`can_use_mem_efficient_attention`): `check_mem_efficient_hardware_support` sm50..sm121; dtypes
  fp16 / fp32 / bf16 on sm80+; `check_head_dim_size_mem_efficient`: head dim divisible by
  `minimum_gemm_alignment` = 4 for fp32, 8 for fp16/bf16 on sm80+ (vitbench's q/k/v are views of one qkv
  tensor at offsets 0, D, 2D elements, so `check_data_ptr_alignment_mem_efficient` holds whenever D is a
  multiple of 8).
- cudnn (`can_use_cudnn_attention`): `check_cudnn_hardware_support` sm80..sm121; `check_dtypes_low_precision`
  fp16 / bf16; `check_cudnn_tensor_shapes`: head dim a multiple of 8 and <= 128 (256 only on sm90/sm10x with a
  recent cuDNN, not modelled: head dims above 128 have no expectation); cuDNN >= 9 at build time.
- math: no hardware or dtype filter (`select_sdp_backend` takes it whenever math is enabled).
- sdpa (unpinned): the first backend in `priority_order()` whose filters pass. Default order flash, efficient,
  math, cudnn; `check_prefer_cudnn_attention()` moves cudnn first on sm90 / sm10x (CUDA < 13: minor 0 or 3
  only) when the runtime cuDNN version is > 9.15.0 (91500) and TORCH_CUDNN_SDPA_DEPRIORITIZED is not set.
- manual: vitbench's explicit softmax(QKᵀ/√d)·V, kernel 'math', everywhere.

dtype -> SDPA input dtype: fp32 / tf32 -> fp32; fp16 / amp-fp16 -> fp16; bf16 / amp-bf16 -> bf16 (autocast
runs the qkv projection, hence SDPA, in the low-precision dtype).
"""

from __future__ import annotations

from dataclasses import dataclass

ARCHS = {(8, 0): "sm80", (8, 6): "sm86", (8, 9): "sm89", (9, 0): "sm90", (10, 0): "sm100"}
SDPA_INPUT_DTYPE = {"fp32": "fp32", "tf32": "fp32", "fp16": "fp16", "amp-fp16": "fp16", "bf16": "bf16",
                    "amp-bf16": "bf16"}
BACKENDS = ("sdpa", "flash", "efficient", "cudnn", "math", "manual")
FLASH = "_scaled_dot_product_flash_attention"
EFFICIENT = "_scaled_dot_product_efficient_attention"
CUDNN = "_scaled_dot_product_cudnn_attention"
CUDNN_PREFERRED_ABOVE = 91500  # cuDNN runtime version (e.g. 91501 = 9.15.1)


@dataclass(frozen=True)
class Expectation:
    """status: 'ok' or 'unsupported'. kernel: the attn_kernel label of an ok row (None: not determined, e.g.
    unpinned sdpa without a cuDNN version). rule: the torch filter this follows."""

    status: str
    kernel: str | None
    rule: str


class NoExpectation(ValueError):
    """The table has no row for this device / dtype / backend / shape."""


def arch(capability: tuple[int, int]) -> str:
    """(9, 0) -> 'sm90'; NoExpectation for a capability outside the table."""
    name = ARCHS.get(tuple(capability))
    if name is None:
        raise NoExpectation(f"no expectation for compute capability {capability[0]}.{capability[1]}; the table "
                            f"covers {', '.join(ARCHS.values())}")
    return name


def _flash(dt: str, head_dim: int) -> Expectation:
    if dt == "fp32":
        return Expectation("unsupported", None, "check_dtypes_flash_attention: fp16/bf16 only")
    if head_dim > 256:
        return Expectation("unsupported", None, "check_head_dim_size_flash: head dim <= 256")
    return Expectation("ok", FLASH, "can_use_flash_attention: sm80..sm121, fp16/bf16, head dim <= 256")


def _efficient(dt: str, head_dim: int) -> Expectation:
    align = 4 if dt == "fp32" else 8
    if head_dim % align:
        return Expectation("unsupported", None, f"check_head_dim_size_mem_efficient: head dim % {align} == 0")
    return Expectation("ok", EFFICIENT, "can_use_mem_efficient_attention: sm50..sm121, fp16/fp32/bf16 on sm80+")


def _cudnn(dt: str, head_dim: int) -> Expectation:
    if dt == "fp32":
        return Expectation("unsupported", None, "check_dtypes_low_precision: fp16/bf16 only")
    if head_dim % 8:
        return Expectation("unsupported", None, "check_cudnn_tensor_shapes: head dim % 8 == 0")
    if head_dim > 128:
        raise NoExpectation("cuDNN SDPA above head dim 128 depends on the cuDNN version; no expectation")
    return Expectation("ok", CUDNN, "can_use_cudnn_attention: sm80..sm121, fp16/bf16, head dim % 8, <= 128")


def prefers_cudnn(capability: tuple[int, int], cudnn_version: int | None, cuda_major: int | None = None,
                  deprioritized: bool = False) -> bool | None:
    """torch's check_prefer_cudnn_attention(); None when the cuDNN version is unknown on sm90/sm100."""
    major, minor = capability
    if deprioritized or major not in (9, 10):
        return False
    if cuda_major is not None and cuda_major < 13 and minor not in (0, 3):
        return False
    if cudnn_version is None:
        return None
    return cudnn_version > CUDNN_PREFERRED_ABOVE


def expect(capability: tuple[int, int], dtype: str, attn: str, head_dim: int = 64,
           cudnn_version: int | None = None, cuda_major: int | None = None,
           cudnn_deprioritized: bool = False) -> Expectation:
    """The expected status and kernel of a vitbench ViT forward (dense, no mask, inference) on CUDA."""
    arch(capability)
    if dtype not in SDPA_INPUT_DTYPE:
        raise NoExpectation(f"no expectation for dtype {dtype!r}")
    if attn not in BACKENDS:
        raise NoExpectation(f"no expectation for attention backend {attn!r}")
    dt = SDPA_INPUT_DTYPE[dtype]
    if attn in ("math", "manual"):
        return Expectation("ok", "math", "math: no hardware or dtype filter" if attn == "math"
                           else "manual: explicit matmuls and softmax")
    if attn == "flash":
        return _flash(dt, head_dim)
    if attn == "efficient":
        return _efficient(dt, head_dim)
    if attn == "cudnn":
        return _cudnn(dt, head_dim)
    # sdpa: first backend in priority order whose filters pass
    prefer = prefers_cudnn(capability, cudnn_version, cuda_major, cudnn_deprioritized)
    if prefer is None and dt != "fp32":
        return Expectation("ok", None, "sdpa: cudnn or flash first, depending on the cuDNN version (unknown)")
    order = ["cudnn", "flash", "efficient", "math"] if prefer else ["flash", "efficient", "math", "cudnn"]
    for name in order:
        e = expect(capability, dtype, name, head_dim)
        if e.status == "ok":
            first = "cudnn first (check_prefer_cudnn_attention)" if prefer else "flash, efficient, math, cudnn"
            return Expectation("ok", e.kernel, f"sdpa: priority order {first}; {name} is the first that fits")
    raise AssertionError("math always fits")  # pragma: no cover


def table(capabilities=tuple(ARCHS), dtypes=("fp32", "fp16", "bf16"), backends=BACKENDS, head_dim: int = 64,
          cudnn_version: int | None = None, cuda_major: int | None = None) -> list[dict]:
    """The expectation table as rows (arch, dtype, attn, status, kernel, rule), for docs and reports."""
    rows = []
    for cap in capabilities:
        for dt in dtypes:
            for attn in backends:
                e = expect(cap, dt, attn, head_dim, cudnn_version, cuda_major)
                rows.append({"arch": arch(cap), "dtype": dt, "attn": attn, "status": e.status,
                             "kernel": e.kernel, "rule": e.rule})
    return rows
