"""Sweep suites: the YAML schema (pydantic), bounded safe loading, and expansion of a grid into points. No torch.

A suite names a grid of model configs and bench options; `expand` turns it into an ordered list of `Point`s
(cartesian product of `grid`, times the `zip` group advanced together, minus `exclude`). The order is
deterministic, so `--shard K/N` and `--resume` agree across machines and runs. See docs/sweep.md.

Bounded input: a suite file is at most MAX_SUITE_BYTES of UTF-8 text and MAX_SUITE_NODES values with every YAML
alias expanded; duplicate keys, non-finite numbers (.inf, .nan) and recursive aliases are refused; a value quoted
in an error is cut to errors.ECHO_CHARS characters on one line. Expansion is linear in the points: each distinct
model config and runtime setting is built once, exclusions are checked per point against position sets, and
`count_points` counts a grid without expanding it (the guard for `--max-points`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import itertools
import math
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Literal, Optional

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator,
                      model_validator)

from vitbench.cost.analytic import macs
from vitbench.cost.training import training_macs
from vitbench.errors import ECHO_CHARS, VitbenchError, clip, echo
from vitbench.measure.spec import ATTN_BACKENDS, DTYPES, MEASURES, MODES, OPTIMIZERS, RUNTIME_MEASURES, BenchSpec
from vitbench.schema import RUNTIME_KEY_COLUMNS
from vitbench.zoo import POOLS, ViTConfig, parse_res, preset

MAX_SUITE_BYTES = 1 << 20  # 1 MiB of text; the shipped suites are under 2 KB
MAX_SUITE_NODES = 1_000_000  # YAML values (scalars, lists, maps) counted with every alias expanded
MAX_EXPANDED_POINTS = 2_000_000  # expand() refuses more (a point takes 0.4-0.8 KiB of memory)

Positive = Annotated[int, Field(gt=0)]
NonNegative = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]
Device = Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$")]


def _check_res(value: int | str) -> int | str:
    if isinstance(value, int) and value <= 0:
        raise ValueError("resolution must be positive")
    if isinstance(value, str) and len(value) > 32:
        raise ValueError(f"resolution must be an integer or HxW (e.g. 224 or 384x512); this text has {len(value):,} "
                         f"characters")
    parse_res(value)  # VitbenchError is a ValueError: pydantic reports it with the key path
    return value


Res = Annotated[int | str, AfterValidator(_check_res)]

# Keys a grid / zip / exclude entry may set, and the type of one value.
CONFIG_AXES: dict[str, Any] = {
    "model": Annotated[str, Field(max_length=64)], "patch": Positive, "res": Res, "dim": Positive,
    "depth": Positive, "heads": Positive, "mlp_ratio": Annotated[float, Field(gt=0)], "classes": NonNegative,
    "pool": Literal[POOLS], "registers": NonNegative,
}
# Runtime keys: grid / zip / exclude axes and `defaults` / `cpu` options at once (a new key is one line here
# plus its BenchSpec field).
RUNTIME_AXES: dict[str, Any] = {
    "batch": Positive, "dtype": Literal[DTYPES], "attn": Literal[ATTN_BACKENDS], "device": Device,
    "compile": bool, "mode": Literal[MODES],
    "optimizer": Literal[OPTIMIZERS],
    "grad_checkpoint": bool,
}
AXES = {**CONFIG_AXES, **RUNTIME_AXES}
_RESOLVE_NAMES = {"classes": "num_classes"}  # grid key -> ViTConfig field
_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class _Axes(BaseModel):
    """grid / zip: each key holds a list of values (a scalar means a one-value list)."""

    model_config = _STRICT

    @model_validator(mode="before")
    @classmethod
    def _scalars_to_lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in data.items()}
        return data


Axes = create_model(
    "Axes", __base__=_Axes,
    **{k: (Optional[Annotated[list[t], Field(min_length=1)]], None) for k, t in AXES.items()},
)
ExcludeEntry = create_model(
    "ExcludeEntry", __config__=_STRICT, **{k: (Optional[t], None) for k, t in AXES.items()},
)


class _Options(BaseModel):
    model_config = _STRICT

    def set_values(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}


RunOptions = create_model(
    "RunOptions", __base__=_Options, __doc__="Bench options (BenchSpec fields) a suite may set for every point; "
                                             "unset keys keep BenchSpec's.",
    **{k: (Optional[t], None) for k, t in RUNTIME_AXES.items() if k != "device"},
    warmup=(Optional[NonNegative], None), min_warmup_s=(Optional[Seconds], None), iters=(Optional[Positive], None),
    min_time_s=(Optional[Seconds], None), isolate=(Optional[bool], None),
)


class Defaults(RunOptions):
    device: Optional[Device] = None


class CpuOverrides(RunOptions):
    """Applied over `defaults` where a point's resolved device is cpu (grid values still win).

    max_gmacs: points whose iteration (batch × per-image MACs: a forward, or for mode train a training step's
    forward + backward) exceeds this many GMACs are cost-only on cpu (no latency / memory)."""

    max_gmacs: Optional[Annotated[float, Field(gt=0)]] = None

    def set_values(self) -> dict:
        return {k: v for k, v in super().set_values().items() if k != "max_gmacs"}


class Suite(BaseModel):
    """The schema of one suite file (docs/sweep.md); unknown keys anywhere are errors."""

    model_config = _STRICT
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)]
    description: Annotated[str, Field(max_length=2000)] = ""
    defaults: Defaults = Field(default_factory=Defaults)
    measure: Annotated[list[Literal[MEASURES]], Field(min_length=1)] = list(MEASURES)
    grid: Axes
    zip: Axes = Field(default_factory=Axes)
    exclude: list[ExcludeEntry] = Field(default_factory=list)
    cpu: CpuOverrides = Field(default_factory=CpuOverrides)

    @field_validator("measure")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


@dataclass(frozen=True)
class LoadedSuite:
    """A validated suite plus where it came from (path, exact text, sha256 of the text)."""

    suite: Suite
    path: Path
    text: str
    sha256: str
    grid_keys: tuple[str, ...]  # grid keys in file order (expansion order, summary axes)
    zip_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Point:
    """One expanded point. `values`: the grid/zip values that define it (file keys). `plan`: 'measure' (runs
    vitbench.measure.bench), 'cost' (closed form, no torch), 'cpu-cost' (cost-only because of cpu.max_gmacs),
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


