"""`vitbench plot` and `vitbench report`: figures and a markdown report from a results CSV. No torch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.cli.options import FigureFormat, value
from vitbench.render import console

ResultsArg = Annotated[Path, typer.Argument(help="Results file (.csv or .json) written by vitbench, e.g. by `sweep`.",
                                            show_default=False)]
FormatOpt = Annotated[FigureFormat, typer.Option("--format", help="Figure format.")]


def _print_plots(result) -> None:
    out = console()
    for fig in result.made:
        out.print(f"wrote {fig.path}")
    for name, skip in result.skipped:
        out.print(f"[dim]skipped {name}: {skip.reason}[/]")


@app.command()
def plot(
    results: ResultsArg,
    out: Annotated[Optional[Path], typer.Option("--output", "-o", help="Folder for the figures "
                                                "(default: <results stem>_plots next to the results file).")] = None,
    fmt: FormatOpt = FigureFormat.png,
) -> None:
    """Draw the figures a results file supports, and say which were skipped and why.

    MACs vs tokens by component; attention share vs resolution; latency, throughput, memory vs tokens; MFU vs batch."""
    from vitbench.errors import VitbenchError
    from vitbench.figures.output import plot_results
    from vitbench.results_frame import load_results

    fmt = value(fmt)
    df = load_results(results)
    result = plot_results(df, out or results.with_name(f"{results.stem}_plots"), fmt)
    _print_plots(result)
    if not result.made:
        raise VitbenchError(f"no figure could be drawn from {results}: every figure needs >= 2 points on a line "
                            f"(see the reasons above)")


@app.command()
def report(
    results: ResultsArg,
    out: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Markdown file to write; figures go to <its stem>_files/ beside it "
                            "(default: <results stem>_report.md).")] = None,
    fmt: FormatOpt = FigureFormat.png,
) -> None:
    """Write a markdown report: environment, findings computed from the rows, summary tables, figures."""
    from vitbench.report import write_report

    fmt = value(fmt)
    result = write_report(results, out or results.with_name(f"{results.stem}_report.md"), fmt)
    _print_plots(result.plots)
    console().print(f"wrote {result.path}")
