"""`vitbench baseline update SUITE`: re-record a committed baseline on purpose (vitbench.runs.record_baseline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.render import console

BASELINE_DIR = Path("results/baselines")

baseline_app = typer.Typer(help="Committed baselines for `vitbench compare` (results/baselines/).",
                           no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("update")
def update(
    suite: Annotated[Path, typer.Argument(help="Suite YAML to run (e.g. suites/ci_smoke.yaml).", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", show_default=False, help="Baseline CSV. "
                      "[default: results/baselines/<suite name>.csv]")] = None,
    device: Annotated[Optional[str], typer.Option(show_default=False, help="Override the suite's device: auto | "
                                                  "cpu | cuda | cuda:N.")] = None,
) -> None:
    """Run a suite (as `vitbench sweep`) and replace the baseline with it, only if every point ran ok."""
    from vitbench.render.sweep import SweepProgress
    from vitbench.runs import record_baseline
    from vitbench.storage import sidecar_path
    from vitbench.suite import load_suite

    out = console()
    target = output if output is not None else BASELINE_DIR / f"{load_suite(suite).suite.name}.csv"
    rows = record_baseline(suite, target, device, on_start=lambda header, notes: out.print(header),
                           listener_for=lambda todo, n, skip: SweepProgress(out, todo, n, skip))
    out.print(f"baseline updated: {target} ({rows} rows) and {sidecar_path(target)}; review the diff and commit "
              f"both")
