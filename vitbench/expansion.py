"""Expanding a loaded suite into its ordered points, and counting them without expanding. No torch.

`expand` turns a LoadedSuite into `Point`s: the cartesian product of `grid` (file order, the last key fastest),
times the `zip` group advanced together, minus the `exclude` entries. The order is deterministic, so
`--shard K/N` and `--resume` agree across machines and runs. See docs/sweep.md.

Expansion is linear in the points: each distinct model config and runtime setting is built once, exclusions are
checked per point against position sets, and `count_points` counts a grid without expanding it (the guard for
`--max-points`); `expand` refuses more than MAX_EXPANDED_POINTS points.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

from vitbench.cost.analytic import macs
from vitbench.cost.breakdown import Breakdown
from vitbench.cost.training import model_macs
from vitbench.errors import ECHO_CHARS, VitbenchError, clip, echo
from vitbench.measure.spec import RUNTIME_MEASURES, BenchSpec
from vitbench.schema import RUNTIME_KEY_COLUMNS
from vitbench.suite import CONFIG_AXES, RUNTIME_AXES, LoadedSuite
from vitbench.zoo import ViTConfig, parse_res, preset

MAX_EXPANDED_POINTS = 2_000_000  # expand() refuses more (a point takes 0.4-0.8 KiB of memory)
_RESOLVE_NAMES = {"classes": "num_classes"}  # grid key -> ViTConfig field


@dataclass(frozen=True, slots=True)
class Point:
    """One expanded point. `values`: the grid/zip values that define it (file keys). `plan`: 'measure' (runs
    vitbench.measure.point), 'cost' (closed form, no torch), 'cpu-cost' (cost-only because of cpu.max_gmacs),
    or 'invalid' (with `invalid` the reason; `cfg` is None). Points of one suite share their `cfg` and `spec`
    objects where those are equal (both are immutable)."""

    index: int
    values: dict
    cfg: Optional[ViTConfig]
    spec: BenchSpec
    measures: tuple[str, ...]
    plan: str
    invalid: Optional[str] = None
    cpu_overrides: bool = False
    gmacs_per_forward: Optional[float] = field(default=None, compare=False)  # per iteration: a train point's step


@dataclass(frozen=True)
class _Axis:
    """One axis of the product: a grid key, or the zip group (its keys advance together)."""

    keys: tuple[str, ...]
    rows: tuple[tuple, ...]  # the values of `keys` at each position


def _axes(ls: LoadedSuite) -> list[_Axis]:
    """Grid keys in file order (the last varies fastest), then the zip group as one more axis."""
    s = ls.suite
    axes = [_Axis((k,), tuple((v,) for v in getattr(s.grid, k))) for k in ls.grid_keys]
    if ls.zip_keys:
        axes.append(_Axis(ls.zip_keys, tuple(zip(*(getattr(s.zip, k) for k in ls.zip_keys)))))
    return axes


def _canonical(key: str, value: Any) -> Any:
    """What a value means, for comparing an exclude entry with the grid: res 384 == '384x384'."""
    return parse_res(value) if key == "res" else value


Box = tuple[Optional[frozenset], ...]  # per axis: the positions an exclude entry selects (None: any)


def _exclude_boxes(ls: LoadedSuite, axes: list[_Axis]) -> list[Box]:
    """Each exclude entry as the positions it selects on each axis; VitbenchError for an entry that selects
    nothing (a typo would otherwise exclude nothing)."""
    boxes = []
    for i, entry in enumerate(ls.suite.exclude):
        rule = {k: _canonical(k, v) for k, v in entry.model_dump(exclude_none=True).items()}
        box = []
        for axis in axes:
            keyed = [(j, k) for j, k in enumerate(axis.keys) if k in rule]
            box.append(None if not keyed else frozenset(
                p for p, row in enumerate(axis.rows) if all(_canonical(k, row[j]) == rule[k] for j, k in keyed)))
        if any(s is not None and not s for s in box):
            shown = "{" + ", ".join(f"{k!r}: {echo(v)}" for k, v in entry.model_dump(exclude_none=True).items()) + "}"
            raise VitbenchError(f"{ls.path}: exclude[{i}]: {shown} matches no point of the grid (check the values)")
        boxes.append(tuple(box))
    return boxes


def _covered(boxes: list[Box], lengths: tuple[int, ...], depth: int = 0, memo: Optional[dict] = None) -> int:
    """How many positions of the product of `lengths` (from axis `depth` on) lie in at least one box: the axis's
    positions are grouped by the set of boxes that hold them, and each group recurses on the other axes."""
    if not boxes:
        return 0
    if depth == len(lengths):
        return 1
    memo = {} if memo is None else memo
    key = (frozenset(map(id, boxes)), depth)
    if key not in memo:
        groups: dict[tuple[int, ...], int] = {}
        free = tuple(i for i, b in enumerate(boxes) if b[depth] is None)
        named = {p for b in boxes if b[depth] is not None for p in b[depth]}
        for p in named:
            holders = tuple(sorted(free + tuple(i for i, b in enumerate(boxes) if b[depth] is not None
                                                and p in b[depth])))
            groups[holders] = groups.get(holders, 0) + 1
        if lengths[depth] > len(named):
            groups[free] = groups.get(free, 0) + lengths[depth] - len(named)
        memo[key] = sum(n * _covered([boxes[i] for i in holders], lengths, depth + 1, memo)
                        for holders, n in groups.items() if holders)
    return memo[key]


def count_points(ls: LoadedSuite) -> int:
    """How many points the suite expands to — the product of the axis lengths minus the excluded ones — counted
    without expanding (microseconds for any grid); invalid configs count. The guard `sweep --max-points` uses
    before `expand`."""
    axes = _axes(ls)
    lengths = tuple(len(a.rows) for a in axes)
    return math.prod(lengths) - _covered(_exclude_boxes(ls, axes), lengths)


def runs_model(ls: LoadedSuite) -> bool:
    """True when the suite measures latency or memory (its points run the model), False for closed-form only."""
    return bool(set(RUNTIME_MEASURES) & set(ls.suite.measure))


def check_point_count(ls: LoadedSuite, max_points: int, flag: str = "--max-points") -> int:
    """The number of points (count_points); one-line VitbenchError when it is above `max_points`."""
    n = count_points(ls)
    if n > max_points:
        raise VitbenchError(f"{ls.path}: the grid expands to {n:,} points, more than {flag} {max_points:,}; "
                            f"narrow the grid, split it with --shard K/N, or raise {flag}")
    return n


def _positions(axes: list[_Axis], boxes: list[Box]) -> Iterator[tuple[int, ...]]:
    """Positions (one per axis) of the points that no exclude entry selects, in expansion order. An entry on one
    axis removes its positions from that axis; entries on several axes are checked point by point."""
    ranges = [range(len(a.rows)) for a in axes]
    checks = []
    for box in boxes:
        named = [(i, s) for i, s in enumerate(box) if s is not None]
        if len(named) == 1:
            i, selected = named[0]
            ranges[i] = [p for p in ranges[i] if p not in selected]
        else:
            checks.append(tuple(named))
    product = itertools.product(*ranges)
    if not checks:
        return product
    return (pos for pos in product if not any(all(pos[i] in s for i, s in check) for check in checks))


def combinations(ls: LoadedSuite) -> list[dict]:
    """The grid's cartesian product (last key fastest) times the zip group, minus exclusions, in order."""
    axes = _axes(ls)
    items = [[tuple(zip(a.keys, row)) for row in a.rows] for a in axes]
    return [dict(itertools.chain.from_iterable(map(operator.getitem, items, pos)))
            for pos in _positions(axes, _exclude_boxes(ls, axes))]


