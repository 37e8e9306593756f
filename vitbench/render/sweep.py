"""Rendering for `vitbench sweep`: the dry-run points table, live progress (rich.progress on a terminal, one
line per point otherwise), the CPU-override note, and the end-of-sweep summary (pivoted for two-axis grids).

Units: latency in ms per forward of the batch (median over timed iterations), GMACs per image (1 MAC = 2 FLOPs),
memory in MiB, throughput in images/s.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional, Sequence

from rich.columns import Columns
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from vitbench.cost.analytic import macs
from vitbench.errors import VitbenchError
from vitbench.render import add_columns, fmt_pct, new_table
from vitbench.schema import train_label
from vitbench.zoo import preset

PLAN_LABELS = {"measure": "measure", "cost": "cost (closed form)", "cpu-cost": "cost only on cpu",
               "invalid": "invalid"}


def point_label(point) -> str:
    """vit_b16 · P16 · 224 px · b1 · cpu fp32 sdpa [train adamw ckpt] (the config of one point in one line)."""
    s = point.spec
    if point.cfg is None:
        return f"{', '.join(f'{k}={v}' for k, v in point.values.items())} · b{s.batch} · {s.device}"
    c = point.cfg
    shape = "" if (c.dim, c.depth, c.heads) == _preset_shape(c.name) else f" · D{c.dim} L{c.depth} h{c.heads}"
    train = train_label(s.mode, s.optimizer, s.grad_checkpoint)
    train = f" {train}" if train else ""
    return (f"{c.name} · P{c.patch} · {c.res_label} px{shape} · N {c.tokens} · b{s.batch} · {s.device} "
            f"{s.dtype} {s.attn}{' compiled' if s.compile else ''}{train}")


def _preset_shape(name: str) -> tuple:
    try:
        c = preset(name)
    except VitbenchError:
        return ()
    return c.dim, c.depth, c.heads


def _num(value) -> Optional[float]:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _fmt_ms(value) -> str:
    v = _num(value)
    if v is None:
        return "-"
    return f"{v:.3g}" if v < 1 else (f"{v:.2f}" if v < 100 else f"{v:,.0f}")


def _gmacs(row) -> Optional[float]:
    v = _num(row.get("macs"))
    return None if v is None else v / 1e9


def _fmt_gmacs(row) -> str:
    v = _gmacs(row)
    return "-" if v is None else (f"{v:,.2f}" if v >= 1 else f"{v:.3g}")


def row_outcome(row: dict) -> str:
    """One short phrase for a finished row: latency, or cost, or status and error."""
    status = row.get("status")
    if status != "ok":
        error = str(row.get("error") or "")
        return f"[red]{status}[/]" + (f": {escape(error[:120])}" if error else "")
    latency = _num(row.get("latency_ms_median"))
    if latency is not None:
        spread = f" (p10 {_fmt_ms(row.get('latency_ms_p10'))}, p90 {_fmt_ms(row.get('latency_ms_p90'))})"
        mem = _num(row.get("mem_peak_mib"))
        return f"[green]ok[/] {_fmt_ms(latency)} ms median{spread}" + (f" · peak {mem:,.0f} MiB" if mem else "")
    parts = [f"{_fmt_gmacs(row)} GMACs/img"] if _gmacs(row) is not None else []
    if _num(row.get("params")) is not None:
        parts.append(f"{_num(row['params']) / 1e6:.2f} M params")
    return "[green]ok[/] cost only: " + " · ".join(parts)


def _fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


POINT_OVERHEAD_GMACS = 50.0  # start-up of a measured point (model build, child process): ~1 s on a CPU


def point_weight(point) -> float:
    """Relative expected run time, for the ETA: a measured point costs its forward GMACs × forwards plus a
    start-up overhead; closed-form rows weigh (almost) nothing."""
    if point.plan != "measure":
        return 0.01
    forwards = 1 + point.spec.warmup + point.spec.iters + (point.spec.iters if point.spec.split else 0)
    return POINT_OVERHEAD_GMACS + (point.gmacs_per_forward or 0.0) * forwards


class SweepProgress:
    """Listener for vitbench.runner.run. On a terminal: a rich progress bar (point i/n, current config, ETA)
    with a line printed per finished point; elsewhere (logs, CI, pipes): the same lines only."""

    def __init__(self, console: Console, todo: Sequence, total: int, skipped: int,
                 clock: Callable[[], float] = time.monotonic):
        self.console, self.todo, self.total, self.skipped, self.clock = console, list(todo), total, skipped, clock
        self.weights = [point_weight(p) for p in self.todo]
        self.done_weight, self.start, self.finished = 0.0, clock(), 0
        self.live = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(), TextColumn("point {task.fields[i]}/{task.fields[n]}"), BarColumn(),
            TextColumn("{task.fields[eta]}"), TimeElapsedColumn(), TextColumn("{task.description}"),
            console=console, transient=True,
        ) if self.live else None
        self.task = None

    def __enter__(self) -> "SweepProgress":
        if self.progress:
            self.progress.start()
            self.task = self.progress.add_task("", total=sum(self.weights) or 1, i=self.skipped,
                                               n=self.total, eta="")
        return self

    def __exit__(self, *exc) -> None:
        if self.progress:
            self.progress.stop()

    def eta(self) -> str:
        elapsed, remaining = self.clock() - self.start, sum(self.weights) - self.done_weight
        estimate = elapsed / self.done_weight * remaining if self.done_weight > 0 else 0.0
        return f"ETA ~{_fmt_duration(estimate)}" if estimate >= 1 else ""

    def _number(self, position: int) -> str:
        return f"{self.skipped + position}/{self.total}"

    def point_started(self, point, position: int) -> None:
        if self.progress:
            self.progress.update(self.task, description=escape(point_label(point)), i=self.skipped + position,
                                 eta=self.eta())

    def point_finished(self, point, row: dict, position: int) -> None:
        """`position`: the point's place among the points to run (workers finish them in any order)."""
        self.done_weight += self.weights[position - 1]
        self.finished += 1
        eta = self.eta()
        line = (f"[dim]\\[{self._number(self.finished)}][/] {escape(point_label(point))}  {row_outcome(row)}"
                f"  [dim]{_fmt_duration(self.clock() - self.start)} elapsed{', ' + eta if eta else ''}[/]")
        self.console.print(line)
        if self.progress:
            self.progress.update(self.task, completed=self.done_weight, eta=eta)


