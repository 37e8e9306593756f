"""Measured time per component (`--split`): attention projections, attention core, MLP, rest.

Two methods, one result:
- `hooks` (CPU default): forward pre/post hooks on every block's `attn.qkv` + `attn.proj` (projections),
  `attn.core` and `mlp` read `perf_counter_ns`; each hooked iteration also times the whole forward.
- `profiler` (CUDA default): the same hooks open and close `torch.profiler.record_function` ranges, and one
  profiled run of `iters` forwards (CUDA activity) attributes every kernel's GPU duration to the component range
  that launched it. Hook-recorded CUDA events would time host dispatch at small batch (an event is timestamped
  when the GPU reaches it, and a GPU that waits for the host reaches it as the host enqueues it), not kernels.
  On CPU the same method reads each range's host wall time (it exists to check the attribution without a GPU).

Per iteration: rest = total - the three components (patch embed, norms, residual adds, head; on CPU also hook
overhead), so it is >= 0 and the four parts add up to that iteration's total. `profiler` on CUDA: the total is the summed
kernel time of the iteration (GPU busy time), not its latency; `split_gpu_busy` = that total / the plain
latency median says how much of a forward the GPU is busy; below `LAUNCH_BOUND_BELOW` the point is launch-bound
(the GPU waits for the host) and kernel times do not add up to latency.
Summary: the interquartile mean (IQM) over iterations, i.e. the mean of every part over the iterations whose
total lies within [p25, p75] of the totals. Means over one set of iterations are additive, so the four
`time_ms_*` sum to `time_ms_split_total` and the shares to 1. These iterations run after the plain timing
loop, so the plain latency columns never carry hooks or the profiler. In ms per forward of the batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from vitbench.components import BLOCK, TIMED
from vitbench.measure.stats import percentile
from vitbench.measure.timer import is_cuda, synchronize

COMPONENTS = BLOCK  # attn_proj, attn_core, mlp: timed inside every block
PARTS = TIMED  # the three + rest
METHODS = ("hooks", "profiler")
LAUNCH_BOUND_BELOW = 0.8  # split_gpu_busy under this: the GPU idles > 20 % of a forward waiting for the host
RANGE_PREFIX = "vitbench::split::"
ITER_RANGE = RANGE_PREFIX + "iteration"


def component_modules(model) -> dict[str, list]:
    """The modules timed for each component, over all blocks, from the model's component map
    (`vitbench.component_map.timed_modules`: vitbench's, timm's and torchvision's layouts; timm's inline attention
    core is a `HookSpan`). A model whose attention core or MLP cannot be timed apart is `Unsupported`."""
    from vitbench.component_map import NotCovered, timed_modules
    from vitbench.measure.backends import Unsupported

    try:
        return timed_modules(model)
    except NotCovered as e:
        raise Unsupported(str(e)) from None


@dataclass(frozen=True)
class Iteration:
    """One split iteration, in ms: its total and the three components (rest = total - components)."""

    total_ms: float
    parts_ms: dict

    @property
    def rest_ms(self) -> float:
        return self.total_ms - sum(self.parts_ms[c] for c in COMPONENTS)


@dataclass(frozen=True)
class SplitResult:
    """Summarised split: method, iterations summarised (IQM subset) of all taken, times (ms) per part."""

    method: str
    n_iters: int
    n_used: int
    total_ms: float
    times_ms: dict
    gpu_busy: float | None = None

    def columns(self) -> dict:
        """The split columns of today's schema: time_ms_* and time_share_* for the four parts."""
        cols = {f"time_ms_{c}": self.times_ms[c] for c in PARTS}
        cols.update({f"time_share_{c}": (self.times_ms[c] / self.total_ms if self.total_ms > 0 else None)
                     for c in PARTS})
        return cols

    def proposed_columns(self) -> dict:
        """Columns proposed for the schema: split_method, split_iters, time_ms_split_total, split_gpu_busy."""
        return {"split_method": self.method, "split_iters": self.n_iters, "time_ms_split_total": self.total_ms,
                "split_gpu_busy": self.gpu_busy}

    def note(self) -> str | None:
        """One line when the point is launch-bound (profiler method on CUDA with a known gpu_busy), else None."""
        if self.gpu_busy is None or self.gpu_busy >= LAUNCH_BOUND_BELOW:
            return None
        return (f"launch-bound: kernels keep the GPU busy {100 * self.gpu_busy:.0f}% of a forward; the split "
                "is of GPU kernel time, the rest of the latency is the GPU waiting for the host")


def summarize_split(iterations: Sequence[Iteration], method: str, latency_ms: float | None = None) -> SplitResult:
    """IQM of every part over the iterations whose total is within [p25, p75] (all of them when fewer than 4).

    `latency_ms` (the plain timing loop's median) gives gpu_busy = total / latency; pass it for the profiler
    method on CUDA only (on CPU the total is host time, and busy would mean nothing)."""
    if not iterations:
        raise ValueError("no split iterations to summarise")
    totals = [it.total_ms for it in iterations]
    if len(iterations) >= 4:
        lo, hi = percentile(totals, 25), percentile(totals, 75)
        used = [it for it in iterations if lo <= it.total_ms <= hi]
    else:
        used = list(iterations)
    n = len(used)
    times = {c: sum(it.parts_ms[c] for it in used) / n for c in COMPONENTS}
    times["rest"] = sum(it.rest_ms for it in used) / n
    total = sum(it.total_ms for it in used) / n
    busy = gpu_busy(total, latency_ms) if method == "profiler" else None
    return SplitResult(method, len(iterations), n, total, times, busy)


