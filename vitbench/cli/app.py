"""The Typer app and its error handling: every bad input ends in one line on stderr and exit code 2; a run
stopped by SIGINT / SIGTERM prints what it kept and exits 130 / 143."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from typer.core import TyperOption

try:  # typer >= 0.20 vendors click as typer._click; older releases use click itself
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click

from vitbench import __version__
from vitbench.errors import Stopped, Terminated, VitbenchError, one_line


def fail(message: str) -> None:
    """Print one line to stderr and exit 2 (usable from any command)."""
    sys.exit(_error(message))


def _subcommand(group, args: list[str]):
    """The command `args` invoke (walking nested groups such as `baseline update`), and the args after it."""
    cmd, rest = group, list(args)
    while isinstance(cmd, TyperGroup):
        names = [a for a in rest if not a.startswith("-")]
        if not names or cmd.get_command(click.Context(cmd), names[0]) is None:
            return None, []
        rest = rest[rest.index(names[0]) + 1:]
        cmd = cmd.get_command(click.Context(cmd), names[0])
    return cmd, rest


def repeated_option(group, args: list[str]) -> Optional[str]:
    """The first single-valued option given twice (click would silently keep the last), e.g. '--model'."""
    cmd, rest = _subcommand(group, args)
    if cmd is None:
        return None
    for param in cmd.params:
        if not isinstance(param, TyperOption) or param.multiple:
            continue
        names = set(param.opts) | set(param.secondary_opts)
        given = [a for a in rest if a.split("=", 1)[0] in names]
        if len(given) > 1:
            return "/".join([max(param.opts, key=len), *param.secondary_opts])
    return None


class OneLineErrorGroup(TyperGroup):
    """Runs commands non-standalone so usage errors and VitbenchError become `error: ...` + exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        try:
            repeated = repeated_option(self, args)
            if repeated:
                raise VitbenchError(f"{repeated} given more than once; give it once (options that take several "
                                    f"values, like --res and --batch, say so in --help)")
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except HANDLED as e:
            sys.exit(report(e))
        sys.exit(rv if isinstance(rv, int) else 0)


HANDLED = (click.exceptions.ClickException, typer.Abort, Stopped, VitbenchError, MemoryError, ImportError,
           KeyboardInterrupt, BrokenPipeError)


def report(e: BaseException) -> int:
    """Say what ended the command (one line on stderr, or nothing) and return its exit code: 2 bad input,
    130 / 143 interrupted / terminated, a run's own code for Stopped, 0 for help and a closed pipe."""
    if isinstance(e, click.exceptions.UsageError):
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `vitbench`: the help is the answer
            if e.format_message().strip():
                typer.echo(e.format_message())
            return 0
        path = e.ctx.command_path if e.ctx else "vitbench"
        return _error(f"{e.format_message().replace('Value error, ', '')} (see '{path} --help')")
    if isinstance(e, click.exceptions.ClickException):
        return _error(e.format_message())
    if isinstance(e, BrokenPipeError):  # `vitbench ... | head`: the reader left; nothing to report
        sys.stderr.close()
        return 0
    if isinstance(e, (typer.Abort, Stopped, KeyboardInterrupt)):
        return _stopped(e)
    if isinstance(e, MemoryError):
        return _error("out of memory: this process could not allocate (an address-space limit such as `ulimit -v`?)")
    if isinstance(e, ImportError):  # a broken or partial install (torch under a memory limit, a missing wheel)
        what = e.name or ("torch" if "torch" in str(e) else "a module")
        return _error(f"cannot import {what}: {one_line(str(e))}; check the installation "
                      f"(make test / pip install -e .)")
    return _error(str(e))  # VitbenchError


def _error(message: str) -> int:
    typer.echo(f"error: {message}", err=True)
    return 2


def _stopped(e: BaseException) -> int:
    """Ctrl-C / SIGTERM: a run's Stopped says what it kept; outside a run there is nothing to keep."""
    if isinstance(e, Stopped):
        typer.echo(str(e), err=True)
        return e.exit_code
    if isinstance(e, typer.Abort):
        typer.echo("aborted", err=True)
        return 130
    terminated = isinstance(e, Terminated)
    typer.echo("terminated (SIGTERM)" if terminated else "interrupted", err=True)
    return 143 if terminated else 130


app = typer.Typer(
    cls=OneLineErrorGroup,
    name="vitbench",
    help="What a Vision Transformer costs: parameters, MACs/FLOPs, the attention/MLP split, latency and memory.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vitbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None) -> None:
    """What a Vision Transformer costs: parameters, MACs/FLOPs, the attention/MLP split, latency and memory."""