def describe_values(values: dict) -> str:
    return ", ".join(f"{k}={clip(v, ECHO_CHARS)}" for k, v in values.items())


def _check_count(ls: LoadedSuite, axes: list[_Axis]) -> None:
    if math.prod(len(a.rows) for a in axes) > MAX_EXPANDED_POINTS:
        n = count_points(ls)
        if n > MAX_EXPANDED_POINTS:
            raise VitbenchError(f"{ls.path}: the grid expands to {n:,} points; vitbench expands at most "
                                f"{MAX_EXPANDED_POINTS:,} (0.4-0.8 KiB of memory each); split it into several "
                                f"suites")


@contextlib.contextmanager
def _collector_paused():
    """Pause the cyclic garbage collector while a million small acyclic objects are made (it would rescan the
    growing heap again and again)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Builder:
    """What the points of one expansion share, built once each: a BenchSpec per distinct runtime setting, a
    ViTConfig (or why there is none) and its MACs per image per distinct model config. Notes whether two
    different settings or configs came out equal (the only way two points can coincide)."""

    def __init__(self, ls: LoadedSuite, resolve_device: Callable[[str], str], device: Optional[str],
                 isolate: bool):
        self.ls, self.resolve_device, self.device, self.isolate = ls, resolve_device, device, isolate
        self.measures = tuple(ls.suite.measure)
        self.needs_run = runs_model(ls)
        self.devices: dict[str, str] = {}
        self.presets: dict[str, dict | VitbenchError] = {}  # model name -> the preset's fields, or why none
        self.runtime_keys: set[tuple] = set()
        self.configs: set[ViTConfig] = set()
        self.may_coincide = False

    def _device(self, name: str) -> str:
        """'auto' -> cpu | cuda; other names are checked once where points run."""
        if name not in self.devices:
            try:
                self.devices[name] = self.resolve_device(name)
            except VitbenchError as e:
                raise VitbenchError(f"{self.ls.path}: {clip(e)}") from None
        return self.devices[name]

    def spec(self, values: dict) -> BenchSpec:
        """The point's runtime settings (precedence: see `expand`)."""
        s = self.ls.suite
        want = self.device or values.get("device") or s.defaults.device or BenchSpec.device
        dev = self._device(want) if want == "auto" or self.needs_run else want
        options = {**s.defaults.set_values(), **(s.cpu.set_values() if dev == "cpu" else {})}
        options.update({k: v for k, v in values.items() if k in RUNTIME_AXES})
        options.update(device=dev, split="split" in self.measures and "latency" in self.measures,
                       memory="memory" in self.measures)
        if self.isolate:
            options["isolate"] = True
        spec = BenchSpec(**options)
        key = tuple(getattr(spec, c) for c in RUNTIME_KEY_COLUMNS)
        self.may_coincide |= key in self.runtime_keys
        self.runtime_keys.add(key)
        return spec

    def config(self, values: dict) -> tuple[Optional[ViTConfig], Optional[str], Optional[Breakdown]]:
        """(config, None, forward MACs per image by component), or (None, why it is impossible, None): the `model`
        preset with the
        point's config keys over it, as zoo.resolve builds it (the preset made once per name)."""
        name = values["model"]
        if ":" in name:  # timm:NAME / torchvision:NAME: read from the library (imports torch), priced exactly
            return self._external(values)
        if name not in self.presets:
            try:
                base = preset(name)
                self.presets[name] = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
            except VitbenchError as e:
                self.presets[name] = e
        fields = self.presets[name]
        try:
            if isinstance(fields, VitbenchError):
                raise fields
            changes = {_RESOLVE_NAMES.get(k, k): v for k, v in values.items()
                       if k in CONFIG_AXES and k not in ("model", "res")}
            if "res" in values:
                changes["img_size"] = parse_res(values["res"])
            cfg = ViTConfig(**{**fields, **changes})
        except VitbenchError as e:
            return None, clip(e), None
        known = len(self.configs)
        self.configs.add(cfg)
        self.may_coincide |= len(self.configs) == known
        return cfg, None, macs(cfg)

    def _external(self, values: dict) -> tuple[Optional[ViTConfig], Optional[str], Optional[Breakdown]]:
        """An external model's point: only `res` may vary (its architecture is the library's)."""
        from vitbench.subject import external_subject

        others = sorted(k for k in values if k in CONFIG_AXES and k not in ("model", "res"))
        if others:
            return None, f"{', '.join(others)} apply to zoo models only, not {values['model']}", None
        try:
            subject = external_subject(values["model"], parse_res(values["res"]) if "res" in values else None)
            cfg = subject.require_cfg()
        except VitbenchError as e:
            return None, clip(e), None
        self.configs.add(cfg)
        return cfg, None, subject.macs()


