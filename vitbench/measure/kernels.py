"""Which attention kernel a forward actually ran: one profiled call, read from torch.profiler's op names.

`observe(call, device)` runs `call` once under `torch.profiler` (CPU activity: aten ops are recorded on the
host for CUDA work too) and classifies the attention ops it saw (`classify`, a pure function of op names and
counts). Call it after warm-up and outside the timed samples: the profiled call is never a sample.

The kernel label (column `attn_kernel`):
- a fused SDPA op without its `aten::` prefix: `_scaled_dot_product_flash_attention` (CUDA flash),
  `_scaled_dot_product_flash_attention_for_cpu` (CPU fused kernel, what `flash` pins on CPU),
  `_scaled_dot_product_efficient_attention`, `_scaled_dot_product_cudnn_attention`;
- `math` when QKᵀ, softmax and AV ran as separate ops: SDPA's math backend
  (`aten::_scaled_dot_product_attention_math`), vitbench's `manual` attention, and a compiled graph whose
  attention inductor decomposed into batched matmuls (`aten::bmm`) around its own softmax kernel;
- prefixed `_native_multi_head_attention/` when nn.MultiheadAttention's fast path ran (it ignores pins);
- several labels joined by `+` when different blocks ran different kernels; None when no attention op was seen.

`check_pin(attn, record)` raises `backends.Unsupported` when a pinned backend's kernel is not what ran.
No torch import at module level.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

# Fused SDPA ops (outer ops; the inner `_flash_attention_forward` / `_efficient_attention_forward` are their
# callees and count only when the outer op is missing, e.g. called directly by another native op).
FUSED_OPS = (
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
)
INNER_OPS = {
    "_flash_attention_forward": "_scaled_dot_product_flash_attention",
    "_efficient_attention_forward": "_scaled_dot_product_efficient_attention",
}
MATH_OPS = ("_scaled_dot_product_attention_math", "_scaled_dot_product_attention_math_for_mps")
# QKᵀ and AV as separate batched matmuls (eager manual attention, math decomposed by inductor).
SEPARATE_MATMUL_OPS = ("bmm", "baddbmm")
FAST_PATH_OP = "_native_multi_head_attention"
# What each pinned `--attn` must show; `manual` is vitbench's explicit softmax(QKᵀ/√d)·V.
PIN_KERNELS: dict[str, frozenset[str]] = {
    "flash": frozenset({"_scaled_dot_product_flash_attention", "_scaled_dot_product_flash_attention_for_cpu"}),
    "efficient": frozenset({"_scaled_dot_product_efficient_attention"}),
    "cudnn": frozenset({"_scaled_dot_product_cudnn_attention"}),
    "math": frozenset({"math"}),
    "manual": frozenset({"math"}),
}


@dataclass(frozen=True)
class KernelRecord:
    """What one profiled forward ran for attention.

    kernels: the attention kernels seen (fused op names or 'math'), most calls first. calls: how many attention
    calls (fused op calls, math-op calls, or bmm pairs). fast_path: nn.MultiheadAttention's native fast path ran.
    ops: every attention-related aten op seen, with its call count (evidence for the label)."""

    kernels: tuple[str, ...]
    calls: int
    fast_path: bool
    ops: tuple[tuple[str, int], ...]

    @property
    def label(self) -> str | None:
        """The `attn_kernel` column value (see the module docstring)."""
        if not self.kernels:
            return FAST_PATH_OP if self.fast_path else None
        text = "+".join(self.kernels)
        return f"{FAST_PATH_OP}/{text}" if self.fast_path else text


def _strip(name: str) -> str:
    return name.split("::", 1)[1] if name.startswith("aten::") else name


def classify(op_counts: Mapping[str, int]) -> KernelRecord:
    """The attention kernel(s) behind a profile's op counts (names with or without the `aten::` prefix)."""
    counts: dict[str, int] = {}
    for name, n in op_counts.items():
        key = _strip(name)
        counts[key] = counts.get(key, 0) + int(n)
    seen: dict[str, int] = {op: counts[op] for op in FUSED_OPS if counts.get(op)}
    for inner, outer in INNER_OPS.items():
        if counts.get(inner) and outer not in seen:
            seen[outer] = counts[inner]
    math = sum(counts.get(op, 0) for op in MATH_OPS)
    if not math and not seen:
        math = sum(counts.get(op, 0) for op in SEPARATE_MATMUL_OPS) // 2  # QKᵀ and AV: two per attention
    if math:
        seen["math"] = math
    kernels = tuple(sorted(seen, key=lambda k: (-seen[k], k)))
    relevant = [*FUSED_OPS, *INNER_OPS, *MATH_OPS, *SEPARATE_MATMUL_OPS, "_softmax", FAST_PATH_OP]
    ops = tuple((op, counts[op]) for op in relevant if counts.get(op))
    return KernelRecord(kernels, sum(seen.values()), bool(counts.get(FAST_PATH_OP)), ops)


