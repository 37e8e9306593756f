"""Sweep suites: the YAML schema (pydantic), safe loading, and expansion of a grid into points. No torch.

A suite names a grid of model configs and bench options; `expand` turns it into an ordered list of `Point`s
(cartesian product of `grid`, times the `zip` group advanced together, minus `exclude`). The order is
deterministic, so `--shard K/N` and `--resume` agree across machines and runs. See docs/sweep.md.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Optional

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator,
                      model_validator)

from vitbench.cost.analytic import macs
from vitbench.errors import VitbenchError
from vitbench.measure.spec import ATTN_BACKENDS, DTYPES, MEASURES, RUNTIME_MEASURES, BenchSpec
from vitbench.zoo import POOLS, ViTConfig, parse_res, resolve

Positive = Annotated[int, Field(gt=0)]
NonNegative = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]
Device = Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$")]


def _check_res(value: int | str) -> int | str:
    if isinstance(value, int) and value <= 0:
        raise ValueError("resolution must be positive")
    parse_res(value)  # VitbenchError is a ValueError: pydantic reports it with the key path
    return value


Res = Annotated[int | str, AfterValidator(_check_res)]

# Keys a grid / zip / exclude entry may set, and the type of one value.
CONFIG_AXES: dict[str, Any] = {
    "model": str, "patch": Positive, "res": Res, "dim": Positive, "depth": Positive, "heads": Positive,
    "mlp_ratio": Annotated[float, Field(gt=0)], "classes": NonNegative, "pool": Literal[POOLS],
    "registers": NonNegative,
}
RUNTIME_AXES: dict[str, Any] = {
    "batch": Positive, "dtype": Literal[DTYPES], "attn": Literal[ATTN_BACKENDS], "device": Device,
    "compile": bool,
}
AXES = {**CONFIG_AXES, **RUNTIME_AXES}
_RESOLVE_NAMES = {"classes": "num_classes"}  # grid key -> zoo.resolve override name
_STRICT = ConfigDict(extra="forbid", strict=True)


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


class RunOptions(BaseModel):
    """Bench options (BenchSpec fields) a suite may set for every point; unset keys keep BenchSpec's."""

    model_config = _STRICT
    batch: Optional[Positive] = None
    dtype: Optional[Literal[DTYPES]] = None
    attn: Optional[Literal[ATTN_BACKENDS]] = None
    compile: Optional[bool] = None
    warmup: Optional[NonNegative] = None
    min_warmup_s: Optional[Seconds] = None
    iters: Optional[Positive] = None
    min_time_s: Optional[Seconds] = None
    isolate: Optional[bool] = None

    def set_values(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Defaults(RunOptions):
    device: Optional[Device] = None


class CpuOverrides(RunOptions):
    """Applied over `defaults` where a point's resolved device is cpu (grid values still win).

    max_gmacs: points whose forward (batch × per-image MACs) exceeds this many GMACs are cost-only on cpu
    (no latency / memory)."""

    max_gmacs: Optional[Annotated[float, Field(gt=0)]] = None

    def set_values(self) -> dict:
        return {k: v for k, v in super().set_values().items() if k != "max_gmacs"}


class Suite(BaseModel):
    """The schema of one suite file (docs/sweep.md); unknown keys anywhere are errors."""

    model_config = _STRICT
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)]
    description: str = ""
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


@dataclass(frozen=True)
class Point:
    """One expanded point. `values`: the grid/zip values that define it (file keys). `plan`: 'measure' (runs
    vitbench.measure.bench), 'cost' (closed form, no torch), 'cpu-cost' (cost-only because of cpu.max_gmacs),
    or 'invalid' (with `invalid` the reason; `cfg` is None)."""

    index: int
    values: dict
    cfg: Optional[ViTConfig]
    spec: BenchSpec
    measures: tuple[str, ...]
    plan: str
    invalid: Optional[str] = None
    cpu_overrides: bool = False
    gmacs_per_forward: Optional[float] = field(default=None, compare=False)


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
    path = _fmt_loc(loc)
    if kind == "extra_forbidden":
        section = loc[0] if len(loc) > 1 else ""
        if section in ("defaults", "cpu") and loc[-1] in ("split", "memory"):
            return f"{path}: unknown key (value {err['input']!r}); {loc[-1]} is chosen by `measure:` (list it there)"
        valid = ", ".join(_SECTION_KEYS.get(section, Suite.model_fields))
        return f"{path}: unknown key (value {err['input']!r}); valid keys here: {valid}"
    if kind == "missing":
        return f"{path}: required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    return f"{path}: {message} (got {err['input']!r})"


