"""The Typer app and its error handling: every bad input ends in one line on stderr and exit code 2."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click as typer._click; older releases use click itself
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click

from vitbench.errors import VitbenchError


def fail(message: str) -> None:
    """Print one line to stderr and exit 2 (usable from any command)."""
    typer.echo(f"error: {message}", err=True)
    sys.exit(2)


class OneLineErrorGroup(TyperGroup):
    """Runs commands non-standalone so usage errors and VitbenchError become `error: ...` + exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except click.exceptions.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `vitbench`: the help is the answer
                if e.format_message().strip():
                    typer.echo(e.format_message())
                sys.exit(0)
            path = e.ctx.command_path if e.ctx else "vitbench"
            fail(f"{e.format_message()} (see '{path} --help')")
        except click.exceptions.ClickException as e:
            fail(e.format_message())
        except typer.Abort:
            typer.echo("aborted", err=True)
            sys.exit(130)
        except VitbenchError as e:
            fail(str(e))
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=OneLineErrorGroup,
    name="vitbench",
    help="What a Vision Transformer costs: parameters, MACs/FLOPs, the attention/MLP split, latency and memory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
