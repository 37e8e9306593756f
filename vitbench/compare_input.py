"""One result file as the regression gate reads it: its rows with where each one is, metric and spread columns
checked and as numbers, statuses, the σ of each row's iterations, and its raw latency samples matched to their
rows. No torch.

Checks (bad input: a one-line VitbenchError naming the file, row and column): an exact value (schema.EXACT_COLUMNS)
is a finite whole number >= 0, read as a Python int (beyond float precision); a timing or memory value a finite
number > 0; a spread (IQR, p10, p90) a finite number >= 0. Raw samples are finite and > 0, as many as the row's
n_iters, with the row's latency_ms_median as their median. σ = IQR / 1.349, or (p90 − p10) / 2.563 without an IQR.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from vitbench import samples as samples_io
from vitbench.errors import VitbenchError
from vitbench.measure.stats import percentile
from vitbench.results_io import as_text, read_table, row_key
from vitbench.runmeta import RunLoad
from vitbench.schema import EXACT_COLUMNS
from vitbench.verdicts import NOISY_METRICS

IQR_PER_SIGMA = 1.349  # IQR of a normal distribution, in standard deviations
P90_P10_PER_SIGMA = 2.563  # p90 - p10 of a normal distribution, in standard deviations
_WHOLE = re.compile(r"^\s*\d+\s*$")


def frame(rows: list[dict]) -> pd.DataFrame:
    """In-memory rows (e.g. from `schema.make_row`) as the string table `compare` takes; None -> ''."""
    return as_text(rows)


def load_rows(path: str | Path) -> pd.DataFrame:
    """A result file (.csv or .json rows) as strings ('' when empty), with a `_row` column saying where each
    row is ('line 7' of a CSV, 'row 3' of JSON rows)."""
    df = read_table(path, text=True)
    if df.empty:
        raise VitbenchError(f"{path} has no rows")
    where = "line {}" if Path(path).suffix == ".csv" else "row {}"
    first = 2 if Path(path).suffix == ".csv" else 1  # a CSV's line 1 is its header
    return df.assign(_row=[where.format(i + first) for i in range(len(df))])


def load_samples(results: str | Path) -> dict[str, np.ndarray]:
    """The latency samples beside a results file ({} when it has none), by row key digest."""
    return samples_io.by_key(samples_io.path_for(results))


_CHECKS = {  # rule name -> (what it must be, test on a float)
    "exact": ("a finite whole number >= 0", lambda x: math.isfinite(x) and x >= 0 and float(x).is_integer()),
    "positive": ("a finite number > 0", lambda x: math.isfinite(x) and x > 0),
    "spread": ("a finite number >= 0", lambda x: math.isfinite(x) and x >= 0),
}


def _rule(column: str) -> str:
    return "exact" if column in EXACT_COLUMNS else "positive" if column in NOISY_METRICS else "spread"


def _where(df: pd.DataFrame, idx) -> str:
    """'line 7' (CSV), 'row 3' (JSON rows or in-memory rows)."""
    return df.at[idx, "_row"] if "_row" in df.columns else f"row {df.index.get_loc(idx) + 1}"


def _bad(path: str, df: pd.DataFrame, idx, column: str, value: str, expected: str) -> VitbenchError:
    where = _where(df, idx)
    model = str(df.at[idx, "model"]).strip() if "model" in df.columns else ""
    return VitbenchError(f"{path} {where}{f' ({model})' if model else ''}, column {column}: {value!r} is not "
                         f"{expected}")


def _column(df: pd.DataFrame, column: str, path: str) -> pd.Series:
    """A metric or spread column as numbers (NaN when empty; exact columns as Python ints), checked by its rule."""
    expected, ok = _CHECKS[_rule(column)]
    out = pd.Series(np.nan, index=df.index, dtype=object)
    if column not in df.columns:
        return out
    for idx, raw in df[column].astype(str).str.strip().items():
        if raw == "":
            continue
        try:
            value = float(raw)
        except ValueError:
            raise _bad(path, df, idx, column, raw, "a number") from None
        if not ok(value):
            raise _bad(path, df, idx, column, raw, expected)
        out[idx] = (int(raw) if _WHOLE.match(raw) else int(value)) if column in EXACT_COLUMNS else value
    return out


def is_missing(value) -> bool:
    """An empty cell, as `Side` holds it (None or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


class Side:
    """One file's rows, keyed by identity, as checked numbers, statuses, spreads, samples and its run's load."""

    def __init__(self, df: pd.DataFrame, metrics: tuple[str, ...], path: str, samples: dict | None,
                 samples_name: str, load: RunLoad | None, labels: dict):
        self.df, self.path, self.load = df, path, load
        self.rows = dict(zip(df.index, df.to_dict("records")))
        self.values = {m: _column(df, m, path) for m in metrics}
        self.status = (df["status"].astype(str).str.strip().replace("", "ok") if "status" in df.columns
                       else pd.Series("ok", index=df.index))
        self.median = _column(df, "latency_ms_median", path).astype(float)
        self.sigma = _column(df, "latency_ms_iqr", path).astype(float) / IQR_PER_SIGMA
        if "latency_ms_p10" in df.columns and "latency_ms_p90" in df.columns:
            tails = (_column(df, "latency_ms_p90", path).astype(float)
                     - _column(df, "latency_ms_p10", path).astype(float)) / P90_P10_PER_SIGMA
            self.sigma = self.sigma.fillna(tails)
        self.n_iters = _column(df, "n_iters", path)
        self.samples = self._match_samples(samples or {}, samples_name, labels)

    def _match_samples(self, by_digest: dict, name: str, labels: dict) -> dict:
        """{row index: latency samples} for ok rows that have them, each checked against its row."""
        out = {}
        if not by_digest:
            return out
        for idx, row in self.rows.items():
            values = by_digest.get(samples_io.digest(row_key(row)))
            if values is None or self.status[idx] != "ok":
                continue
            where = f"{name}: the samples of {self.path} {_where(self.df, idx)} ({labels[idx]})"
            if not (np.isfinite(values).all() and (values > 0).all()) or values.size == 0:
                raise VitbenchError(f"{where} hold a value that is not a finite number > 0")
            n = self.n_iters[idx]
            if not is_missing(n) and int(n) != values.size:
                raise VitbenchError(f"{where} are {values.size} values but the row says n_iters {int(n)}")
            median = self.median[idx]
            if not is_missing(median) and percentile(values, 50) != median:
                raise VitbenchError(f"{where} have median {percentile(values, 50)!r} but the row says "
                                    f"latency_ms_median {float(median)!r}: they are not this row's samples")
            out[idx] = values
        return out

    def rel_iqr(self, idx) -> float:
        """IQR / median of the row's iterations (from the p10-p90 width when there is no IQR); NaN if unknown."""
        return self.sigma[idx] * IQR_PER_SIGMA / self.median[idx] if self.median[idx] > 0 else math.nan

    def rel_sigma(self, idx) -> float:
        """σ / median of the row's iterations (the spread rule's s); NaN if either is unknown."""
        return self.sigma[idx] / self.median[idx]
