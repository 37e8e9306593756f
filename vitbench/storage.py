"""Writing and reading result files: CSV / JSON rows plus a `.meta.json` sidecar. No torch.

CSV rows are written in schema order (vitbench.schema) when the rows carry schema columns.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from vitbench.errors import VitbenchError


def _ensure_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VitbenchError(f"cannot create the folder for {path}: {e.strerror}") from None


def sidecar_path(path: str | Path) -> Path:
    """results/x.csv -> results/x.meta.json"""
    path = Path(path)
    return path.with_name(path.stem + ".meta.json")


def write_rows(rows: list[dict], path: str | Path) -> Path:
    """Write rows as CSV or JSON, chosen by the file's suffix (.csv or .json)."""
    path = Path(path)
    _ensure_parent(path)
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=2, default=str) + "\n")
        return path
    if path.suffix != ".csv":
        raise VitbenchError(f"unknown output format {path.suffix!r} for {path}; use .csv or .json")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_metadata(path: str | Path, metadata: dict) -> Path:
    """Write the `.meta.json` sidecar of a result file."""
    meta = sidecar_path(path)
    _ensure_parent(meta)
    meta.write_text(json.dumps(metadata, indent=2, default=str) + "\n")
    return meta
