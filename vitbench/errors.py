"""The one exception type the CLI turns into a one-line message and exit code 2."""


class VitbenchError(ValueError):
    """Bad input or an impossible request; the message says what was wrong and what would be valid."""
