"""How one cell of a result file is written (`format_cell`) and compared across writers (`canonical`). No torch.

The lowest layer of the result files: results_io (keys, loading, merging), samples (the digest of a key) and
session (appending rows) all write and compare cells through these two functions.
"""

from __future__ import annotations

import math


def format_cell(value) -> str:
    """How one value is written: '' for missing, True/False, repr for floats (exact round trip), one line."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(float(value))  # float() first: numpy 2 reprs np.float64(4.0) as 'np.float64(4.0)'
    text = str(value)
    if "\n" in text or "\r" in text:
        return " | ".join(part.strip() for part in text.splitlines() if part.strip())
    return text


def canonical(text) -> str:
    """Text of a cell in a form that compares equal across writers: 4 == 4.0, True == true, nan == ''."""
    text = format_cell(text) if not isinstance(text, str) else text.strip()
    if text.lower() in ("true", "false"):
        return text.lower()
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isnan(number):
        return ""
    return str(int(number)) if number.is_integer() else repr(number)
