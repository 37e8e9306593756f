"""Writing result files that are replaced whole, and the `.meta.json` sidecar of every result file. No torch.

Every write here is atomic: the bytes go to a temporary file in the same folder, which then replaces the target
(`os.replace`), so a failed write (disk full, interrupted) leaves the old file — or none — never a cut one.
Files that grow row by row (sweep, bench --csv) are written by vitbench.session instead.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import sys
from pathlib import Path
from typing import BinaryIO, Callable, Sequence

from vitbench.errors import VitbenchError

STDOUT = "-"


def sidecar_path(path: str | Path) -> Path:
    """results/x.csv -> results/x.meta.json"""
    path = Path(path)
    return path.with_name(path.stem + ".meta.json")


def write_atomic(path: str | Path, data: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Create or replace `path` with `data` (bytes, text, or a function that writes to the open binary file):
    into a new file in the same folder (mode 0666 less the umask, as `open` makes files), flushed to disk, then
    renamed over `path`, so `path` is always its old content or the whole new one. On a failure the temporary
    file is removed and the OSError becomes a one-line VitbenchError."""
    path = Path(path)
    write = data if callable(data) else lambda f: f.write(data.encode() if isinstance(data, str) else data)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(21, "it is a folder")
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise VitbenchError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path


def check_writable(path: str | Path) -> None:
    """Fail (one line) before any work when `path` cannot be written: a folder in the way, no permission."""
    path = Path(path)
    if str(path) == STDOUT:
        return
    if path.is_dir():
        raise VitbenchError(f"cannot write {path}: it is a folder; give a file path")
    folder = path.parent if str(path.parent) else Path(".")
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise VitbenchError(f"cannot write {path}: permission denied")


def rows_text(rows: list[dict], fmt: str, columns: Sequence[str] | None = None) -> str:
    """Rows as CSV (columns in order: `columns`, else first-seen) or as a JSON list."""
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str) + "\n"
    columns = list(columns) if columns else list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_rows(rows: list[dict], path: str | Path, fmt: str | None = None, metadata: dict | None = None,
               columns: Sequence[str] | None = None) -> str:
    """Write rows as CSV or JSON (`fmt`, else the file's suffix) to `path` atomically plus its sidecar, or to
    stdout when `path` is '-'. Returns where they went."""
    fmt = fmt or Path(path).suffix.lstrip(".")
    if fmt not in ("csv", "json"):
        raise VitbenchError(f"unknown output format {fmt!r} for {path}; use .csv or .json")
    text = rows_text(rows, fmt, columns)
    if str(path) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return "stdout"
    write_atomic(path, text)
    if metadata is not None:
        write_metadata(path, metadata)
    return str(path)


def metadata(kind: str, output: str | Path, *, settings: dict, environment: dict, start: str,
             end: str | None, status: str, runs: list | None = None, **extra) -> dict:
    """The one sidecar format of every result file: which command wrote it (`kind`), how it was asked for
    (`settings`), what it ran on (`environment`), when, and its status (running, complete, interrupted,
    terminated, failed); runs that append to one file (sweep --resume) list each run."""
    from vitbench import __version__

    meta = {"vitbench": __version__, "kind": kind, "output": str(output), "status": status,
            "settings": settings, "environment": environment, "start": start, "end": end, **extra}
    if runs is not None:
        meta["runs"] = runs
    return meta


def write_metadata(path: str | Path, metadata: dict) -> Path:
    """Write the `.meta.json` sidecar of a result file (atomically)."""
    return write_atomic(sidecar_path(path), json.dumps(metadata, indent=2, default=str) + "\n")


def read_metadata(path: str | Path) -> dict | None:
    """The sidecar of a result file, or None when there is none (or it is not a JSON object)."""
    try:
        data = json.loads(sidecar_path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