# ---------------------------------------------------------------------------------------------- loading

def _fmt_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_SECTION_KEYS = {
    "grid": AXES, "zip": AXES, "exclude": AXES, "defaults": Defaults.model_fields,
    "cpu": CpuOverrides.model_fields, "": Suite.model_fields,
}


def _describe_error(err: dict) -> str:
    loc, kind = tuple(err["loc"]), err["type"]
    path = clip(_fmt_loc(loc), 120)
    if kind == "extra_forbidden":
        section = loc[0] if len(loc) > 1 else ""
        if section in ("defaults", "cpu") and loc[-1] in ("split", "memory"):
            return (f"{path}: unknown key (value {echo(err['input'])}); {loc[-1]} is chosen by `measure:` "
                    f"(list it there)")
        valid = ", ".join(_SECTION_KEYS.get(section, Suite.model_fields))
        return f"{path}: unknown key (value {echo(err['input'])}); valid keys here: {valid}"
    if kind == "missing":
        return f"{path}: required key is missing"
    message = clip(err["msg"].removeprefix("Value error, "))
    return f"{path}: {message} (got {echo(err['input'])})"


class _Refused(yaml.YAMLError):
    """A document the suite loader will not build; `line` is 1-based (None when unknown)."""

    def __init__(self, line: Optional[int], message: str):
        super().__init__(message)
        self.line, self.message = line, message