def op_counts(profile) -> dict[str, int]:
    """aten op name -> calls, from a finished `torch.profiler.profile`."""
    out: dict[str, int] = {}
    for event in profile.events():
        if event.name.startswith("aten::"):
            out[event.name] = out.get(event.name, 0) + 1
    return out


@contextlib.contextmanager
def quiet_profiler() -> Iterator[None]:
    """Silence what torch's profiler itself prints to file descriptor 2 (this build writes two `USDT: ...
    profiler_start/stop` lines per profile); Python exceptions are unaffected. Restored on exit."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def observe(call: Callable[[], object], device: str) -> KernelRecord:
    """Run `call` once under torch.profiler (CPU activity) and classify its attention ops.

    Keep it out of the timed samples; CUDA work is synchronized before the profile closes."""
    from torch.profiler import ProfilerActivity, profile

    from vitbench.measure.timer import synchronize

    synchronize(device)
    with quiet_profiler(), profile(activities=[ProfilerActivity.CPU]) as prof:
        call()
        synchronize(device)
    return classify(op_counts(prof))


def parse_label(label: str | None) -> tuple[tuple[str, ...], bool]:
    """An `attn_kernel` label -> (kernels, fast_path); the inverse of KernelRecord.label."""
    if not label:
        return (), False
    fast = label.startswith(FAST_PATH_OP)
    rest = label[len(FAST_PATH_OP):].lstrip("/") if fast else label
    return tuple(k for k in rest.split("+") if k), fast


def pin_mismatch(attn: str, observed: KernelRecord | str | None) -> str | None:
    """Why `observed` (a KernelRecord or its `attn_kernel` label) does not show the kernel `attn` pins; None
    when it does, or when nothing is pinned (sdpa: torch chooses, the label says what it chose)."""
    allowed = PIN_KERNELS.get(attn)
    if allowed is None:
        return None
    label = observed.label if isinstance(observed, KernelRecord) else observed
    kernels, fast_path = parse_label(label)
    if fast_path:
        return (f"nn.MultiheadAttention's fast path ({FAST_PATH_OP}) ran, which ignores the {attn} pin; "
                "turn it off with torch.backends.mha.set_fastpath_enabled(False)")
    if not kernels:
        return f"no attention op was seen in the profiled forward, so the {attn} kernel cannot be confirmed"
    if all(k in allowed for k in kernels):
        return None
    if attn == "manual":
        return (f"manual attention ran as {label}: a fused SDPA kernel replaced the explicit "
                "softmax(QKᵀ/√d)·V (inductor's fuse_attention pass does this under --compile)")
    return f"pinned {attn} but {label} ran"


def check_pin(attn: str, record: KernelRecord) -> None:
    """Raise backends.Unsupported when the kernel `attn` pins did not run (see `pin_mismatch`)."""
    why = pin_mismatch(attn, record)
    if why is not None:
        from vitbench.measure.backends import Unsupported

        raise Unsupported(why)