def gpu_busy(kernel_ms: float, latency_ms: float | None) -> float | None:
    """Fraction of a forward the GPU spends in kernels: summed kernel time / latency (None without latency)."""
    if latency_ms is None or latency_ms <= 0:
        return None
    return kernel_ms / latency_ms


def default_method(device: str) -> str:
    return "profiler" if is_cuda(device) else "hooks"


def measure(model, fn: Callable[[], object], device: str, iters: int, method: str | None = None,
            latency_ms: float | None = None) -> SplitResult:
    """Split `iters` forwards of `fn` (after one untimed hooked forward) by `method` (default: profiler on
    CUDA, hooks on CPU) and summarise them. Hooks are removed afterwards. `latency_ms`: see summarize_split."""
    method = method or default_method(device)
    if method not in METHODS:
        raise ValueError(f"split method must be one of {METHODS}, got {method!r}")
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    modules = component_modules(model)
    take = _hook_iterations if method == "hooks" else _profiler_iterations
    return summarize_split(take(modules, fn, device, iters), method, latency_ms if is_cuda(device) else None)


def measure_split(model, fn: Callable[[], object], device: str, iters: int) -> dict:
    """Today's split columns (`time_ms_*`, `time_share_*`); see `measure` for the method."""
    return measure(model, fn, device, iters).columns()


def _hook_iterations(modules: dict, fn, device: str, iters: int) -> list[Iteration]:
    """CPU: perf_counter_ns marks from forward hooks; one Iteration per forward."""
    clock = time.perf_counter_ns
    spans: list = []
    open_marks: dict[int, int] = {}

    def pre(key):
        return lambda m, a: open_marks.__setitem__(key, clock())

    def post(key, component):
        return lambda m, a, o: spans.append((component, clock() - open_marks.pop(key)))

    handles = []
    for component, mods in modules.items():
        for mod in mods:
            handles += [mod.register_forward_pre_hook(pre(id(mod))), mod.register_forward_hook(post(id(mod), component))]
    out = []
    try:
        fn()  # untimed: the first hooked call allocates the hooks' state
        synchronize(device)
        for _ in range(iters):
            spans.clear()
            start = clock()
            fn()
            synchronize(device)
            total = clock() - start
            parts = {c: sum(ns for comp, ns in spans if comp == c) / 1e6 for c in COMPONENTS}
            out.append(Iteration(total / 1e6, parts))
    finally:
        for h in handles:
            h.remove()
    return out


def _profiler_iterations(modules: dict, fn, device: str, iters: int) -> list[Iteration]:
    """record_function ranges per component in one profiled run of `iters` forwards; CUDA: kernel durations
    inside each range, CPU: each range's host wall time."""
    from torch.autograd.profiler import record_function
    from torch.profiler import ProfilerActivity, profile

    from vitbench.measure.kernels import quiet_profiler

    open_ranges: dict[int, object] = {}

    def pre(key, component):
        def hook(m, a):
            rf = record_function(RANGE_PREFIX + component)
            rf.__enter__()
            open_ranges[key] = rf
        return hook

    def post(key):
        return lambda m, a, o: open_ranges.pop(key).__exit__(None, None, None)

    handles = []
    for component, mods in modules.items():
        for mod in mods:
            handles += [mod.register_forward_pre_hook(pre(id(mod), component)), mod.register_forward_hook(post(id(mod)))]
    try:
        fn()
        synchronize(device)
        cuda = is_cuda(device)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with quiet_profiler(), profile(activities=activities) as prof:
            for _ in range(iters):
                with record_function(ITER_RANGE):
                    fn()
            synchronize(device)
    finally:
        for h in handles:
            h.remove()
    return iterations_from_events(prof.events(), device_time if cuda else host_time)


def device_time(event) -> float:
    """A host range's GPU time in µs: the durations of all kernels launched inside it (torch.profiler)."""
    return event.device_time_total


def host_time(event) -> float:
    """A host range's wall time in µs (used to check the attribution on CPU)."""
    return event.cpu_time_total


def iterations_from_events(events, duration: Callable[[object], float]) -> list[Iteration]:
    """One Iteration per ITER_RANGE host event: its `duration` and its component ranges' durations (µs -> ms).

    Events are torch.profiler FunctionEvents (name, device_type, cpu_children); only host (CPU) events are
    read, the outermost component range wins, and iterations come in start order."""
    roots = sorted((e for e in events if e.name == ITER_RANGE and _on_host(e)), key=lambda e: e.time_range.start)
    out = []
    for root in roots:
        parts = {c: 0.0 for c in COMPONENTS}
        stack = list(root.cpu_children)
        while stack:
            event = stack.pop()
            if event.name.startswith(RANGE_PREFIX):
                parts[event.name[len(RANGE_PREFIX):]] += duration(event) / 1e3
            else:
                stack.extend(event.cpu_children)
        out.append(Iteration(duration(root) / 1e3, parts))
    return out


def _on_host(event) -> bool:
    device_type = getattr(event, "device_type", None)
    return device_type is None or getattr(device_type, "name", str(device_type)) == "CPU"


def split_columns(total_ms: float, parts_ms: dict[str, float]) -> dict:
    """Columns from one total and three component times (ms); rest = total - components."""
    it = Iteration(total_ms, dict(parts_ms))
    times = {**{c: it.parts_ms[c] for c in COMPONENTS}, "rest": it.rest_ms}
    return SplitResult("hooks", 1, 1, total_ms, times).columns()