def _line_of(node: yaml.Node) -> Optional[int]:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


class _SuiteLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser where installed
    """yaml's safe loader (plain data only) that refuses duplicate keys and non-finite numbers, and reports a
    scalar it cannot convert (a 5000-digit integer, a timestamp with month 13) as bad input with its line."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as e:  # scalar constructors: int(), float(), datetime()
            raise _Refused(_line_of(node), f"cannot read the value {echo(node.value)}: {clip(e, 120)}") from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` merges are overridden on purpose
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not key_node:
                    raise _Refused(_line_of(key_node), f"duplicate key {echo(key)} (first at line "
                                                       f"{_line_of(first)}); YAML would silently keep the last one")
        return super().construct_mapping(node, deep)

    def construct_finite_float(self, node) -> float:
        value = self.construct_yaml_float(node)
        if not math.isfinite(value):
            raise _Refused(_line_of(node), f"{echo(node.value)} is not a finite number; suites take finite "
                                           f"numbers only (no .inf or .nan)")
        return value


_SuiteLoader.add_constructor("tag:yaml.org,2002:float", _SuiteLoader.construct_finite_float)


def _expanded_nodes(root: yaml.Node) -> int:
    """How many values the document holds with every alias expanded, counted without expanding anything (each
    node once, memoised). _Refused for an alias inside its own anchor (a recursive structure)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else (
            node.value if isinstance(node, yaml.SequenceNode) else [])
        if finished:
            on_path.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
        elif id(node) in on_path:  # reached again from inside itself
            raise _Refused(_line_of(node), "an alias refers to a node that contains it (a recursive structure); "
                                           "suites are plain trees")
        elif id(node) not in sizes:
            on_path.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children)
    return sizes[id(root)]


