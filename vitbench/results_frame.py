"""A results file as a checked, labelled DataFrame, what `vitbench plot` and `vitbench report` read: loading,
value checks, defaults, and the model labels (`arch` column; `with_patch`). No torch.

Reads the CSV (or JSON) rows of vitbench.schema; also the `flops --csv` files (no status column: every
row counts as 'ok'). Rows with status != 'ok' keep their cost columns (used by cost figures) and are left
out of everything measured.

Values are checked on load (`check_values`): every filled cell of a numeric column of the schema is a finite
number >= 0 (an integer where the column is one; the split's rest may be < 0), times of an iteration,
throughput and the config's sizes are > 0, booleans and statuses are ones vitbench writes, and the config
columns describe a possible ViT (ViTConfig.from_row). A bad cell is one VitbenchError naming the file, the row
(CSV: its line in the file; JSON: its position in the list) and the column. Rows without a complete config
(status 'invalid') are left out.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from vitbench.errors import VitbenchError, echo
from vitbench.results_io import read_table
from vitbench.schema import BY_NAME, CONFIG_COLUMNS, STATUSES
from vitbench.zoo import ViTConfig, preset

REQUIRED_COLUMNS = ("model", "patch", "res_h", "res_w", "dim", "depth", "heads", "tokens")
# Columns that identify an architecture (tokens vary with patch and resolution within one).
ARCH_COLUMNS = ("dim", "depth", "heads", "mlp_ratio", "classes", "distill", "registers")
DEFAULTS = {"mlp_ratio": 4.0, "classes": 1000, "pool": "cls", "registers": 0, "distill": False, "status": "ok"}
TEXT_COLUMNS = {"model", "pool", "device", "dtype", "attn", "device_name", "status", "error", "arch", "mode",
                "optimizer"}
BOOL_COLUMNS = ("compile", "distill", "grad_checkpoint")


NUMBER_FORMATS = ("int", "float", "ms", "mib", "pct", "s")  # schema formats of numeric columns
# Columns whose every value is > 0 (not just >= 0): what figures divide by or draw on log axes, and the config
# sizes zoo.validate requires positive (so a bad one is named by its column, before from_row).
POSITIVE_COLUMNS = ("patch", "res_h", "res_w", "dim", "depth", "heads", "mlp_ratio", "tokens", "batch",
                    "latency_ms_median", "latency_ms_p10", "latency_ms_p90", "latency_ms_mean", "n_iters",
                    "throughput_ips")
# `--split`'s rest is the median whole forward minus the components' medians: medians do not add, so a fast
# rest can come out below 0 in a genuine file.
SIGNED_COLUMNS = ("time_ms_rest", "time_share_rest")
_BOOLEAN_TEXT = ("true", "false", "1", "0", "1.0", "0.0")
Locate = Callable[[int], str]  # row position in the frame -> 'line 7' / 'row 7'


def load_results(path: str | Path) -> pd.DataFrame:
    """Rows of a results .csv/.json with values checked, defaults filled and an `arch` label column;
    VitbenchError if the file is missing, unreadable, empty, lacks a required column or holds a bad value."""
    df = read_table(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise VitbenchError(f"{path} lacks required column(s) {', '.join(missing)}; a vitbench results file has "
                            f"the config columns {', '.join(REQUIRED_COLUMNS)} (see vitbench.schema)")
    locate = csv_lines(path) if Path(path).suffix != ".json" else None
    check_values(read_table(path, text=True), str(path), locate)  # the cells' own text: 'nan' is not empty
    return prepare(df, str(path), check=False)


def csv_lines(path: str | Path) -> Locate:
    """Row position (0-based, as pandas reads the CSV: blank lines skipped) -> 'line N' of the file (1-based,
    the line the row starts on). The file is scanned only when a row has to be named."""

    def locate(position: int) -> str:
        try:
            with open(path, newline="", encoding="utf-8", errors="replace") as f:
                reader = csv.reader(f)
                next(reader, None)  # header
                seen, start = -1, reader.line_num + 1
                for record in reader:
                    if len(record) > 1 or (record and record[0].strip()):  # pandas skips blank lines only
                        seen += 1
                        if seen == position:
                            return f"line {start}"
                    start = reader.line_num + 1
        except (OSError, csv.Error):
            pass
        return f"data row {position + 1}"

    return locate


def _bad_number(column: str, value) -> Optional[str]:
    """Why a filled cell of a numeric column is not a valid value, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "is not a number"
    if not math.isfinite(number):
        return "is not a finite number"
    if BY_NAME[column].fmt == "int" and not number.is_integer():
        return "is not an integer"
    if column in POSITIVE_COLUMNS and number <= 0:
        return "must be > 0"
    if number < 0 and column not in SIGNED_COLUMNS:
        return "must be >= 0"
    return None


def _shown(value) -> str:
    """A cell as an error quotes it: text quoted (bounded), numbers plain (1.5, inf, -3)."""
    if isinstance(value, str):
        return echo(value)
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def _filled(series: pd.Series) -> pd.Series:
    return series.notna() & (series.astype(str).str.strip() != "")


