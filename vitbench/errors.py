"""The one exception type the CLI turns into a one-line message and exit code 2."""


class VitbenchError(ValueError):
    """Bad input or an impossible request; the message says what was wrong and what would be valid."""


def one_line(text: str, limit: int = 300) -> str:
    """First non-empty line of a message, cut to `limit` characters (for rows and one-line errors)."""
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Stopped(Exception):
    """A run stopped by SIGINT or SIGTERM: `message` says what was kept and how to resume; the CLI prints it and
    exits with `exit_code` (130 or 143)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
