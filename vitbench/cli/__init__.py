"""The `vitbench` command. Each command group lives in its own module and registers on the shared app.

Start-up stays light: command modules import torch only inside the commands that need it.
"""

from vitbench.cli.app import app
from vitbench.cli import cost_cmds  # noqa: F401  (registers models, params, flops, split)


def main() -> None:
    app()


__all__ = ["app", "main"]