def _read_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.constructor.ConstructorError as e:
        line = f":{e.problem_mark.line + 1}" if e.problem_mark else ""
        tag = re.search(r"tag '([^']+)'", str(e.problem))
        shown = tag.group(1).replace("tag:yaml.org,2002:", "!!") if tag else str(e.problem)
        raise VitbenchError(
            f"{path}{line}: refused YAML tag {shown}: suites are read with "
            f"yaml.safe_load, which builds only plain data (maps, lists, strings, numbers, booleans)"
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise VitbenchError(f"{path}{where}: not valid YAML: {problem}") from None


def load_suite(path: str | Path) -> LoadedSuite:
    """Read and validate a suite file; every problem is a one-line VitbenchError naming file, key and value."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise VitbenchError(f"suite file {path} not found (shipped suites are in suites/*.yaml)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise VitbenchError(f"cannot read suite file {path}: {e}") from None
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
                raise VitbenchError(f"{path}: exclude[{i}].{key}: {key!r} (value {value!r}) is not a grid or zip "
                                    f"key, so it cannot select points; grid/zip keys: {', '.join(sorted(axes))}")


# -------------------------------------------------------------------------------------------- expansion

def _same(key: str, a: Any, b: Any) -> bool:
    if key == "res":
        return parse_res(a) == parse_res(b)
    return a == b


def combinations(ls: LoadedSuite) -> list[dict]:
    """The grid's cartesian product (last key fastest) times the zip group, minus exclusions, in order."""
    s = ls.suite
    grid_lists = [[(k, v) for v in getattr(s.grid, k)] for k in ls.grid_keys]
    zipped = [list(zip(*[[(k, v) for v in getattr(s.zip, k)] for k in ls.zip_keys]))] if ls.zip_keys else []
    combos = []
    for parts in itertools.product(*grid_lists, *zipped):
        values: dict = {}
        for part in parts:
            values.update(dict(part) if isinstance(part[0], tuple) else {part[0]: part[1]})
        combos.append(values)
    excludes = [e.model_dump(exclude_none=True) for e in s.exclude]
    for i, rule in enumerate(excludes):
        if not any(all(_same(k, c[k], v) for k, v in rule.items()) for c in combos):
            raise VitbenchError(f"{ls.path}: exclude[{i}]: {rule} matches no point of the grid (check the values)")
    return [c for c in combos if not any(all(_same(k, c[k], v) for k, v in r.items()) for r in excludes)]


def _build_config(values: dict) -> ViTConfig:
    overrides = {_RESOLVE_NAMES.get(k, k): v for k, v in values.items()
                 if k in CONFIG_AXES and k not in ("model", "res")}
    return resolve(values["model"], values.get("res"), **overrides)


def describe_values(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


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
    'invalid' points (the caller decides whether that is an error).
    """
    s = ls.suite
    if device is not None and ("device" in ls.grid_keys or "device" in ls.zip_keys):
        raise VitbenchError(f"{ls.path} varies device in its grid; --device {device} cannot override it")
    resolved: dict[str, str] = {}
    measures = tuple(s.measure)
    needs_run = bool(set(RUNTIME_MEASURES) & set(measures))

    def check_device(name: str) -> str:  # 'auto' -> cpu | cuda; others validated once where points run
        if name not in resolved:
            try:
                resolved[name] = resolve_device(name)
            except VitbenchError as e:
                raise VitbenchError(f"{ls.path}: {e}") from None
        return resolved[name]

    points, seen = [], {}
    for index, values in enumerate(combinations(ls)):
        want = device or values.get("device") or s.defaults.device or BenchSpec.device
        dev = check_device(want) if want == "auto" or needs_run else want
        on_cpu = dev == "cpu"
        options = {**s.defaults.set_values(), **(s.cpu.set_values() if on_cpu else {})}
        options.update({k: v for k, v in values.items() if k in RUNTIME_AXES})
        options.update(device=dev, split="split" in measures and "latency" in measures,
                       memory="memory" in measures)
        if isolate:
            options["isolate"] = True
        spec = BenchSpec(**options)
        try:
            cfg = _build_config(values)
        except VitbenchError as e:
            points.append(Point(index, values, None, spec, measures, "invalid", str(e), on_cpu))
            continue
        gmacs = macs(cfg).total * spec.batch / 1e9
        plan = "measure" if needs_run else "cost"
        if plan == "measure" and on_cpu and s.cpu.max_gmacs is not None and gmacs > s.cpu.max_gmacs:
            plan = "cpu-cost"
        point = Point(index, values, cfg, spec, measures, plan, None, on_cpu, gmacs)
        key = (cfg, spec.batch, spec.device, spec.dtype, spec.attn, spec.compile)
        if key in seen:
            raise VitbenchError(f"{ls.path}: grid points #{seen[key]} ({describe_values(points[seen[key]].values)}) "
                                f"and #{index} ({describe_values(values)}) are the same configuration")
        seen[key] = index
        points.append(point)
    return points


def check_invalid(ls: LoadedSuite, points: list[Point]) -> None:
    """Raise one line for the first impossible point (how many more there are, and the way around it)."""
    bad = [p for p in points if p.plan == "invalid"]
    if bad:
        more = f" ({len(bad) - 1} more invalid point(s))" if len(bad) > 1 else ""
        raise VitbenchError(f"{ls.path}: grid point #{bad[0].index} ({describe_values(bad[0].values)}): "
                            f"{bad[0].invalid}{more}; fix the grid, add an exclude entry, or pass --skip-invalid "
                            f"to record such points as status 'invalid'")
