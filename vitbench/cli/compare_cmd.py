"""`vitbench compare BASELINE CANDIDATE`: the regression gate. No torch.

Exit codes of `compare`: 0 no regression, 1 regression, 2 bad input (one line on stderr), 3 inconclusive
(only with `--noisy inconclusive`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vitbench.cli import gate
from vitbench.cli.app import app
from vitbench.cli.gate import (AcceptConfigChangeOpt, AllowMissingOpt, JsonReportOpt, MarkdownOpt,
                               MaxSlowdownOpt, MetricsOpt, ShowAllOpt, StrictOpt, ThresholdOpt)
from vitbench.render import console


@app.command()
def compare(
    baseline: Annotated[Path, typer.Argument(help="Baseline result file (.csv or .json rows).", show_default=False)],
    candidate: Annotated[Path, typer.Argument(help="Candidate result file (.csv or .json rows).",
                                              show_default=False)],
    max_slowdown: MaxSlowdownOpt = "10%",
    threshold: ThresholdOpt = None,
    metrics: MetricsOpt = None,
    spread_k: Annotated[float, typer.Option(
        help="Rows without raw samples: a timing regresses only if worse by more than K x the runs' combined "
             "spread.")] = 1.0,
    strict: StrictOpt = False,
    allow_missing: AllowMissingOpt = False,
    accept_config_change: AcceptConfigChangeOpt = False,
    allow_env_change: Annotated[bool, typer.Option(
        "--allow-env-change", help="Compare timings across devices or torch thread counts (refused otherwise).")
                                ] = False,
    noisy: Annotated[str, typer.Option(
        help="Timings of noisy rows (load above the CPU count, or IQR above --noisy-spread): 'judge' them as "
             "usual (with a note) or call them 'inconclusive' (exit 3 when nothing else fails).")] = "judge",
    noisy_spread: Annotated[str, typer.Option(
        help="A row whose IQR exceeds this share of its median is noisy.")] = "25%",
    markdown: MarkdownOpt = None,
    json_path: JsonReportOpt = None,
    show_all: ShowAllOpt = False,
) -> None:
    """Regression gate: compare a candidate result file with a baseline.

    Exit 0 pass; 1 fail (a worse cost or timing, a config change, a missing row);
    2 bad input; 3 inconclusive (only with --noisy inconclusive). See docs/ci.md."""
    from vitbench.compare import compare_files
    from vitbench.compare_limits import parse_pct

    result = compare_files(
        baseline, candidate, **gate.limits(max_slowdown, threshold, metrics), strict=strict, spread_k=spread_k,
        allow_missing=allow_missing, accept_config_change=accept_config_change, allow_env_change=allow_env_change,
        noisy=noisy, noisy_spread=parse_pct(noisy_spread, "--noisy-spread"))
    gate.report(result, console(), show_all, markdown, json_path)
    if result.exit_code:
        raise typer.Exit(result.exit_code)
