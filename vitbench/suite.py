"""Sweep suites: the YAML schema (pydantic) and loading a suite file into a validated LoadedSuite. No torch.

A suite names a grid of model configs and bench options (docs/sweep.md); vitbench.expansion turns it into
points. Loading reads the file within bounds (vitbench.suite_yaml), validates it against `Suite` (unknown keys
anywhere, wrong types and non-finite numbers are errors) and checks what the schema alone cannot (grid and zip
keys, zip lengths, exclude keys). Every problem is one line naming the file, the key path and the value (cut to
errors.ECHO_CHARS characters).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator,
                      model_validator)

from vitbench.errors import VitbenchError, clip, echo
from vitbench.measure.spec import ATTN_BACKENDS, DTYPES, MEASURES, MODES, OPTIMIZERS
from vitbench.suite_yaml import read_suite_file
from vitbench.zoo import POOLS, parse_res

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


def load_suite(path: str | Path) -> LoadedSuite:
    """Read and validate a suite file; every problem is a one-line VitbenchError naming file, key and value."""
    path = Path(path)
    text, data = read_suite_file(path)
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
