"""`vitbench compare BASELINE CANDIDATE`: the regression gate. No torch.

Exit codes of `compare`: 0 no regression, 1 regression, 2 bad input (one line on stderr), 3 inconclusive
(only with `--noisy inconclusive`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.render import console
from vitbench.storage import write_atomic


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
        help="Rows without raw samples: a timing regresses only if worse by more than K x the runs' combined "
             "spread.")] = 1.0,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Fail on any change of an exact metric (decreases too) and on values missing from the "
                         "candidate.")] = False,
    allow_missing: Annotated[bool, typer.Option(
        "--allow-missing", help="Do not fail on baseline rows missing from the candidate (still reported).")
                             ] = False,
    accept_config_change: Annotated[bool, typer.Option(
        "--accept-config-change", help="Report a changed architecture field (e.g. depth 12 -> 13) and the "
                                       "differences that follow from it without failing.")] = False,
    allow_env_change: Annotated[bool, typer.Option(
        "--allow-env-change", help="Compare timings across devices or torch thread counts (refused otherwise).")
                                ] = False,
    noisy: Annotated[str, typer.Option(
        help="Timings of noisy rows (load above the CPU count, or IQR above --noisy-spread): 'judge' them as "
             "usual (with a note) or call them 'inconclusive' (exit 3 when nothing else fails).")] = "judge",
    noisy_spread: Annotated[str, typer.Option(
        help="A row whose IQR exceeds this share of its median is noisy.")] = "25%",
    markdown: Annotated[Optional[Path], typer.Option(
        "--markdown", help="Also write a PR-comment-ready markdown report here.")] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the findings as JSON here.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="List unchanged exact metrics too.")] = False,
) -> None:
    """Regression gate: compare a candidate result file with a baseline.

    Exit 0 pass; 1 fail (a worse cost or timing, a config change, a missing row);
    2 bad input; 3 inconclusive (only with --noisy inconclusive). See docs/ci.md."""
    from vitbench.compare import compare_files
    from vitbench.compare_limits import parse_metrics, parse_pct, parse_thresholds
    from vitbench.render.compare import comparison_table, footer_lines, markdown as to_markdown, rule_lines, shown

    result = compare_files(
        baseline, candidate, max_slowdown=parse_pct(max_slowdown, "--max-slowdown"),
        thresholds=parse_thresholds(threshold or []), metrics=parse_metrics(metrics), strict=strict,
        spread_k=spread_k, allow_missing=allow_missing, accept_config_change=accept_config_change,
        allow_env_change=allow_env_change, noisy=noisy, noisy_spread=parse_pct(noisy_spread, "--noisy-spread"),
    )
    out = console()
    if shown(result, show_all):
        out.print(comparison_table(result, show_all, out.width))
        for line in rule_lines(result):
            out.print(line, style="dim", markup=False)
    styles = {"FAIL": "bold red", "PASS": "bold green", "INCONCLUSIVE": "bold magenta"}
    for line in footer_lines(result):
        style = styles.get(line.split(":", 1)[0], "")
        out.print(line, style=style or None, markup=False)
    if markdown is not None:
        write_atomic(markdown, to_markdown(result, show_all))
        out.print(f"wrote {markdown}", markup=False)
    if json_path is not None:
        write_atomic(json_path, json.dumps(result.to_dict(), indent=2) + "\n")
        out.print(f"wrote {json_path}", markup=False)
    if result.exit_code:
        raise typer.Exit(result.exit_code)