# ---------------------------------------------------------------------------------------------- tables

def points_table(points: Sequence, done: Optional[Callable] = None, title: str = "") -> Table:
    """The expanded points (dry run): each point's config and run in one line, tokens, GMACs per image, plan."""
    table = new_table(title or None, "GMACs per image (1 MAC = 2 FLOPs). plan: measure = run with "
                                     "vitbench.measure; cost = closed form only; cost only on cpu = above "
                                     "cpu.max_gmacs")
    add_columns(table, ["#", "point", "tokens", "GMACs", "plan"], text={"point", "plan"})
    for p in points:
        plan = PLAN_LABELS[p.plan] + (f": {escape(p.invalid)}" if p.invalid else "")
        if done is not None and done(p):
            plan = f"[dim]done (in file) · {plan}[/]"
        if p.cfg is None:
            table.add_row(str(p.index), escape(point_label(p)), "-", "-", f"[red]{plan}[/]")
            continue
        table.add_row(str(p.index), escape(point_label(p)), str(p.cfg.tokens),
                      _fmt_gmacs({"macs": macs(p.cfg).total}), plan)
    return table


def cpu_note(points: Sequence, overrides: dict, max_gmacs: Optional[float]) -> Optional[str]:
    """The note printed when points run on cpu with the suite's `cpu:` overrides (None when none apply)."""
    on_cpu = [p for p in points if p.cpu_overrides and p.plan != "invalid"]
    if not on_cpu or not (overrides or max_gmacs):
        return None
    parts = ", ".join(f"{k} {v}" for k, v in overrides.items())
    lines = [f"[yellow]note:[/] device cpu: applied this suite's cpu overrides ({parts or 'none'}) over its "
             f"defaults, so the sweep finishes in minutes on a CPU (grid values still win)."]
    heavy = [p for p in on_cpu if p.plan == "cpu-cost"]
    if heavy:
        names = "; ".join(" ".join(f"{k}={v}" for k, v in p.values.items()) + f" ({p.gmacs_per_forward:,.0f})"
                          for p in heavy[:8]) + (f"; and {len(heavy) - 8} more" if len(heavy) > 8 else "")
        per = "iteration (a forward or a training step)" if any(p.spec.mode == "train" for p in heavy) else "forward"
        lines.append(f"[yellow]note:[/] {len(heavy)} point(s) above cpu.max_gmacs = {max_gmacs:g} GMACs per "
                     f"{per} are cost-only on cpu (no latency/memory; run on CUDA for those): {escape(names)}")
    return "\n".join(lines)


