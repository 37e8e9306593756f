"""Raw per-iteration samples of measured rows, stored beside their results file. No torch.

File: `<results stem>.samples.csv` next to `<results stem>.csv` (one samples file per results file). CSV with
the header `key,metric,i,value`, readable with pandas alone:

- `key`: 16 hex digits, the first 64 bits of sha1 over the row's canonical config key
  (`results_io.row_key`, joined with the unit separator U+001F) — `digest(row_key(row))`; key columns added
  after this format (`LATER_KEYS`: optimizer, grad_checkpoint) are left out while they hold their default, so
  samples written before them still match their rows.
- `metric`: what was sampled: `latency_ms` (one timed iteration of the whole batch, milliseconds).
- `i`: 0-based index of the sample in timing order.
- `value`: the sample, written with repr (exact float round trip).

A measured row's samples are appended in one write *before* the row itself is appended to the results file, so
a results row never lacks its samples; a block whose key has no row (a kill between the two writes) is an orphan
that resume and merge drop.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from vitbench.errors import VitbenchError

SUFFIX = ".samples.csv"
COLUMNS = ("key", "metric", "i", "value")
HEADER = ",".join(COLUMNS) + "\n"
LATENCY = "latency_ms"


def path_for(results: str | Path) -> Path:
    """results/x.csv -> results/x.samples.csv"""
    results = Path(results)
    return results.with_name(results.stem + SUFFIX)


LATER_KEYS = ("optimizer", "grad_checkpoint")  # key columns newer than this format (`mode` is as old as it)


@functools.cache
def _key_defaults() -> dict[str, str]:
    from vitbench.cells import canonical
    from vitbench.schema import KEY_DEFAULTS

    return {c: canonical(KEY_DEFAULTS[c]) for c in LATER_KEYS}


def digest(key: Sequence[str]) -> str:
    """The samples-file key of a row, from its canonical config key (results_io.row_key), LATER_KEYS at their
    default left out (module docstring)."""
    from vitbench.schema import CONFIG_KEY

    defaults = _key_defaults()
    kept = [v for c, v in zip(CONFIG_KEY, key) if defaults.get(c, v + "\0") != v]
    return hashlib.sha1("\x1f".join(kept).encode()).hexdigest()[:16]


def lines(key_digest: str, metric: str, values: Iterable[float]) -> bytes:
    """CSV lines (no header) for one row's samples of one metric."""
    return "".join(f"{key_digest},{metric},{i},{float(v)!r}\n" for i, v in enumerate(values)).encode()


def read(path: str | Path) -> pd.DataFrame:
    """A samples file as a DataFrame (key, metric, i, value); VitbenchError when it is not one."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"key": str, "metric": str, "i": "int64", "value": "float64"})
    except (OSError, ValueError, pd.errors.ParserError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VitbenchError(f"cannot read samples file {path}: {reason}") from None
    if tuple(frame.columns) != COLUMNS:
        raise VitbenchError(f"{path} is not a vitbench samples file: columns {', '.join(frame.columns)}, "
                            f"expected {', '.join(COLUMNS)}")
    return frame


def by_key(path: str | Path, metric: str = LATENCY) -> dict[str, np.ndarray]:
    """{key digest: samples in timing order} for one metric; {} when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return {}
    frame = read(path)
    frame = frame[frame["metric"] == metric].sort_values(["key", "i"], kind="stable")
    return {key: group["value"].to_numpy() for key, group in frame.groupby("key", sort=False)}
