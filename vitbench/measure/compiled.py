"""torch.compile for ONE measured point, so that a `compile=True` row times the graph it says it times.

Rules (each one closes a way a compiled row could time something else):
- Fresh compiler state per point: `torch._dynamo.reset()` before compiling (and after the point), so no point
  reuses, or is made dynamic by, the graphs of earlier points; Dynamo's recompile limit (8) is never reached
  by a sweep.
- Static shapes: `dynamic=False`.
- Hitting the recompile limit is an error (`fail_on_recompile_limit_hit`), compile errors are not suppressed
  into eager (`suppress_errors=False`), and once compiled, any recompile is an error
  (`torch.compiler.set_stance("fail_on_recompile")` around warm-up, timing and profiling).
- Nothing compiled is an error: Dynamo's `unique_graphs` counter must be >= 1 after the compiling call.
- The SDPA backend state goes into the compile caches' key: `sdpa_kernel` pins are neither a Dynamo guard
  nor part of inductor's FX-graph / AOTAutograd cache keys, so without this a `math` row can load a graph
  compiled under `flash` from the on-disk cache (and vice versa). `torch.compiler.config.cache_key_tag` is part
  of both keys; vitbench sets it to `cache_tag()` (enabled SDPA backends, their priority order, the math
  fp16/bf16 reduction flag, nn.MultiheadAttention's fast path) for the compiling call.
- The compiling call is timed (wall clock, synchronized): `CompileRecord.seconds`, the `compile_s` column;
  whether it was served from inductor's cache is recorded too (`cache`: 'hit', 'miss', 'mixed', 'bypass',
  'off').

Use:
    with compiled_point(model, x, device) as point:   # inside the forward context (inference mode, pins)
        warm_up(point.call); samples(point.call); kernels.observe(point.call)
    point.record  # CompileRecord
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Callable, Iterator


class CompileError(RuntimeError):
    """torch.compile produced no graph for the point (the row would time eager code)."""


@dataclass(frozen=True)
class CompileRecord:
    """What the compiling call did. seconds: wall time of the first (compiling) call, synchronized, in s.
    graphs: graphs Dynamo compiled (>= 1). graph_breaks: breaks Dynamo reported. cache: inductor FX-graph
    cache outcome ('hit', 'miss', 'mixed', 'bypass', 'off'). cache_tag: the tag the caches were keyed with.
    fused_attention: hand-written attention subgraphs inductor rewrote into SDPA (its fuse_attention pass);
    None when the graph came from the cache (the pass did not run; kernels.observe still sees the result)."""

    seconds: float
    graphs: int
    graph_breaks: int
    cache: str
    cache_tag: str
    fused_attention: int | None

    def columns(self) -> dict:
        """Proposed row columns: compile_s (s), compile_graphs (count), compile_cache."""
        return {"compile_s": self.seconds, "compile_graphs": self.graphs, "compile_cache": self.cache}


@dataclass
class CompiledPoint:
    """The compiled call of a point (`call()` runs the compiled model on the point's input) and its record."""

    call: Callable[[], object]
    record: CompileRecord


def cache_tag() -> str:
    """The SDPA state a compiled graph depends on but the compile caches do not key on, as one string."""
    import torch

    c = torch._C
    flags = {
        "flash": c._get_flash_sdp_enabled(), "efficient": c._get_mem_efficient_sdp_enabled(),
        "math": c._get_math_sdp_enabled(), "cudnn": c._get_cudnn_sdp_enabled(),
    }
    parts = [f"{k}={int(v)}" for k, v in flags.items()]
    for name, getter in (("overrideable", "_get_overrideable_sdp_enabled"), ("fa3", "_get_fa3_sdp_enabled"),
                         ("math_reduced", "_get_math_sdp_allow_fp16_bf16_reduction")):
        if hasattr(c, getter):
            parts.append(f"{name}={int(getattr(c, getter)())}")
    if hasattr(c, "_get_sdp_priority_order"):
        parts.append("order=" + ",".join(str(int(b)) for b in c._get_sdp_priority_order()))
    parts.append(f"mha_fastpath={int(torch.backends.mha.get_fastpath_enabled())}")
    return "vitbench-sdpa:" + ";".join(parts)


def _cache_outcome(inductor: dict, use_cache: bool) -> str:
    if not use_cache:
        return "off"
    hits, misses = inductor.get("fxgraph_cache_hit", 0), inductor.get("fxgraph_cache_miss", 0)
    if hits and misses:
        return "mixed"
    if hits:
        return "hit"
    if misses:
        return "miss"
    return "bypass"


@contextlib.contextmanager
def _compile_config(use_cache: bool) -> Iterator[str]:
    """Dynamo/inductor settings for the compiling call; yields the cache tag in effect."""
    import torch
    import torch._dynamo.config as dynamo_config

    tag = cache_tag()
    with contextlib.ExitStack() as stack:
        stack.enter_context(dynamo_config.patch(fail_on_recompile_limit_hit=True, suppress_errors=False))
        compiler_config = getattr(torch.compiler, "config", None)
        if compiler_config is not None and hasattr(compiler_config, "cache_key_tag"):
            stack.enter_context(compiler_config.patch(cache_key_tag=tag, force_disable_caches=not use_cache))
        else:  # older torch: no tag in the key, so no on-disk cache for compiled points
            import torch._functorch.config as functorch_config
            import torch._inductor.config as inductor_config

            stack.enter_context(inductor_config.patch(fx_graph_cache=False))
            stack.enter_context(functorch_config.patch(enable_autograd_cache=False))
        yield tag


def _no_recompiles():
    """Any recompile raises from here on (warm-up, timing, profiling)."""
    import torch

    if hasattr(torch.compiler, "set_stance"):
        return torch.compiler.set_stance("fail_on_recompile")
    import torch._dynamo.config as dynamo_config

    return dynamo_config.patch(error_on_recompile=True)


@contextlib.contextmanager
def compiled_point(model, example, device: str, *, backend: str | Callable = "inductor",
                   use_cache: bool = True, call: Callable | None = None) -> Iterator[CompiledPoint]:
    """Compile `model` for one point (see the module docstring), run the compiling call on `example`, and
    yield the compiled call with its record; recompiles inside the block raise. Compiler state is reset on
    entry and on exit. Raises CompileError when nothing was compiled; compile errors propagate.

    `call(compiled_module)` makes the point's call from the compiled module (default: its forward on
    `example`). A training step passes one that runs forward, loss, backward and the optimizer step, so the
    compiling call compiles the backward graph too (AOTAutograd compiles it at the first backward) and
    `seconds` covers both."""
    import torch
    from torch._dynamo.utils import counters

    from vitbench.measure.timer import synchronize

    torch._dynamo.reset()
    counters.clear()
    try:
        with _compile_config(use_cache) as tag:
            compiled = torch.compile(model, backend=backend, dynamic=False)
            run = call(compiled) if call is not None else (lambda: compiled(example))
            synchronize(device)
            start = time.perf_counter()
            run()
            synchronize(device)
            seconds = time.perf_counter() - start
        graphs = int(counters["stats"].get("unique_graphs", 0))
        if graphs < 1:
            raise CompileError("torch.compile compiled no graph for this point (Dynamo skipped the forward), so "
                               "the row would time eager code")
        inductor = dict(counters["inductor"])
        record = CompileRecord(
            seconds=seconds, graphs=graphs, graph_breaks=int(sum(counters["graph_break"].values())),
            cache=_cache_outcome(inductor, use_cache), cache_tag=tag,
            fused_attention=None if inductor.get("fxgraph_cache_hit") else int(inductor.get("fuse_attention", 0)),
        )
        with _no_recompiles():
            yield CompiledPoint(run, record)
    finally:
        torch._dynamo.reset()
