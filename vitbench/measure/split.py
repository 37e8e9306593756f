"""Measured time per component (`--split`): attention projections, attention core, MLP, rest.

Forward pre/post hooks on every block's `attn.qkv` + `attn.proj` (projections), `attn.core` and `mlp` record
CUDA events (no host sync inside the forward) or `perf_counter_ns` on CPU, summed over blocks. Each hooked
iteration also times the whole forward; `rest` = that total - the three components (patch embed, norms,
residual adds, head, hook overhead). These run in separate iterations after the plain timing loop, so the
plain latency columns never carry hooks. Columns are the medians over iterations, in ms per forward of the
batch; shares are fractions of the median hooked total.
"""

from __future__ import annotations

import time
from typing import Callable

from vitbench.measure.stats import summarize
from vitbench.measure.timer import is_cuda, synchronize

COMPONENTS = ("attn_proj", "attn_core", "mlp")


def component_modules(model) -> dict[str, list]:
    """The modules timed for each component, over all blocks (vitbench's VisionTransformer layout)."""
    out: dict[str, list] = {c: [] for c in COMPONENTS}
    for block in model.blocks:
        out["attn_proj"] += [block.attn.qkv, block.attn.proj]
        out["attn_core"].append(block.attn.core)
        out["mlp"].append(block.mlp)
    return out


class _Clock:
    """Start/stop marks on CPU (ns counters) or CUDA (event pairs, read after one synchronize)."""

    def __init__(self, device: str):
        self.cuda = is_cuda(device)
        if self.cuda:
            import torch

            self._event = lambda: torch.cuda.Event(enable_timing=True)

    def mark(self):
        if self.cuda:
            event = self._event()
            event.record()
            return event
        return time.perf_counter_ns()

    def elapsed_ms(self, start, end) -> float:
        return start.elapsed_time(end) if self.cuda else (end - start) / 1e6


def _register(modules: dict[str, list], clock: _Clock, spans: list) -> list:
    """Hooks that append (component, start mark, end mark) to `spans`; returns the hook handles."""
    open_marks: dict[int, object] = {}
    handles = []
    for component, mods in modules.items():
        for mod in mods:
            def pre(m, _args, key=id(mod)):
                open_marks[key] = clock.mark()

            def post(m, _args, _out, key=id(mod), component=component):
                spans.append((component, open_marks.pop(key), clock.mark()))

            handles += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
    return handles


def measure_split(model, fn: Callable[[], object], device: str, iters: int) -> dict:
    """Split columns (`time_ms_*`, `time_share_*`) from `iters` hooked forwards (+1 untimed)."""
    clock = _Clock(device)
    spans: list = []
    iterations: list[tuple[object, object, list]] = []
    handles = _register(component_modules(model), clock, spans)
    try:
        fn()  # untimed: the first hooked call allocates the hooks' state
        synchronize(device)
        for _ in range(iters):
            spans.clear()
            start = clock.mark()
            fn()
            end = clock.mark()
            iterations.append((start, end, list(spans)))
        synchronize(device)
    finally:
        for h in handles:
            h.remove()
    totals, parts = [], {c: [] for c in COMPONENTS}
    for start, end, its_spans in iterations:
        totals.append(clock.elapsed_ms(start, end))
        for c in COMPONENTS:
            parts[c].append(sum(clock.elapsed_ms(s, e) for comp, s, e in its_spans if comp == c))
    return split_columns(summarize(totals).median, {c: summarize(v).median for c, v in parts.items()})


def split_columns(total_ms: float, parts_ms: dict[str, float]) -> dict:
    """Columns from the median hooked total and component medians; rest = total - components."""
    times = dict(parts_ms, rest=total_ms - sum(parts_ms.values()))
    cols = {f"time_ms_{c}": v for c, v in times.items()}
    cols.update({f"time_share_{c}": (v / total_ms if total_ms > 0 else None) for c, v in times.items()})
    return cols
