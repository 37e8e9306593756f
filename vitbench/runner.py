"""Points -> result rows: cost-only rows in closed form, measured rows via vitbench.measure.point, invalid
rows; resume (skip keys already written) and sharding. `sweep` and `bench` both run their points here. No torch
at import.

Cost-only points (measures among params / flops / split, or cost-only on cpu by `cpu.max_gmacs`) are built
from ViTConfig.to_row + cost.analytic.cost_row (all exact cost columns): no torch, no weights, microseconds
each. Points that measure latency or memory call `vitbench.measure.point.run_point`, imported on first use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Protocol, Sequence

from vitbench.errors import VitbenchError
from vitbench.expansion import Point
from vitbench.cost import training
from vitbench.schema import RUNTIME_KEY_COLUMNS, make_row
from vitbench.results_io import row_key
from vitbench.subject import for_config
from vitbench.suite import CONFIG_AXES
from vitbench.zoo import parse_res, preset

if TYPE_CHECKING:
    from vitbench.measure.point import Measured

def parse_shard(text: Optional[str]) -> Optional[tuple[int, int]]:
    """'2/4' -> (2, 4): the second of four shards (1-based)."""
    if text is None:
        return None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise VitbenchError(f"--shard must be K/N with integers, e.g. 1/4, got {text!r}") from None
    if not (n >= 1 and 1 <= k <= n):
        raise VitbenchError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def select_shard(points: Sequence[Point], shard: Optional[tuple[int, int]]) -> list[Point]:
    """Shard K of N: the points whose index (in the suite's expanded order) is K-1 modulo N."""
    if shard is None:
        return list(points)
    k, n = shard
    return [p for p in points if p.index % n == k - 1]


def _runtime_fields(point: Point) -> dict:
    return {c: getattr(point.spec, c) for c in RUNTIME_KEY_COLUMNS}


def _invalid_config_fields(values: dict) -> dict:
    """Config columns of a point zoo.resolve refused: the preset's values overlaid with the point's own."""
    try:
        base = preset(values["model"]).to_row()
    except VitbenchError:
        base = {"model": values["model"]}
    base["tokens"] = None
    for key, value in values.items():
        if key == "res":
            base["res_h"], base["res_w"] = parse_res(value)
        elif key in CONFIG_AXES and key != "model":
            base[key] = value
    return base


def point_row_key(point: Point) -> tuple[str, ...]:
    """The config key the point's row will have (known before running it)."""
    fields = point.cfg.to_row() if point.cfg else _invalid_config_fields(point.values)
    return row_key({**fields, **_runtime_fields(point)})


def _cost_fields(point: Point) -> dict:
    """The exact cost columns of a point: params, MACs per image by component, attention-core share, and for
    a train point the training MACs per image."""
    subject = for_config(point.cfg)
    extra = training.cost_row(subject.macs()) if point.spec.mode == "train" else {}
    return {**subject.cost_row(), **extra}


def cost_row(point: Point) -> dict:
    """A closed-form row: config, runtime keys and every exact cost column (`_cost_fields`); time and memory
    columns stay empty."""
    subject = for_config(point.cfg)
    return make_row(**subject.config_row(), **_runtime_fields(point), **_cost_fields(point), status="ok")


def invalid_row(point: Point) -> dict:
    return make_row(**_invalid_config_fields(point.values), **_runtime_fields(point), status="invalid",
                    error=point.invalid)


def error_row(point: Point, error: str) -> dict:
    """The row of a measured point that produced none of its own (a bug below, a worker that died): config,
    runtime key, closed-form cost, status 'error' and why."""
    return make_row(**for_config(point.cfg).config_row(), **_runtime_fields(point), **_cost_fields(point),
                    status="error", error=error)


def measure(point: Point) -> "Measured":
    """Run the point with vitbench.measure.point.run_point (which turns OOM / unsupported / crashes into rows)."""
    from vitbench.measure.point import run_point

    return run_point(point.cfg, point.spec, list(point.measures))


@dataclass(frozen=True)
class Result:
    """One finished point: its row, its raw samples by metric, and whether the row was measured (an fsync each)
    or computed (closed form, cheap to recompute)."""

    row: dict
    samples: dict = field(default_factory=dict)
    measured: bool = False
    fatal: Optional[str] = None  # the device is unusable after this point: stop the run (after writing the row)


def execute(point: Point) -> Result:
    """The row of one point. A bug below that raises is recorded as an error row; bad input (VitbenchError)
    and Ctrl-C propagate. A measured row gets `point_s`: the wall seconds of the whole point here."""
    if point.plan == "invalid":
        return Result(invalid_row(point))
    if point.plan in ("cost", "cpu-cost"):
        return Result(cost_row(point))
    fatal, start = None, time.perf_counter()
    try:
        measured = measure(point)
        row, samples, fatal = dict(measured.row), measured.samples, measured.fatal
    except VitbenchError:
        raise
    except Exception as e:  # noqa: BLE001 - never let one point end the sweep
        row, samples = error_row(point, f"{type(e).__name__}: {e}"), {}
    row["point_s"] = round(time.perf_counter() - start, 4)
    if row_key(row) != point_row_key(point):
        raise RuntimeError(f"the point returned a row for another config: {row_key(row)} != {point_row_key(point)}")
    return Result(row, samples, measured=True, fatal=fatal)


class Listener(Protocol):
    """Progress callbacks of `run` (the CLI renders them; tests record them)."""

    def point_started(self, point: Point, position: int) -> None: ...

    def point_finished(self, point: Point, row: dict, position: int) -> None: ...


@dataclass
class RunResult:
    """What one `run` call did: rows written, points skipped as already in the file, statuses counted."""

    written: int = 0
    skipped: int = 0
    statuses: dict = field(default_factory=dict)


def pending(points: Sequence[Point], done_keys: set) -> list[Point]:
    """The points whose config key is not in `done_keys` (what --resume still has to run)."""
    return [p for p in points if point_row_key(p) not in done_keys]


def run(points: Sequence[Point], write: Callable[[Result], None], done_keys: set = frozenset(),
        listener: Optional[Listener] = None, execute_point: Optional[Callable[[Point], Result]] = None) -> RunResult:
    """Run the points not in `done_keys`, in order; `write` each result as soon as it exists (a Session's
    `write_result`). `execute_point` is the seam tests use to slow or fail points.

    KeyboardInterrupt propagates after the rows finished so far have been written (and nothing else).
    """
    todo = pending(points, done_keys)
    result = RunResult(skipped=len(points) - len(todo))
    execute_point = execute_point or execute
    for position, point in enumerate(todo, start=1):
        if listener:
            listener.point_started(point, position)
        done = execute_point(point)
        write(done)
        result.written += 1
        result.statuses[done.row["status"]] = result.statuses.get(done.row["status"], 0) + 1
        if listener:
            listener.point_finished(point, done.row, position)
        if done.fatal:
            from vitbench.measure.memory import CudaContextLost

            raise CudaContextLost(done.fatal)
    return result
