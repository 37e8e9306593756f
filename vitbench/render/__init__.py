"""Rich rendering: rows and records -> rich tables. Measurement and storage never print; the CLI calls these."""

from __future__ import annotations

import sys

from rich.console import Console

PIPE_WIDTH = 160  # columns when output is not a terminal (files, CI logs, CliRunner): never truncate numbers


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)


def fmt_int(value: int | None) -> str:
    """Exact integer with thousands separators ('-' for missing)."""
    return "-" if value is None else f"{value:,}"


def fmt_si(value: float | None, unit: str = "") -> str:
    """Scaled with an SI prefix: 17.56 G, 86.57 M (3-4 significant digits)."""
    if value is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:g} {unit}".rstrip()


def fmt_pct(fraction: float | None, digits: int = 1) -> str:
    return "-" if fraction is None else f"{100 * fraction:.{digits}f}%"
