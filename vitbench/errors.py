"""The one exception type the CLI turns into a one-line message and exit code 2, and how a message quotes a
value: one line, bounded length, bounded cost whatever the value (a YAML alias bomb, a 1 MB cell)."""

from __future__ import annotations

import reprlib
from typing import Any

ECHO_CHARS = 80  # longest value quoted in an error message
MESSAGE_CHARS = 400  # longest message taken over from elsewhere (another module's error, a library's)


class VitbenchError(ValueError):
    """Bad input or an impossible request; the message says what was wrong and what would be valid."""


def one_line(text: str, limit: int = 300) -> str:
    """First non-empty line of a message, cut to `limit` characters (for rows and one-line errors)."""
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (Slurm time limit, `timeout`, `docker stop`): stop like Ctrl-C, exit 143."""


def raise_terminated(_signum=None, _frame=None) -> None:
    """A SIGTERM handler: turn the signal into `Terminated` (every run then stops as on Ctrl-C)."""
    raise Terminated()


class Stopped(Exception):
    """A run stopped by SIGINT or SIGTERM: `message` says what was kept and how to resume; the CLI prints it and
    exits with `exit_code` (130 or 143)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict, _REPR.maxset = 2, 4, 4, 4, 4
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = ECHO_CHARS - 2, ECHO_CHARS, 40


def echo(value: Any) -> str:
    """A value as an error message quotes it: its repr with nested containers and long strings abbreviated
    ('...', reprlib), at most ECHO_CHARS characters, one line."""
    return clip(_REPR.repr(value), ECHO_CHARS)


def clip(text: Any, limit: int = MESSAGE_CHARS) -> str:
    """`text` on one line (line breaks folded to ' | '), cut to `limit` characters with '...'."""
    text = str(text)
    if "\n" in text or "\r" in text:
        text = " | ".join(part.strip() for part in text.splitlines() if part.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."
