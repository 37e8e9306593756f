"""The rows and lines that figures and the report draw from, their legend and title text, and the closed-form
memory bound drawn beside measured memory. No torch, no matplotlib.

A selection returns a DataFrame, or `Skip(reason)` saying why there is nothing to draw. Cost rows keep every
status (cost is known where a measurement failed); measured rows are those with status 'ok'. Memory in MiB.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from vitbench.cost.memory import MIB, peak_lower_bound_bytes
from vitbench.external import is_external
from vitbench.results_frame import ARCH_COLUMNS, with_patch
from vitbench.zoo import ViTConfig

# Columns that may tell the lines of a measured figure apart, in legend order.
SERIES_COLUMNS = ("arch", "mode", "attn", "dtype", "device", "batch", "compile", "optimizer", "grad_checkpoint")
KEY_TITLES = {"arch": "model", "attn": "attention", "dtype": "dtype", "device": "device", "batch": "batch",
              "compile": "compile", "tokens": "tokens", "patch": "patch", "res_h": "height", "res_w": "width",
              "mode": "mode", "optimizer": "optimizer", "grad_checkpoint": "checkpointing"}
Line = tuple[str, pd.DataFrame]  # (legend label, its rows sorted along x)


MEMORY_KIND = {"cuda": "CUDA: peak allocated", "cpu": "CPU: peak RSS of the process"}  # what peak memory is


@dataclass(frozen=True)
class Skip:
    """Why a figure, or a selection of rows, has nothing to draw (one line, shown by `plot` and `report`)."""

    reason: str


def cost_rows(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame | Skip:
    """One row per distinct config with every cost column present (all statuses), or why there is none."""
    missing = [c for c in columns if c not in df or df[c].isna().all()]
    if missing:
        return Skip(f"no values in column(s) {', '.join(missing)}")
    rows = df.dropna(subset=columns)
    return rows.drop_duplicates(subset=[c for c in ARCH_COLUMNS + ("patch", "res_h", "res_w") if c in rows])


def measured_rows(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame | Skip:
    """Rows with status 'ok' and a value in every column, or why there are none."""
    missing = [c for c in columns if c not in df]
    if missing:
        return Skip(f"no {', '.join(missing)} column (no measurement in this file)")
    ok = df[df["status"] == "ok"].dropna(subset=columns)
    if ok.empty:
        return Skip(f"no row with status 'ok' has {', '.join(columns)}")
    return ok


def series(df: pd.DataFrame, x: str, varying: tuple[str, ...] = ()) -> tuple[str, list[Line]]:
    """Lines of a measured figure and the legend title: one line per combination of the SERIES_COLUMNS
    (plus `varying`) that differ between rows, sorted by `x`; lines with < 2 distinct x values are dropped."""
    keys = [c for c in SERIES_COLUMNS + varying if c in df and c != x and df[c].astype(str).nunique() > 1]
    for extra in ("patch", "res_h", "res_w"):  # two rows at one x in a line (patch and resolution both vary)
        if not df.duplicated(subset=[*keys, x]).any():
            break
        keys.append(extra)
    if not keys:
        lines = [(str(df["arch"].iloc[0]), df.sort_values(x))] if df[x].nunique() >= 2 else []
        return "model", lines
    out = []
    for values, g in df.groupby(keys, sort=True):
        values = dict(zip(keys, values if isinstance(values, tuple) else (values,)))
        if g[x].nunique() >= 2:
            if "patch" in values:  # name the patch size through the model: 'vit_b8', not 'patch 8'
                patch = int(values.pop("patch"))
                values = {"arch": with_patch(values.pop("arch", g["arch"].iloc[0]), patch), **values}
            out.append((" · ".join(describe(k, v) for k, v in values.items()), g.sort_values(x)))
    titles = [KEY_TITLES["arch" if k == "patch" else k] for k in keys if not (k == "patch" and "arch" in keys)]
    return " · ".join(dict.fromkeys(titles)), out


def drawn_rows(lines: list[Line]) -> pd.DataFrame:
    """The rows on the lines (a title names these: rows of dropped single-point lines are not drawn)."""
    return pd.concat([g for _, g in lines])


def common_context(df: pd.DataFrame, keys=("model", "device", "dtype", "batch", "attn")) -> str:
    """' · '-joined values that are the same in every row (a title); the varying ones belong in a legend.
    Up to three model labels are listed."""
    parts = []
    for key in keys:
        if key == "model":
            values = sorted(df["arch"].unique())
        elif key == "device" and "device_name" in df and df["device_name"].notna().all():
            values = sorted(df["device_name"].unique())
        else:
            values = sorted({_plain(v) for v in df[key].dropna()}) if key in df else []
        if len(values) == 1 or (key == "model" and len(values) <= 3):
            affixes = {"batch": ("batch ", ""), "attn": ("attn ", ""), "tokens": ("", " tokens")}
            prefix, suffix = affixes.get(key, ("", ""))
            parts.append(prefix + ", ".join(values) + suffix)
    return " · ".join(parts)


def _plain(value) -> str:
    """8.0 -> '8'; other values as text."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def describe(key: str, value) -> str:
    """One legend / heading part: 'batch 8', 'compiled', 'fp16'."""
    if key in ("batch", "tokens"):
        return f"{key} {int(value)}"
    if key in ("res_h", "res_w"):
        return f"{int(value)} px"
    if key == "compile":
        return "compiled" if value else "eager"
    if key == "grad_checkpoint":
        return "checkpointed" if value else "no checkpointing"
    return _plain(value)


def memory_lower_bound_mb(row) -> float | None:
    """A lower bound on the peak memory (MiB) of one point: the measured base (`mem_base_mib`, what was resident
    before the model was built; 0 when absent) + the closed form: the row's `mem_peak_pred_mib`, or where the
    row lacks it `vitbench.cost.memory.peak_lower_bound_bytes` of its config and runtime key (train rows: the
    training step's bound; others: the row's params as weights + the tensors that must be live at once). None
    when the row lacks what it needs (batch, a known dtype), and for timm / torchvision rows (the memory model
    is of vitbench's own ViT)."""
    pred = row.get("mem_peak_pred_mib")
    if pred is None or pd.isna(pred):
        if is_external(str(row.get("model"))):  # the memory model is of vitbench's own ViT (as in the rows)
            return None
        if any(pd.isna(row.get(k)) for k in ("batch", "dtype", "tokens", "dim", "heads")):
            return None
        mode = row.get("mode") if isinstance(row.get("mode"), str) else "infer"
        optimizer = row.get("optimizer") if isinstance(row.get("optimizer"), str) else None
        count = None if pd.isna(row.get("params")) else int(row["params"])
        bound = peak_lower_bound_bytes(ViTConfig.from_row(row), int(row["batch"]), row["dtype"], row.get("attn"),
                                       mode, optimizer, bool(row.get("grad_checkpoint", False)),
                                       str(row.get("device") or "cuda"), count)
        if bound is None:
            return None
        pred = bound / MIB
    base = row.get("mem_base_mib")
    base = 0.0 if base is None or pd.isna(base) else float(base)
    return base + float(pred)