def varying_axes(points: Sequence, keys: Sequence[str]) -> list[str]:
    """Suite keys (grid then zip order) that take more than one value among the points."""
    return [k for k in keys if len({repr(p.values.get(k)) for p in points}) > 1]


def _fmt_number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 10 else f"{value:,.0f}"


def _cell(row: Optional[dict], metric: str) -> str:
    """One pivot cell: exact cost metrics whenever known; measured ones only for ok rows (else the status)."""
    if row is None:
        return "[dim]not run[/]"
    value = _gmacs(row) if metric == "gmacs" else _num(row.get(metric))
    if metric in COST_METRICS and value is not None:
        return (f"{value:,.2f}" if value >= 1 else f"{value:.3g}") if metric == "gmacs" else (
            f"{value / 1e6:,.2f}" if metric == "params" else fmt_pct(value))
    if row.get("status") != "ok":
        return f"[red]{row.get('status')}[/]"
    if value is None:
        return "[dim]cost only[/]" if metric == "latency_ms_median" else "-"
    return _fmt_ms(value) if metric.startswith("latency") else _fmt_number(value)


# (column, short title): latency is the median per forward of the whole batch; GMACs are per image.
MEASURED_PIVOTS = (("latency_ms_median", "latency ms (median)"), ("throughput_ips", "images/s"),
                   ("mem_peak_mib", "peak MiB"), ("gmacs", "GMACs/image"))
COST_PIVOTS = (("gmacs", "GMACs/image"), ("params", "params (M)"), ("attn_core_share", "attn core share"))
COST_METRICS = ("gmacs", "params", "attn_core_share")
PIVOT_NOTES = {  # measured: the pivots of MEASURED_PIVOTS; cost only: COST_PIVOTS
    True: "GMACs per image, closed form (1 MAC = 2 FLOPs); latency per forward of the batch, median over timed "
          "iterations; MiB = 2²⁰ bytes",
    False: "GMACs per image, closed form (1 MAC = 2 FLOPs); params in millions; attn core share: MACs in QKᵀ and "
           "AV over all MACs"}


def summary_tables(points: Sequence, rows: Callable, keys: Sequence[str], pivot_keys: Sequence[str],
                   title: str) -> list:
    """A heading and tables of the finished rows in point order. `rows(point)` -> the row dict or None. With
    exactly two varying axes among `pivot_keys`, one pivot table per available metric (rows = first axis,
    columns = second; side by side where the terminal is wide enough); otherwise one long table."""
    found = [(p, rows(p)) for p in points]
    axes = varying_axes(points, keys)
    if len(axes) == 2 and set(axes) <= set(pivot_keys):
        return [f"[bold]Summary[/] — {escape(title)} — rows: {axes[0]}, columns: {axes[1]}",
                Columns(_pivots(found, axes), padding=(0, 2)), f"[dim]{PIVOT_NOTES[_measured(found)]}[/]"]
    return [f"[bold]Summary[/] — {escape(title)}", _long_table(found, axes or ["model"])]


