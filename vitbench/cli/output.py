"""Where a command's tables and rows go: tables to stdout (stderr when rows go to stdout with `-`), rows to
`--csv` / `--json` files (atomically, with the `.meta.json` sidecar) or to stdout."""

from __future__ import annotations

from typing import Sequence

from vitbench.cli.options import to_stdout
from vitbench.environment import environment, now_iso
from vitbench.render import console
from vitbench.storage import STDOUT, metadata, sidecar_path, write_rows


def emit(kind: str, rows: list[dict], chosen: list[tuple[str, str]], renderables: Sequence, *,
         columns: Sequence[str], settings: dict, start: str | None = None, env: dict | None = None) -> None:
    """Print the tables, then write the rows where --csv / --json asked (a sidecar beside every file)."""
    out = console(stderr=to_stdout(chosen))
    for item in renderables:
        out.print(item)
    if not chosen:
        return
    meta = metadata(kind, "", settings=settings, environment=env or environment(with_torch=False),
                    start=start or now_iso(), end=now_iso(), status="complete")
    for fmt, path in chosen:
        if path == STDOUT:
            write_rows(rows, path, fmt, columns=columns)
        else:
            write_rows(rows, path, fmt, {**meta, "output": path}, columns=columns)
            out.print(f"wrote {path} (+ {sidecar_path(path).name})")
