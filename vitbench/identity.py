"""Which baseline row a candidate row is compared with: identity vs configuration. No torch.

A row's identity is what the user named: the model name, the resolution (res_h, res_w) and the runtime key
without the device (batch, dtype, attn, compile, mode) — plus each architecture field (patch, dim, depth, heads,
mlp_ratio, classes, pool, registers, distill) and the device *only where it tells apart rows of one file that
share the named part* (a patch-size sweep names patch; a suite run on cpu and cuda names the device).

Every other architecture field is configuration: the same identity with another value is a configuration change
(ViT-B/16 grown from 12 to 13 blocks), reported with the fields named, never a missing row plus a new one.

Why the device is not always part of the identity: cost columns do not depend on it and suites say `device:
auto`, so one suite yields cpu rows on a laptop and cuda rows on a GPU runner; those rows are the same point,
their costs must agree, and timing them against each other is refused by `compare` (not silently unmatched).
Columns are compared as canonical text (cells.canonical: 4 == 4.0, True == true).
"""

from __future__ import annotations

import pandas as pd

from vitbench.errors import VitbenchError
from vitbench.cells import canonical
from vitbench.schema import CONFIG_KEY, RUNTIME_KEY_COLUMNS
from vitbench.zoo import preset

NAMED = ("model", "res_h", "res_w") + tuple(c for c in RUNTIME_KEY_COLUMNS if c != "device")
ARCH_FIELDS = tuple(c for c in CONFIG_KEY if c not in NAMED and c not in RUNTIME_KEY_COLUMNS)
SEPARATING = ARCH_FIELDS + ("device",)


def filled(df: pd.DataFrame, column: str) -> bool:
    """The column exists and holds at least one non-empty cell."""
    return column in df.columns and bool((df[column].astype(str).str.strip() != "").any())


def _separating(df: pd.DataFrame, named: list[str], candidates: list[str]) -> set[str]:
    """The candidate columns that take several values among rows sharing the named columns."""
    if not candidates:
        return set()
    canon = df[named + candidates].map(canonical)
    counts = canon.groupby(named, sort=False)[candidates].nunique()
    return {c for c in candidates if (counts[c] > 1).any()}


def identity_columns(base: pd.DataFrame, cand: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(identity columns, configuration columns): the CONFIG_KEY columns filled in both files, split by the rule
    in the module docstring. VitbenchError when the files share no `model` column to match on."""
    present = [c for c in CONFIG_KEY if filled(base, c) and filled(cand, c)]
    if "model" not in present:
        raise VitbenchError("the two files share no filled `model` column to match rows on")
    named = [c for c in NAMED if c in present]
    candidates = [c for c in SEPARATING if c in present]
    separating = _separating(base, named, candidates) | _separating(cand, named, candidates)
    identity = tuple(c for c in CONFIG_KEY if c in named or c in separating)
    config = tuple(c for c in ARCH_FIELDS if c in present and c not in separating)
    return identity, config


def keyed(df: pd.DataFrame, identity: tuple[str, ...], path: str) -> pd.DataFrame:
    """The rows indexed by their identity (canonical text joined by '|'); VitbenchError on a duplicate."""
    df = df.copy()
    df.index = df[list(identity)].map(canonical).agg("|".join, axis=1)
    dup = df.index[df.index.duplicated()]
    if len(dup):
        raise VitbenchError(f"{path} has several rows for the point {dup[0]!r} (matched on "
                            f"{', '.join(identity)}); compare files with one row per point")
    return df


def config_changes(base_row: dict, cand_row: dict, config: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(field, baseline value, candidate value) for each configuration field that differs."""
    out = []
    for c in config:
        b, v = canonical(base_row[c]), canonical(cand_row[c])
        if b != v:
            out.append((c, str(base_row[c]).strip(), str(cand_row[c]).strip()))
    return out


def describe_changes(changes: list[tuple[str, str, str]]) -> str:
    """'depth 12 → 13, dim 768 → 800'"""
    return ", ".join(f"{c} {b} → {v}" for c, b, v in changes)


def _preset_fields(model: str) -> dict:
    """Canonical config columns of a zoo name at 224 px ({} for a name outside the zoo grammar)."""
    try:
        return {k: canonical(v) for k, v in preset(model).to_row().items()}
    except VitbenchError:
        return {}


def labels(keys: pd.DataFrame) -> list[str]:
    """Short labels from the identity columns: model and resolution, identity fields that differ from the model's
    preset, and runtime fields whose value varies across the rows (e.g. 'vit_s16 32 patch=8 batch=2')."""
    vary = {c for c in keys.columns if keys[c].map(canonical).nunique() > 1}
    out = []
    for _, row in keys.iterrows():
        model = str(row.get("model", "?"))
        defaults = _preset_fields(model)
        parts = [model]
        if "res_h" in row and "res_w" in row:
            parts.append(row["res_h"] if canonical(row["res_h"]) == canonical(row["res_w"])
                         else f"{row['res_h']}x{row['res_w']}")
        for c in keys.columns:
            if c in ("model", "res_h", "res_w") or canonical(row[c]) == "":  # e.g. an infer row's optimizer
                continue
            if (canonical(row[c]) != defaults[c]) if c in defaults else c in vary:
                parts.append(f"{c}={row[c]}")
        out.append(" ".join(str(p) for p in parts))
    return out