def check_values(df: pd.DataFrame, source: str = "rows", locate: Optional[Locate] = None) -> None:
    """Raise one VitbenchError for the first bad value (see the module docstring): '<source> line 7, column
    patch: 'abc' is not a number'. `locate(position)` names a row; default 'row N' (1-based)."""
    locate = locate or (lambda position: f"row {position + 1}")
    df = df.reset_index(drop=True)

    def fail(position: int, column: str, why: str) -> None:
        raise VitbenchError(f"{source} {locate(position)}, column {column}: {_shown(df.at[position, column])} {why}")

    for column in df.columns:
        fmt = BY_NAME[column].fmt if column in BY_NAME else None
        if fmt not in NUMBER_FORMATS + ("bool",) and column != "status":
            continue
        cells = df[column][_filled(df[column])]
        if fmt in NUMBER_FORMATS:
            numbers = pd.to_numeric(cells, errors="coerce").astype(float)
            finite = np.isfinite(numbers)
            bad = ~finite | (numbers <= 0 if column in POSITIVE_COLUMNS else
                             numbers < 0 if column not in SIGNED_COLUMNS else False)
            if fmt == "int":
                bad |= finite & (numbers % 1 != 0)
        elif fmt == "bool":
            bad = ~cells.astype(str).str.strip().str.lower().isin(_BOOLEAN_TEXT)
        else:
            bad = ~cells.astype(str).isin(STATUSES)
        if bad.any():
            position = int(bad.idxmax())
            why = (_bad_number(column, df.at[position, column]) if fmt in NUMBER_FORMATS else
                   "is not a boolean (true / false)" if fmt == "bool" else f"is not one of {', '.join(STATUSES)}")
            fail(position, column, why)
    configs = [c for c in CONFIG_COLUMNS if c in df.columns and c != "tokens"]
    if len(configs) < len(CONFIG_COLUMNS) - 1:
        return  # an older or partial file: the columns it has are checked above
    complete = pd.concat([_filled(df[c]) for c in configs], axis=1).all(axis=1)
    if "status" in df:
        complete &= df["status"].astype(str) != "invalid"
    for position, row in df[complete].drop_duplicates(subset=configs).iterrows():
        try:
            ViTConfig.from_row(row)
        except VitbenchError as e:
            raise VitbenchError(f"{source} {locate(position)}: the config columns do not describe a possible "
                                f"ViT: {e}") from None


def prepare(df: pd.DataFrame, source: str = "rows", check: bool = True) -> pd.DataFrame:
    """Values checked (`check_values`, unless the caller did), numeric columns as numbers, defaults filled, rows
    without a config dropped, `arch` label added."""
    if check:
        check_values(df, source)
    df = df.copy()
    for col in df.columns:
        if col not in TEXT_COLUMNS and col not in BOOL_COLUMNS:
            converted = pd.to_numeric(df[col], errors="coerce")
            if converted.notna().sum() >= df[col].notna().sum():  # numeric column: keep as numbers
                df[col] = converted
    for col, value in DEFAULTS.items():
        df[col] = df[col].fillna(value) if col in df else value
    for col in BOOL_COLUMNS:
        if col in df:
            df[col] = df[col].map(lambda v: str(v).strip().lower() in ("true", "1", "1.0"))
    df = df.dropna(subset=list(REQUIRED_COLUMNS))
    if df.empty:
        raise VitbenchError(f"{source} has no rows with a complete config ({', '.join(REQUIRED_COLUMNS)})")
    for col in ("patch", "res_h", "res_w", "dim", "depth", "heads", "tokens", "classes", "registers"):
        df[col] = df[col].astype(int)
    df["status"] = df["status"].astype(str)
    df["arch"] = arch_labels(df)
    return df.reset_index(drop=True)


def _arch_key(df: pd.DataFrame) -> pd.Series:
    return df[[c for c in ARCH_COLUMNS if c in df]].astype(str).agg("|".join, axis=1)


def arch_labels(df: pd.DataFrame) -> pd.Series:
    """A label per architecture: the model name where it has one name and one patch size, else the name stem
    with the patch sizes ('vit_b (P8/14/16/32)'). Width and depth are added where the rows override the
    named preset's (a 'vit_s16' of width 64, depth 2 -> 'vit_s16 D64 L2') or two labels would clash."""
    keys = _arch_key(df)
    labels = {}
    for key, g in df.groupby(keys):
        names = sorted(g["model"].astype(str).unique())
        patches = sorted(g["patch"].unique())
        if len(names) == 1 and len(patches) == 1:
            labels[key] = names[0]
        else:
            stems = "/".join(sorted({re.sub(r"\d+$", "", n) for n in names}))
            labels[key] = f"{stems} (P{'/'.join(map(str, patches))})"
        if _overrides_preset(g.iloc[0]):
            labels[key] += f" D{g.iloc[0]['dim']} L{g.iloc[0]['depth']}"
    clash = pd.Series(labels).duplicated(keep=False)
    for key in clash[clash].index:
        dim, depth = key.split("|")[:2]
        if not labels[key].endswith(f" D{dim} L{depth}"):
            labels[key] += f" D{dim} L{depth}"
    return keys.map(labels)


def _overrides_preset(row) -> bool:
    """True when the row's width, depth, heads or MLP ratio differ from its zoo name's (False for other names)."""
    try:
        base = preset(str(row["model"]))
    except VitbenchError:
        return False
    return (base.dim, base.depth, base.heads, base.mlp_ratio) != (row["dim"], row["depth"], row["heads"],
                                                                  row["mlp_ratio"])


def with_patch(arch: str, patch: int) -> str:
    """The label of one patch size of an architecture: 'vit_b (P8/16/32)' + 8 -> 'vit_b8' (the zoo's
    name grammar); a label that already ends in the patch stays; otherwise ', patch P' is added."""
    multi = re.match(r"^([a-z_]+) \(P[\d/]+\)(.*)$", arch)
    if multi:
        return f"{multi.group(1)}{patch}{multi.group(2)}"
    return arch if re.search(rf"\D{patch}( D\d+ L\d+)?$", arch) else f"{arch}, patch {patch}"