def _measured(found: list) -> bool:
    """Whether any finished row has a timing (the summary then shows measured metrics, else cost)."""
    return any(r is not None and _num(r.get("latency_ms_median")) is not None for _, r in found)


def _pivots(found: list, axes: list[str]) -> list[Table]:
    first, second = axes
    r_vals = list(dict.fromkeys(p.values[first] for p, _ in found))
    c_vals = list(dict.fromkeys(p.values[second] for p, _ in found))
    cells = {(p.values[first], p.values[second]): row for p, row in found}
    tables = []
    for metric, label in MEASURED_PIVOTS if _measured(found) else COST_PIVOTS:
        present = any(r is not None and (metric == "gmacs" or _num(r.get(metric)) is not None)
                      for _, r in found)
        if not present:
            continue
        table = new_table(label)
        add_columns(table, [f"{first} \\ {second}", *map(str, c_vals)], text={f"{first} \\ {second}"})
        for r in r_vals:
            table.add_row(str(r), *[_cell(cells.get((r, c)), metric) if (r, c) in cells else "[dim]—[/]"
                                            for c in c_vals])
        tables.append(table)
    return tables


def _long_table(found: list, axes: list[str]) -> Table:
    """One line per point. Cost-only runs: tokens, params, GMACs, attention-core share. Measured runs (narrower,
    to fit 80 columns): GMACs, median and p10–p90 latency, img/s, peak MiB (the cost is in the file and in
    `--dry-run`)."""
    measured = _measured(found)
    memory = any(r is not None and _num(r.get("mem_peak_mib")) is not None for _, r in found)
    if measured:
        caption = ("GMACs per image (1 MAC = 2 FLOPs); latency: median ms per iteration of the batch, p10–p90 "
                   "over the timed iterations; MiB = 2²⁰ bytes")
        names = [*axes, "GMACs", "median ms", "p10–p90 ms", "img/s"] + (["peak MiB"] if memory else [])
    else:
        caption = "GMACs per image (1 MAC = 2 FLOPs); attn core: share of MACs in QKᵀ and AV"
        names = [*axes, "tokens", "params (M)", "GMACs", "attn core"]
    table = new_table(None, caption)
    add_columns(table, [*names, "status"], text={*axes, "status"})
    for p, row in found:
        row = row or {}
        cells = [escape(str(p.values.get(a, p.cfg.name if p.cfg else "-"))) for a in axes]
        cells += _measured_cells(row, memory) if measured else _cost_cells(row)
        status = row.get("status") or "not run"
        table.add_row(*cells, status if status == "ok" else f"[red]{escape(str(status))}[/]")
    return table


def _cost_cells(row: dict) -> list[str]:
    params, tokens = _num(row.get("params")), _num(row.get("tokens"))
    return ["-" if tokens is None else f"{int(tokens):,}", "-" if params is None else f"{params / 1e6:,.2f}",
            _fmt_gmacs(row), fmt_pct(_num(row.get("attn_core_share")))]


def _measured_cells(row: dict, memory: bool) -> list[str]:
    lat, thr, mem = (_num(row.get(c)) for c in ("latency_ms_median", "throughput_ips", "mem_peak_mib"))
    cells = [_fmt_gmacs(row),
             _fmt_ms(lat) if lat is not None else ("cost only" if row.get("status") == "ok" else "-"),
             f"{_fmt_ms(row.get('latency_ms_p10'))}–{_fmt_ms(row.get('latency_ms_p90'))}" if lat is not None else "-",
             _fmt_number(thr) if thr is not None else "-"]
    return cells + ([f"{mem:,.0f}" if mem is not None else "-"] if memory else [])