def _read_yaml(path: Path, text: str) -> Any:
    loader = _SuiteLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        nodes = _expanded_nodes(root)
        if nodes > MAX_SUITE_NODES:
            raise _Refused(None, f"the document holds {nodes:,} values once its aliases are expanded; suites are "
                                 f"limited to {MAX_SUITE_NODES:,}")
        return loader.construct_document(root)
    except _Refused as e:
        raise VitbenchError(f"{path}{f':{e.line}' if e.line else ''}: {e.message}") from None
    except yaml.constructor.ConstructorError as e:
        line = f":{e.problem_mark.line + 1}" if e.problem_mark else ""
        tag = re.search(r"tag '([^']+)'", str(e.problem))
        if tag:
            raise VitbenchError(
                f"{path}{line}: refused YAML tag {clip(tag.group(1).replace('tag:yaml.org,2002:', '!!'), 120)}: "
                f"suites are read with a yaml SafeLoader (yaml.safe_load's rules), which builds only plain data "
                f"(maps, lists, strings, numbers, booleans)") from None
        raise VitbenchError(f"{path}{line}: {clip(e.problem, 160)}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise VitbenchError(f"{path}{where}: not valid YAML: {clip(problem, 160)}") from None
    except RecursionError:  # pure-Python parser on a deeply nested document (libyaml stops at 1000 levels)
        raise VitbenchError(f"{path}: not valid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def _read_text(path: Path) -> str:
    """The file's text: at most MAX_SUITE_BYTES, UTF-8."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SUITE_BYTES + 1)
    except FileNotFoundError:
        raise VitbenchError(f"suite file {path} not found (shipped suites are in suites/*.yaml)") from None
    except OSError as e:
        raise VitbenchError(f"cannot read suite file {path}: {e.strerror or e}") from None
    if len(data) > MAX_SUITE_BYTES:
        raise VitbenchError(f"{path}: larger than {MAX_SUITE_BYTES:,} bytes; a suite describes a grid in a few "
                            f"lines (lists of values, zip, exclude), not every point")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise VitbenchError(f"cannot read suite file {path}: not UTF-8 text (byte {e.start})") from None


def load_suite(path: str | Path) -> LoadedSuite:
    """Read and validate a suite file; every problem is a one-line VitbenchError naming file, key and value."""
    path = Path(path)
    text = _read_text(path)
    data = _read_yaml(path, text)
    if not isinstance(data, dict):
        raise VitbenchError(f"{path}: a suite is a YAML mapping with keys name, grid, ...; got {type(data).__name__}")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise VitbenchError(f"{path}: {_describe_error(errors[0])}{more}") from None
    grid_keys = tuple(k for k in data["grid"]) if isinstance(data.get("grid"), dict) else ()
    zip_keys = tuple(k for k in (data.get("zip") or {}))
    loaded = LoadedSuite(suite, path, text, hashlib.sha256(text.encode()).hexdigest(), grid_keys, zip_keys)
    _check_structure(loaded)
    return loaded


def _check_structure(ls: LoadedSuite) -> None:
    s, path = ls.suite, ls.path
    both = set(ls.grid_keys) & set(ls.zip_keys)
    if both:
        key = sorted(both)[0]
        raise VitbenchError(f"{path}: zip.{key}: {key!r} is also in grid; a key goes in grid or in zip, not both")
    if "model" not in ls.grid_keys and "model" not in ls.zip_keys:
        raise VitbenchError(f"{path}: grid.model: required key is missing (e.g. model: [vit_b16])")
    lengths = {k: len(getattr(s.zip, k)) for k in ls.zip_keys}
    if len(set(lengths.values())) > 1:
        first = ls.zip_keys[0]
        bad = next(k for k in ls.zip_keys if lengths[k] != lengths[first])
        raise VitbenchError(f"{path}: zip.{bad}: has {lengths[bad]} values but zip.{first} has {lengths[first]}; "
                            f"zipped lists advance together and must have the same length")
    axes = set(ls.grid_keys) | set(ls.zip_keys)
    for i, entry in enumerate(s.exclude):
        keys = entry.model_dump(exclude_none=True)
        if not keys:
            raise VitbenchError(f"{path}: exclude[{i}]: an exclude entry needs at least one key")
        for key, value in keys.items():
            if key not in axes:
                raise VitbenchError(f"{path}: exclude[{i}].{key}: {key!r} (value {echo(value)}) is not a grid or "
                                    f"zip key, so it cannot select points; grid/zip keys: {', '.join(sorted(axes))}")


# -------------------------------------------------------------------------------------------- expansion

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

    def config(self, values: dict) -> tuple[Optional[ViTConfig], Optional[str], Optional[int]]:
        """(config, None, MACs per image), or (None, why it is impossible, None): the `model` preset with the
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
        return cfg, None, macs(cfg).total

    def _external(self, values: dict) -> tuple[Optional[ViTConfig], Optional[str], Optional[int]]:
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
        return cfg, None, subject.macs().total


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
    configs: dict = {}  # config positions -> (ViTConfig or None, why not, MACs per image)
    max_gmacs = s.cpu.max_gmacs if builder.needs_run else None
    plan = "measure" if builder.needs_run else "cost"
    measures, points = builder.measures, []
    with _collector_paused():
        for index, pos in enumerate(positions):
            values = dict(itertools.chain.from_iterable(map(operator.getitem, items, pos)))
            rkey, ckey = runtime_of(pos), config_of(pos)
            spec = specs.get(rkey) or specs.setdefault(rkey, builder.spec(values))
            cfg, invalid, per_image = configs.get(ckey) or configs.setdefault(ckey, builder.config(values))
            on_cpu = spec.device == "cpu"
            if cfg is None:
                points.append(Point(index, values, None, spec, measures, "invalid", invalid, on_cpu))
                continue
            if spec.mode == "train":  # a training step: forward + backward (model MACs), about 3 forwards
                per_image = training_macs(cfg).model
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
