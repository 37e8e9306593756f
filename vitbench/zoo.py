"""ViT configurations: a frozen dataclass, the named presets, and the name grammar.

No torch here: `vitbench models`, `vitbench params` and the closed-form cost model read only this.

Name grammar: ``vit_{ti,s,b,l,h}{patch}`` (ViT paper sizes) and ``deit_{ti,s,b}{patch}`` (DeiT sizes with the
distillation token and its second head). Any patch size parses (``vit_b14`` is valid); `PRESETS` lists the
named ones the zoo table shows.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from dataclasses import dataclass

from vitbench.errors import VitbenchError

# (width, depth, heads) from the ViT (Dosovitskiy et al. 2021) and DeiT (Touvron et al. 2021) papers.
SIZES: dict[str, tuple[int, int, int]] = {
    "ti": (192, 12, 3),
    "s": (384, 12, 6),
    "b": (768, 12, 12),
    "l": (1024, 24, 16),
    "h": (1280, 32, 16),
}
FAMILIES = {"vit": False, "deit": True}  # family -> has a distillation token
POOLS = ("cls", "gap")
_NAME = re.compile(r"^(vit|deit)_(ti|s|b|l|h)(\d+)$")

PRESETS: tuple[str, ...] = (
    "vit_ti16", "vit_s16", "vit_s32", "vit_b8", "vit_b16", "vit_b32",
    "vit_l14", "vit_l16", "vit_l32", "vit_h14",
    "deit_ti16", "deit_s16", "deit_b16",
)


@dataclass(frozen=True)
class ViTConfig:
    """One Vision Transformer. Sizes are in pixels / channels; `img_size` is (height, width).

    Token layout: [CLS] (+ distillation token) + patches carry the learned position embedding; register
    tokens (Darcet et al. 2024) are appended after it and carry none, as in DINOv2.
    """

    name: str = "custom"
    patch: int = 16
    img_size: tuple[int, int] = (224, 224)
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0
    num_classes: int = 1000
    pool: str = "cls"
    distill: bool = False
    registers: int = 0
    qkv_bias: bool = True
    in_chans: int = 3

    def __post_init__(self) -> None:
        validate(self)

    @property
    def grid(self) -> tuple[int, int]:
        """Patches along (height, width)."""
        return self.img_size[0] // self.patch, self.img_size[1] // self.patch

    @property
    def num_patches(self) -> int:
        gh, gw = self.grid
        return gh * gw

    @property
    def num_prefix_tokens(self) -> int:
        """[CLS], the distillation token and the registers: tokens that are not patches."""
        return 1 + int(self.distill) + self.registers

    @property
    def tokens(self) -> int:
        """Sequence length N seen by every block."""
        return self.num_patches + self.num_prefix_tokens

    @property
    def mlp_hidden(self) -> int:
        """MLP hidden width F, truncated to an integer as timm does (``int(dim * mlp_ratio)``)."""
        return int(self.dim * self.mlp_ratio)

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def res_label(self) -> str:
        h, w = self.img_size
        return str(h) if h == w else f"{h}x{w}"

    def replace(self, **changes) -> "ViTConfig":
        return dataclasses.replace(self, **changes)

    def to_row(self) -> dict:
        """The config columns of a result row (vitbench.schema, kind 'config')."""
        return {
            "model": self.name, "patch": self.patch, "res_h": self.img_size[0], "res_w": self.img_size[1],
            "dim": self.dim, "depth": self.depth, "heads": self.heads, "mlp_ratio": self.mlp_ratio,
            "classes": self.num_classes, "pool": self.pool, "registers": self.registers,
            "distill": self.distill, "tokens": self.tokens,
        }

    @classmethod
    def from_row(cls, row) -> "ViTConfig":
        """The config a result row describes: the row's own numbers, not its name's preset (`tokens` is derived
        and not read). Raises VitbenchError when a value is missing or not a valid number."""
        try:
            return cls(
                name=str(row["model"]), patch=_as_int(row["patch"]),
                img_size=(_as_int(row["res_h"]), _as_int(row["res_w"])), dim=_as_int(row["dim"]),
                depth=_as_int(row["depth"]), heads=_as_int(row["heads"]), mlp_ratio=float(row["mlp_ratio"]),
                num_classes=_as_int(row["classes"]), pool=str(row["pool"]), distill=_as_bool(row["distill"]),
                registers=_as_int(row["registers"]),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            if isinstance(e, VitbenchError):
                raise
            raise VitbenchError(f"a result row does not describe a ViT config: {e}") from None


def _as_int(value) -> int:
    """An integer cell (4, 4.0, '4', '4.0'); ValueError for anything else (4.5, 'abc', inf, nan)."""
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def _as_bool(value) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1", "1.0"):
        return True
    if text in ("false", "0", "0.0", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _nearest_multiples(value: int, step: int) -> str:
    """The multiples of `step` just below and above `value`, e.g. (225, 16) -> '224 or 240'."""
    low = (value // step) * step
    return " or ".join(str(c) for c in (low, low + step) if c > 0)


def validate(cfg: ViTConfig) -> None:
    """Raise VitbenchError on an impossible configuration."""
    positive = {
        "patch": cfg.patch, "dim": cfg.dim, "depth": cfg.depth, "heads": cfg.heads,
        "height": cfg.img_size[0], "width": cfg.img_size[1], "channels": cfg.in_chans,
    }
    for key, value in positive.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise VitbenchError(f"{key} must be a positive integer, got {value!r}")
    ratio = cfg.mlp_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not math.isfinite(ratio) or ratio <= 0 \
            or not math.isfinite(ratio * cfg.dim) or cfg.mlp_hidden < 1:
        raise VitbenchError(f"mlp ratio must be a finite number > 0 (MLP hidden = ratio × width, finite and >= 1), "
                            f"got {ratio!r}")
    if cfg.num_classes < 0:
        raise VitbenchError(f"classes must be >= 0 (0 = no head), got {cfg.num_classes}")
    if cfg.registers < 0:
        raise VitbenchError(f"registers must be >= 0, got {cfg.registers}")
    if cfg.pool not in POOLS:
        raise VitbenchError(f"unknown pool {cfg.pool!r}; valid: {', '.join(POOLS)}")
    if cfg.dim % cfg.heads:
        divisors = [h for h in range(1, min(cfg.dim, 64) + 1) if cfg.dim % h == 0]
        raise VitbenchError(
            f"width {cfg.dim} is not divisible by {cfg.heads} heads; heads that divide it: "
            f"{', '.join(map(str, divisors[-8:]))}"
        )
    for side, label in zip(cfg.img_size, ("height", "width")):
        if side % cfg.patch:
            raise VitbenchError(
                f"resolution {label} {side} is not divisible by patch {cfg.patch}; "
                f"nearest valid: {_nearest_multiples(side, cfg.patch)}"
            )


def parse_res(text: str | int) -> tuple[int, int]:
    """'384' -> (384, 384); '384x512' -> (384, 512) (height x width)."""
    if isinstance(text, int):
        return (text, text)
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        sides = [int(p) for p in parts]
    except ValueError:
        raise VitbenchError(f"resolution must be an integer or HxW (e.g. 224 or 384x512), got {text!r}") from None
    if len(sides) == 1:
        sides = sides * 2
    if len(sides) != 2:
        raise VitbenchError(f"resolution must be an integer or HxW (e.g. 224 or 384x512), got {text!r}")
    if min(sides) <= 0:
        raise VitbenchError(f"resolution must be positive, got {text!r}")
    return sides[0], sides[1]


def snap_res(target: int, patch: int) -> int:
    """The multiple of `patch` nearest to `target` px (ties go up): 384 for P16, 378 for P14."""
    return max(patch, patch * int(target / patch + 0.5))


def preset(name: str) -> ViTConfig:
    """The config for a zoo name (``vit_b16``, ``deit_s16``, any ``vit_{size}{patch}``) at 224 px."""
    match = _NAME.match(name.strip().lower())
    if not match:
        close = difflib.get_close_matches(name.lower(), PRESETS, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise VitbenchError(
            f"unknown model {name!r}; {hint}valid: vit_{{ti,s,b,l,h}}<patch> or deit_{{ti,s,b}}<patch> "
            f"(see `vitbench models`)"
        )
    family, size, patch = match.group(1), match.group(2), int(match.group(3))
    if family == "deit" and size not in ("ti", "s", "b"):
        raise VitbenchError(f"unknown model {name!r}; DeiT comes in ti, s and b (e.g. deit_b16)")
    if patch <= 0:
        raise VitbenchError(f"patch must be a positive integer, got {patch} in {name!r}")
    dim, depth, heads = SIZES[size]
    res = snap_res(224, patch)
    return ViTConfig(name=match.group(0), patch=patch, img_size=(res, res), dim=dim, depth=depth,
                     heads=heads, distill=FAMILIES[family])


def resolve(
    model: str,
    res: str | int | tuple[int, int] | None = None,
    **overrides,
) -> ViTConfig:
    """A preset with CLI-style overrides applied (None means keep the preset's value).

    Override keys: patch, dim, depth, heads, mlp_ratio, num_classes, pool, registers, distill.
    """
    base = preset(model)
    changes = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(changes) - {f.name for f in dataclasses.fields(ViTConfig)}
    if unknown:
        raise VitbenchError(f"unknown override(s): {', '.join(sorted(unknown))}")
    if res is not None:
        changes["img_size"] = res if isinstance(res, tuple) else parse_res(res)
    return base.replace(**changes) if changes else base

