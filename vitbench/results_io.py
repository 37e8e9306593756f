"""Result files: how a cell is written, config keys, loading with pandas, merging shards. No torch.

Cells never contain line breaks (they are folded to ' | '), so every row is one line (vitbench.session appends
whole lines). Keys (`row_key`) compare canonical text, so a row read back from a CSV matches the row that was
written.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

import pandas as pd

from vitbench.cells import canonical, format_cell
from vitbench.errors import VitbenchError
from vitbench.storage import write_atomic
from vitbench.schema import ALL_COLUMNS, CONFIG_KEY, EXACT_COLUMNS, KEY_DEFAULTS


def row_key(row: Mapping) -> tuple[str, ...]:
    """The config key (schema.CONFIG_KEY) of a row, canonical text; the join key of resume and merge."""
    return tuple(canonical(row.get(c)) for c in CONFIG_KEY)


def describe_key(key: Sequence[str]) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(CONFIG_KEY, key) if v != "")


# ------------------------------------------------------------------------------------------------ loading

def as_text(rows: list[dict]) -> pd.DataFrame:
    """In-memory rows as a table of exact text, '' for empty (None / NaN) cells."""
    df = pd.DataFrame(rows, dtype=object)
    return df.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))


def read_table(path: str | Path, text: bool = False) -> pd.DataFrame:
    """A vitbench result file, .csv or .json rows, as a DataFrame: typed (numbers as numbers, empty cells NaN),
    or with `text` every cell's exact text ('' when empty). The one reader behind sweep resume, merge, compare,
    plot and report; key columns a file predates get their default (schema.KEY_DEFAULTS). VitbenchError (one line) when the file is missing, unreadable, has no rows or no `model`
    column; callers check the further columns they need."""
    path = Path(path)
    if not path.is_file():
        raise VitbenchError(f"result file {path} not found")
    try:
        if path.suffix == ".json":
            rows = json.loads(path.read_text())
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise ValueError("not a list of rows")
            frame = as_text(rows) if text else pd.DataFrame(rows)
        elif text:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise VitbenchError(f"cannot read {path}: the file is empty, not a vitbench result file") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VitbenchError(f"cannot read {path} as vitbench results (.csv or .json rows): {reason}") from None
    if "model" not in frame.columns:
        raise VitbenchError(f"{path} is not a vitbench result file: missing column(s) model")
    for column, value in KEY_DEFAULTS.items():  # files written before the key column existed
        if column not in frame.columns:
            frame[column] = value
    return frame


def _read(path: Path, text: bool = False) -> pd.DataFrame:
    frame = read_table(path, text)
    missing = [c for c in CONFIG_KEY if c not in frame.columns]
    if missing:
        raise VitbenchError(f"{path} is not a vitbench result CSV: missing column(s) {', '.join(missing)}")
    return frame


def load_results(path: str | Path) -> pd.DataFrame:
    """A result CSV as a typed DataFrame (numbers as numbers, empty cells as NaN)."""
    return _read(Path(path))


def load_text(path: str | Path) -> pd.DataFrame:
    """A result CSV with every cell as its exact text ('' when empty), for keys and exact comparisons."""
    return _read(Path(path), text=True)


# ------------------------------------------------------------------------------------------------ merging

@dataclass(frozen=True)
class MergeReport:
    """rows_in: rows read; exact_duplicates: identical rows dropped; remeasured: rows dropped because another
    row had the same config key and agreed on every exact column (the ok / first one is kept)."""

    files: int
    rows_in: int
    rows_out: int
    exact_duplicates: int
    remeasured: int
    samples: int = 0  # kept rows whose raw samples were carried into the merged samples file


def merge_samples(kept: Sequence[tuple[str | Path, Sequence[str]]], out: str | Path) -> int:
    """Write the raw samples of the kept rows beside `out` (vitbench.samples), each row's from the file that
    row was kept from — the samples of that measurement, never another copy's. `kept`: (results file, row key)
    pairs. Lines are copied byte for byte; a row without samples has none. Atomic; an earlier samples file of
    `out` is replaced (or removed when no row has samples). Returns the rows whose samples were carried."""
    from vitbench import samples

    wanted: dict[Path, set[str]] = {}
    for path, key in kept:
        wanted.setdefault(Path(path), set()).add(samples.digest(key))
    body, carried = [], set()
    for path, digests in wanted.items():
        source = samples.path_for(path)
        if not source.exists():
            continue
        with source.open("rb") as f:
            header = f.readline()
            if header.decode(errors="replace") != samples.HEADER:
                raise VitbenchError(f"{source} is not a vitbench samples file (header {header[:60]!r})")
            for line in f:
                digest = line.split(b",", 1)[0].decode(errors="replace")
                if digest in digests and line.endswith(b"\n"):
                    body.append(line)
                    carried.add((path, digest))
    target = samples.path_for(out)
    if body:
        write_atomic(target, samples.HEADER.encode() + b"".join(body))
    else:
        target.unlink(missing_ok=True)
    return len(carried)


def _conflict(rows: pd.DataFrame, canon: pd.DataFrame) -> Optional[str]:
    for column in (c for c in EXACT_COLUMNS if c in canon.columns):
        seen: dict[str, int] = {}
        for idx, value in canon[column].items():
            if value == "":
                continue
            if seen and value not in seen:
                first = next(iter(seen.items()))
                a, b = rows.loc[first[1]], rows.loc[idx]
                return (f"{a['_file']} line {a['_line']} and {b['_file']} line {b['_line']} have the same config "
                        f"({describe_key(row_key(b))}) but differ in {column}: {first[0]} vs {value}")
            seen.setdefault(value, idx)
    return None


def _best_copy(members: list, canon: pd.DataFrame, exact: list[str]) -> tuple:
    """The copy of a point that merge keeps: status ok first, then the most exact cells filled, then the most
    cells filled, then the first given."""
    def rank(m) -> tuple:
        cells = canon.loc[m]
        ok = "status" in canon.columns and cells["status"] == "ok"
        return (not ok, -sum(cells[c] != "" for c in exact), -sum(v != "" for v in cells), members.index(m))

    return min(members, key=rank)


def merge_files(paths: Sequence[str | Path], out: str | Path, force: bool = False) -> MergeReport:
    """Join result CSVs (e.g. shards) into `out`: drop identical rows; for rows with the same config key that
    agree on schema.EXACT_COLUMNS keep one (status ok first, then the most complete, then the first given) and
    fill the exact cells it lacks from the others (they agree wherever both have a value); refuse
    (VitbenchError) when such rows disagree on an exact column. The kept rows' raw samples go to `out`'s samples
    file first (`merge_samples`). Writes a temporary file in `out`'s folder and renames it (removed on failure);
    `out` must not exist unless `force`."""
    out = Path(out)
    if len(paths) < 1:
        raise VitbenchError("merge needs at least one input CSV")
    if out.exists() and not force:
        raise VitbenchError(f"{out} already exists; choose another -o or pass --force to replace it")
    frames = []
    for p in paths:
        frame = load_text(p)
        frames.append(frame.assign(_file=str(p), _line=range(2, len(frame) + 2)))
    columns = [c for c in ALL_COLUMNS if any(c in f.columns for f in frames)]
    columns += [c for f in frames for c in f.columns if c not in columns and not c.startswith("_")]
    columns = list(dict.fromkeys(columns))
    rows = pd.concat(frames, ignore_index=True).reindex(columns=columns + ["_file", "_line"]).fillna("")
    canon = rows[columns].map(canonical)
    exact_dup = canon.duplicated()
    rows, canon = rows[~exact_dup], canon[~exact_dup]
    keys = [row_key(r) for r in canon.to_dict("records")]
    groups: dict[tuple, list] = {}
    for idx, key in zip(rows.index, keys):
        groups.setdefault(key, []).append(idx)
    exact = [c for c in EXACT_COLUMNS if c in canon.columns]
    keep, remeasured = [], 0
    for members in groups.values():
        if len(members) == 1:
            keep.append(members[0])
            continue
        problem = _conflict(rows.loc[members], canon.loc[members])
        if problem:
            raise VitbenchError(f"{problem}; refusing to merge (these are different measurements of "
                                f"different code or configs, not shards of one sweep)")
        remeasured += len(members) - 1
        best = _best_copy(members, canon, exact)
        for column in exact:
            if canon.at[best, column] == "":
                donor = next((m for m in members if canon.at[m, column] != ""), None)
                if donor is not None:
                    rows.at[best, column] = rows.at[donor, column]
        keep.append(best)
    merged = rows.loc[sorted(keep), columns]
    carried = merge_samples([(rows.at[i, "_file"], row_key(canon.loc[i])) for i in sorted(keep)], out)
    write_atomic(out, merged.to_csv(index=False, lineterminator="\n"))
    return MergeReport(len(paths), sum(len(f) for f in frames), len(merged), int(exact_dup.sum()), remeasured,
                       carried)
