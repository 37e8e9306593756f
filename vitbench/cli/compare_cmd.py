"""`vitbench compare BASELINE CANDIDATE`: the regression gate. No torch.

Exit codes of `compare`: 0 no regression, 1 regression, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.errors import VitbenchError
from vitbench.render import console


def _write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as e:
        raise VitbenchError(f"cannot write {path}: {e.strerror}") from None


@app.command()
def compare(
    baseline: Annotated[Path, typer.Argument(help="Baseline result file (.csv or .json rows).", show_default=False)],
    candidate: Annotated[Path, typer.Argument(help="Candidate result file (.csv or .json rows).",
                                              show_default=False)],
    max_slowdown: Annotated[str, typer.Option(
        help="Default limit for noisy metrics (latency, throughput, peak memory), in percent.")] = "10%",
    threshold: Annotated[Optional[list[str]], typer.Option(
        help="Per-metric limit NAME=PCT, e.g. latency_ms_median=5% (repeatable).")] = None,
    metrics: Annotated[Optional[list[str]], typer.Option(
        help="Compare only these metrics (repeatable or comma-separated). Default: every exact cost metric and "
             "latency_ms_median, throughput_ips, mem_peak_mib that both files carry.")] = None,
    spread_k: Annotated[float, typer.Option(
        help="A noisy metric regresses only if worse by more than K x the runs' combined spread.")] = 1.0,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Fail on any change of an exact metric (also decreases) and on missing rows.")] = False,
    markdown: Annotated[Optional[Path], typer.Option(
        "--markdown", help="Also write a PR-comment-ready markdown report here.")] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the findings as JSON here.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="List unchanged exact metrics too.")] = False,
) -> None:
    """Regression gate: compare a candidate result file with a baseline (exit 0 pass, 1 regression, 2 bad input).

    Exact cost metrics must not grow; latency, throughput and peak memory must not get worse beyond the limit
    AND (latency, throughput) beyond the combined measured spread of the two runs. See docs/ci.md."""
    from vitbench.compare import compare_files, parse_metrics, parse_pct, parse_thresholds
    from vitbench.render.compare import comparison_table, footer_lines, markdown as to_markdown, shown

    result = compare_files(
        baseline, candidate, max_slowdown=parse_pct(max_slowdown, "--max-slowdown"),
        thresholds=parse_thresholds(threshold or []), metrics=parse_metrics(metrics), strict=strict,
        spread_k=spread_k,
    )
    out = console()
    if shown(result, show_all):
        out.print(comparison_table(result, show_all))
    for line in footer_lines(result):
        style = "bold red" if line.startswith("FAIL") else "bold green" if line.startswith("PASS") else ""
        out.print(f"[{style}]{line}[/]" if style else line, markup=bool(style))
    if markdown is not None:
        _write_text(markdown, to_markdown(result, show_all))
        out.print(f"wrote {markdown}")
    if json_path is not None:
        _write_text(json_path, json.dumps(result.to_dict(), indent=2) + "\n")
        out.print(f"wrote {json_path}")
    if result.failed:
        raise typer.Exit(1)
