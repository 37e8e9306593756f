"""Rendering a `vitbench.compare.Comparison`: a rich table (worst first, coloured) and PR-ready markdown. No torch.

By default the table lists every finding that is not "ok" plus every noisy-metric finding (their deltas are
worth seeing even when within limits); exact metrics that did not change are only counted in the summary.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from vitbench.compare import Comparison, Finding
from vitbench.schema import EXACT_COLUMNS
from vitbench.render import fmt_int, fmt_pct

STYLES = {"regression": "bold red", "improved": "green", "changed": "yellow", "noise": "yellow", "ok": "dim"}
UNITS = {"latency_ms_median": "ms", "throughput_ips": "img/s", "mem_peak_mib": "MiB"}


def shown(result: Comparison, show_all: bool = False) -> list[Finding]:
    """The findings worth a table row, worst first."""
    return [f for f in result.sorted_findings()
            if show_all or f.verdict != "ok" or f.metric not in EXACT_COLUMNS]


def fmt_value(metric: str, value) -> str:
    """A metric value with its unit: exact integers in full, latency to the microsecond."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if metric in EXACT_COLUMNS:
        return fmt_int(int(value))
    if metric == "latency_ms_median":
        return f"{value:,.3f} ms"
    return f"{value:,.1f} {UNITS.get(metric, '')}".rstrip()


def fmt_change(finding: Finding) -> str:
    """Signed relative change of the value ((cand - base) / base), or the absolute one for exact metrics."""
    if finding.change is None:
        return "-"
    if finding.metric in EXACT_COLUMNS and finding.verdict != "ok":
        tiny = ("+" if finding.change > 0 else "-") + "<0.01%"
        pct = f"{finding.change:+.2%}" if abs(finding.change) >= 5e-5 else tiny
        return f"{int(finding.candidate) - int(finding.baseline):+,} ({pct})"
    return f"{finding.change:+.1%}"


def fmt_spread(finding: Finding) -> str:
    return "-" if finding.noise is None else f"±{fmt_pct(finding.noise)}"


def fmt_limit(finding: Finding) -> str:
    if finding.metric in EXACT_COLUMNS:
        return "exact"
    return "-" if finding.threshold is None else fmt_pct(finding.threshold)


def _verdict_text(finding: Finding) -> str:
    return f"{finding.verdict} ({finding.note})" if finding.note else finding.verdict


def comparison_table(result: Comparison, show_all: bool = False) -> Table:
    """Rich table of the findings, worst first, verdicts coloured."""
    table = Table(title=f"{result.baseline_path} → {result.candidate_path}", title_justify="left")
    for name, justify in (("point", "left"), ("metric", "left"), ("baseline", "right"), ("candidate", "right"),
                          ("change", "right"), ("spread", "right"), ("limit", "right"), ("verdict", "left")):
        table.add_column(name, justify=justify)
    for f in shown(result, show_all):
        style = STYLES[f.verdict]
        table.add_row(f.label, f.metric, fmt_value(f.metric, f.baseline), fmt_value(f.metric, f.candidate),
                      Text(fmt_change(f), style=style), fmt_spread(f), fmt_limit(f),
                      Text(_verdict_text(f), style=style))
    return table


def footer_lines(result: Comparison) -> list[str]:
    """Missing / new rows and the summary, as plain lines."""
    lines = [f"note: {n}" for n in result.notes]
    if result.missing:
        lines.append(f"missing (in baseline, not in candidate): {', '.join(result.missing)}")
    if result.new:
        lines.append(f"new (in candidate only): {', '.join(result.new)}")
    lines.append(result.summary())
    return lines


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def markdown(result: Comparison, show_all: bool = False) -> str:
    """A PR-comment-ready report: a summary heading, the rule, the findings table, missing and new rows."""
    limits = ", ".join(f"{m} {fmt_pct(t)}" for m, t in result.thresholds.items())
    rule = (f"Baseline `{result.baseline_path}` vs candidate `{result.candidate_path}`, joined on "
            f"{', '.join(result.key_columns)}. Exact metrics: an increase is a regression"
            f"{' and any change fails (strict)' if result.strict else ', a decrease an improvement'}.")
    if result.thresholds:
        rule += (f" Noisy metrics: a regression is worse than its limit ({limits}) and than "
                 f"{result.spread_k:g}× the combined spread of the two runs.")
    lines = [f"### vitbench compare: {result.summary()}", "", rule, ""]
    rows = shown(result, show_all)
    if rows:
        lines += ["| point | metric | baseline | candidate | change | spread | limit | verdict |",
                  "|---|---|--:|--:|--:|--:|--:|---|"]
        for f in rows:
            verdict = _verdict_text(f)
            verdict = f"**{verdict}**" if f.verdict == "regression" else verdict
            cells = (f.label, f.metric, fmt_value(f.metric, f.baseline), fmt_value(f.metric, f.candidate),
                     fmt_change(f), fmt_spread(f), fmt_limit(f), verdict)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    unchanged = sum(f.verdict == "ok" and f.metric in EXACT_COLUMNS for f in result.findings)
    if unchanged and not show_all:
        lines += [f"{unchanged} exact values unchanged.", ""]
    if result.missing:
        lines += [f"**Missing** (in baseline, not in candidate): {', '.join(result.missing)}", ""]
    if result.new:
        lines += [f"**New** (in candidate only): {', '.join(result.new)}", ""]
    lines += [f"> note: {n}" for n in result.notes] + ([""] if result.notes else [])
    return "\n".join(lines)