def expand(
    ls: LoadedSuite,
    resolve_device: Callable[[str], str],
    device: Optional[str] = None,
    isolate: bool = False,
) -> list[Point]:
    """All points of the suite, in order. `resolve_device(name)`: 'auto' -> 'cpu' | 'cuda'; raises
    VitbenchError for a device this machine lacks (asked only for 'auto' and, when points run, every device).

    Precedence, lowest first: BenchSpec defaults, suite `defaults`, `cpu` overrides (resolved device cpu),
    grid/zip values, then `device` / `isolate` from the command line. Impossible configs become plan
    'invalid' points (the caller decides whether that is an error); two points with the same config and
    runtime key are an error. Cost: a ViTConfig and a MAC count per distinct model config, a BenchSpec per
    distinct runtime setting, a dict and a Point per point; VitbenchError above MAX_EXPANDED_POINTS points.
    """
    s = ls.suite
    if device is not None and ("device" in ls.grid_keys or "device" in ls.zip_keys):
        raise VitbenchError(f"{ls.path} varies device in its grid; --device {device} cannot override it")
    axes = _axes(ls)
    _check_count(ls, axes)
    positions = _positions(axes, _exclude_boxes(ls, axes))
    items = [[tuple(zip(a.keys, row)) for row in a.rows] for a in axes]

    def positions_of(keys: set) -> Callable[[tuple], Any]:  # pos -> positions on the axes that carry `keys`
        which = [i for i, a in enumerate(axes) if keys & set(a.keys)]
        return operator.itemgetter(*which) if which else (lambda pos: ())

    config_of, runtime_of = positions_of(set(CONFIG_AXES)), positions_of(set(RUNTIME_AXES))
    builder = _Builder(ls, resolve_device, device, isolate)
    specs: dict = {}  # runtime positions -> BenchSpec
    configs: dict = {}  # config positions -> (ViTConfig or None, why not, forward MACs Breakdown)
    max_gmacs = s.cpu.max_gmacs if builder.needs_run else None
    plan = "measure" if builder.needs_run else "cost"
    measures, points = builder.measures, []
    with _collector_paused():
        for index, pos in enumerate(positions):
            values = dict(itertools.chain.from_iterable(map(operator.getitem, items, pos)))
            rkey, ckey = runtime_of(pos), config_of(pos)
            spec = specs.get(rkey) or specs.setdefault(rkey, builder.spec(values))
            cfg, invalid, forward = configs.get(ckey) or configs.setdefault(ckey, builder.config(values))
            on_cpu = spec.device == "cpu"
            if cfg is None:
                points.append(Point(index, values, None, spec, measures, "invalid", invalid, on_cpu))
                continue
            # a training step: forward + backward (model MACs, about 3 forwards), from the model's own breakdown
            per_image = model_macs(forward) if spec.mode == "train" else forward.total
            gmacs = per_image * spec.batch / 1e9
            heavy = on_cpu and max_gmacs is not None and gmacs > max_gmacs
            points.append(Point(index, values, cfg, spec, measures, "cpu-cost" if heavy else plan, None, on_cpu,
                                gmacs))
    if builder.may_coincide:  # two positions built equal configs or settings: find the points that coincide
        _refuse_duplicates(ls, points)
    return points


def _refuse_duplicates(ls: LoadedSuite, points: list[Point]) -> None:
    seen: dict[tuple, int] = {}
    for p in points:
        if p.cfg is None:
            continue
        key = (p.cfg, *(getattr(p.spec, c) for c in RUNTIME_KEY_COLUMNS))
        first = seen.setdefault(key, p.index)
        if first != p.index:
            raise VitbenchError(f"{ls.path}: grid points #{first} ({describe_values(points[first].values)}) "
                                f"and #{p.index} ({describe_values(p.values)}) are the same configuration")


def check_invalid(ls: LoadedSuite, points: list[Point]) -> None:
    """Raise one line for the first impossible point (how many more there are, and the way around it)."""
    bad = [p for p in points if p.plan == "invalid"]
    if bad:
        more = f" ({len(bad) - 1} more invalid point(s))" if len(bad) > 1 else ""
        raise VitbenchError(f"{ls.path}: grid point #{bad[0].index} ({describe_values(bad[0].values)}): "
                            f"{bad[0].invalid}{more}; fix the grid, add an exclude entry, or pass --skip-invalid "
                            f"to record such points as status 'invalid'")
