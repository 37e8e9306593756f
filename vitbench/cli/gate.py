"""What `compare` and `ab` share: the options that set the verdict's rules, and how a verdict is printed and
written (table, rules, footer; markdown and JSON reports, replaced atomically). No torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.storage import write_atomic

MaxSlowdownOpt = Annotated[str, typer.Option(
    help="Default limit for noisy metrics (latency, throughput, peak memory), in percent.")]
ThresholdOpt = Annotated[Optional[list[str]], typer.Option(
    help="Per-metric limit NAME=PCT, e.g. latency_ms_median=5% (repeatable).", show_default=False)]
MetricsOpt = Annotated[Optional[list[str]], typer.Option(
    help="Compare only these metrics (repeatable or comma-separated). Default: every exact cost metric and "
         "latency_ms_median, throughput_ips, mem_peak_mib that both sides carry.", show_default=False)]
StrictOpt = Annotated[bool, typer.Option(
    "--strict", help="Fail on any change of an exact metric (decreases too) and on values missing from the "
                     "candidate.")]
AllowMissingOpt = Annotated[bool, typer.Option(
    "--allow-missing", help="Do not fail on baseline rows missing from the candidate (still reported).")]
AcceptConfigChangeOpt = Annotated[bool, typer.Option(
    "--accept-config-change", help="Report a changed architecture field (e.g. depth 12 -> 13) and the "
                                   "differences that follow from it without failing.")]
MarkdownOpt = Annotated[Optional[Path], typer.Option(
    "--markdown", help="Also write a PR-comment-ready markdown report here.", show_default=False)]
JsonReportOpt = Annotated[Optional[Path], typer.Option(
    "--json", help="Also write the findings as JSON here.", show_default=False)]
ShowAllOpt = Annotated[bool, typer.Option("--all", help="List unchanged exact metrics too.")]

STYLES = {"FAIL": "bold red", "PASS": "bold green", "INCONCLUSIVE": "bold magenta"}


def limits(max_slowdown: str, threshold: Optional[list[str]], metrics: Optional[list[str]]) -> dict:
    """The parsed limit options, as vitbench.compare.compare takes them."""
    from vitbench.compare_limits import parse_metrics, parse_pct, parse_thresholds

    return dict(max_slowdown=parse_pct(max_slowdown, "--max-slowdown"), metrics=parse_metrics(metrics),
                thresholds=parse_thresholds(threshold or []))


def report(result, out, show_all: bool, markdown: Optional[Path], json_path: Optional[Path],
           extra: Optional[dict] = None) -> None:
    """Print the verdict (table, rule lines, footer) on the console `out`, then write the markdown and JSON
    reports (`extra`: more top-level JSON keys) and say where."""
    from vitbench.render.compare import comparison_table, footer_lines, markdown as to_markdown, rule_lines, shown

    if shown(result, show_all):
        out.print(comparison_table(result, show_all, out.width))
        for line in rule_lines(result):
            out.print(line, style="dim", markup=False)
    for line in footer_lines(result):
        out.print(line, style=STYLES.get(line.split(":", 1)[0]), markup=False)
    if markdown is not None:
        write_atomic(markdown, to_markdown(result, show_all))
        out.print(f"wrote {markdown}", markup=False)
    if json_path is not None:
        write_atomic(json_path, json.dumps({**result.to_dict(), **(extra or {})}, indent=2, default=str) + "\n")
        out.print(f"wrote {json_path}", markup=False)
