"""Rich rendering: rows and records -> rich tables. Measurement and storage never print; the CLI calls these.

Tables fit 80 columns without cutting a number: they use a compact box, numbers never wrap or get an ellipsis
(text columns fold instead), and wide tables keep their optional columns for `--wide`. The console is as wide
as the terminal, or $COLUMNS, or PIPE_WIDTH (160) columns when output goes to a file or pipe.
"""

from __future__ import annotations

import os
import sys

from rich import box
from rich.console import Console
from rich.table import Table

PIPE_WIDTH = 160  # columns when output is not a terminal and $COLUMNS is unset (files, CI logs, CliRunner)


class _Console(Console):
    """Plain text lines (messages, progress) wrap at spaces, never inside a word, on a terminal or when $COLUMNS
    asks for a width; in files and CI logs they stay whole (one line per message: grep finds it). A line that
    holds a path is never wrapped, so the path can be copied."""

    wrap_text = True

    def print(self, *objects, **kwargs) -> None:
        if not objects or not all(isinstance(o, str) for o in objects) or "soft_wrap" in kwargs:
            return super().print(*objects, **kwargs)
        if not self.wrap_text:
            return super().print(*objects, soft_wrap=True, **kwargs)
        from rich._wrap import divide_line
        from rich.text import Text

        markup = kwargs.pop("markup", True)
        source = " ".join(objects)
        text = Text.from_markup(source) if markup else Text(source)
        width = max(self.width, 20)
        for line in text.split("\n", allow_blank=True):
            if any("/" in word and len(word) > 12 for word in line.plain.split()):  # a path: keep the line whole
                super().print(line, soft_wrap=True, **kwargs)
                continue
            for part in line.divide(divide_line(line.plain, width, fold=False)):
                part.rstrip()
                super().print(part, soft_wrap=True, **kwargs)


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if os.environ.get("COLUMNS", "").isdigit():
        width = int(os.environ["COLUMNS"])
    elif not stream.isatty():
        width = PIPE_WIDTH
    out = _Console(file=stream, highlight=False, width=width)
    out.wrap_text = stream.isatty() or width != PIPE_WIDTH
    return out


class CompactTable(Table):
    """A table that never cuts a number: when it is rendered, every number column (right-aligned) gets a minimum
    width of its widest cell, so a narrow console folds headers and text columns instead of printing '…'."""

    def __rich_console__(self, console, options):
        from rich.text import Text

        for column in self.columns:
            if column.justify == "right":
                widths = [Text.from_markup(c).cell_len if isinstance(c, str) else 0 for c in column._cells]
                column.min_width = max([*widths, column.min_width or 0])
        return super().__rich_console__(console, options)


def new_table(title: str | None = None, caption: str | None = None) -> Table:
    """A compact table (no vertical rules: 2 columns of padding per column) that folds text, never numbers."""
    return CompactTable(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left",
                        caption_justify="left", collapse_padding=True)


def add_columns(table: Table, names: list[str], text: set[str] | tuple = ()) -> None:
    """Columns named `names`: those in `text` left-aligned and folding; the rest right-aligned numbers that are
    never wrapped or cut (CompactTable); every header may wrap at its spaces."""
    for name in names:
        table.add_column(name, justify="left" if name in text else "right", overflow="fold")


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
