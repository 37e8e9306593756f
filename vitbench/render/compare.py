"""Rendering a `vitbench.verdicts.Comparison`: a rich table (worst first, grouped by point) and PR-ready markdown.
No torch.

By default the table lists every finding that is not "ok" plus every timing and memory finding (their deltas
are worth seeing within limits too); exact metrics that did not change are only counted. Numbers never wrap or
get cut: value columns do not wrap, the point labels and verdict notes do, so the table reads at 80 columns.
Changes are (candidate − baseline) / baseline of the value; a bracketed pair under a timing change is its
bootstrap confidence interval (or, for `vitbench ab`, the paired t interval over its repeats), ± the combined
spread of the two runs (the fallback rule).
"""

from __future__ import annotations

import textwrap

from rich import box
from rich.table import Table
from rich.text import Text

from vitbench.render import fmt_int, fmt_pct
from vitbench.schema import BY_NAME, EXACT_COLUMNS
from vitbench.verdicts import NOISY_METRICS, VERDICTS, Comparison, Finding

STYLES = {"regression": "bold red", "inconclusive": "magenta", "improved": "green", "changed": "yellow",
          "noise": "yellow", "ok": "dim"}
SHORT = {"latency_ms_median": "latency", "throughput_ips": "throughput", "mem_peak_mib": "peak mem"}


ORDER = ("config", "status") + EXACT_COLUMNS + NOISY_METRICS


def shown(result: Comparison, show_all: bool = False) -> list[Finding]:
    """The findings worth a table row: points ordered by their worst finding, each point's findings together,
    by verdict and then in a fixed metric order (config, status, exact, latency, throughput, memory)."""
    ordered = [f for f in result.sorted_findings()
               if show_all or f.verdict != "ok" or f.metric not in EXACT_COLUMNS]
    first, rank = {}, {v: i for i, v in enumerate(VERDICTS)}
    for i, f in enumerate(ordered):
        first.setdefault(f.label, i)
    return sorted(ordered, key=lambda f: (first[f.label], rank[f.verdict], ORDER.index(f.metric)))


def metric_name(metric: str) -> str:
    return SHORT.get(metric, metric)


def _number(value: float, unit: str) -> str:
    digits = 3 if value < 10 else 2 if value < 100 else 1 if value < 1000 else 0
    return f"{value:,.{digits}f} {unit}"


def fmt_value(metric: str, value) -> str:
    """A value with its unit: exact integers in full, timings to 3-4 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if metric in EXACT_COLUMNS:
        return fmt_int(int(value))
    if metric == "mem_peak_mib":
        return f"{value:,.1f} MiB"
    return _number(value, BY_NAME[metric].unit if metric in BY_NAME else "")


def _pct(fraction: float) -> str:
    """Signed percentage, one decimal below 100 %, none above: +8.1%, -60.0%, +150%."""
    return f"{100 * fraction:+.1f}%" if abs(fraction) < 1 else f"{100 * fraction:+,.0f}%"


def fmt_change(finding: Finding) -> str:
    """The signed relative change; exact metrics to 0.01 %, and below that the absolute difference
    ('+1 (<0.01%)')."""
    if finding.change is None:
        return "-"
    if finding.metric in EXACT_COLUMNS and finding.verdict != "ok":
        if abs(finding.change) >= 5e-5:
            return f"{finding.change:+.2%}"
        return f"{int(finding.candidate) - int(finding.baseline):+,} (<0.01%)"
    return _pct(finding.change)


def fmt_uncertainty(finding: Finding, level: float) -> str:
    """'[+5.2, +11.0] 95% CI' (bootstrap), '±17.9% spread' (the fallback rule) or ''."""
    if finding.interval is not None:
        low, high = (_pct(x).rstrip("%") for x in finding.interval)
        return f"[{low}, {high}] {level:.0%} CI"
    if finding.noise is not None:
        return f"±{fmt_pct(finding.noise)} spread"
    return ""


def verdict_text(finding: Finding) -> str:
    """The verdict and its note; a config change's fields are already in its value cells."""
    if finding.metric == "config":
        return finding.verdict + (" (accepted)" if finding.verdict == "changed" else "")
    return f"{finding.verdict} ({finding.note})" if finding.note else finding.verdict


POINT_MIN, VERDICT_MIN = 8, 12  # narrowest the wrapping columns get (a label word, "inconclusive")


def _row_cells(result: Comparison, f: Finding) -> tuple[str, str, str, str, str]:
    """metric, baseline, candidate, change (with its interval or spread on a second line), verdict."""
    change = fmt_change(f).replace(" (", "\n(")  # '+1 (<0.01%)' on two lines
    if f.interval is not None:
        change += "\n[" + ", ".join(_pct(x).rstrip("%") for x in f.interval) + "]"
    elif f.noise is not None:
        change += f"\n±{fmt_pct(f.noise)}"
    return (metric_name(f.metric), fmt_value(f.metric, f.baseline), fmt_value(f.metric, f.candidate), change,
            verdict_text(f))


def _width(text: str) -> int:
    return max(len(line) for line in text.split("\n"))


def comparison_table(result: Comparison, show_all: bool = False, width: int | None = None) -> Table:
    """Rich table of the findings, worst point first; the point label on its first row only. When the values
    would not fit in `width` columns beside each other, baseline and candidate share one column (two lines)."""
    findings = shown(result, show_all)
    cells = [_row_cells(result, f) for f in findings]
    fixed = [max([_width(c[i]) for c in cells] + [len(h)]) for i, h in
             enumerate(("metric", "baseline", "candidate", "change"))]
    stacked = width is not None and sum(fixed) + POINT_MIN + VERDICT_MIN + 2 * 5 > width
    table = Table(title=f"{result.baseline_path} → {result.candidate_path}", title_justify="left",
                  box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
    table.add_column("point", overflow="fold", ratio=2, min_width=POINT_MIN)
    table.add_column("metric", no_wrap=True)
    for name in (("baseline\n→ candidate",) if stacked else ("baseline", "candidate")) + ("change",):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("verdict", overflow="fold", ratio=3, min_width=VERDICT_MIN)
    previous = None
    for f, (metric, base, cand, change, verdict) in zip(findings, cells):
        style = STYLES[f.verdict]
        values = (f"{base}\n→ {cand}",) if stacked else (base, cand)
        table.add_row("" if f.label == previous else f.label, metric, *values, Text(change, style=style),
                      Text(verdict, style=style))
        previous = f.label
    return table


def fmt_limit(fraction: float) -> str:
    return f"{100 * fraction:g}%"


def _limits(result: Comparison) -> str:
    return ", ".join(f"{metric_name(m)} {fmt_limit(t)}" for m, t in result.thresholds.items())


def rule_lines(result: Comparison) -> list[str]:
    """The rule applied, in words: what was matched on, the limits, and what the second line of a change is."""
    lines = [f"matched on {', '.join(result.identity)}"
             + (f"; config fields: {', '.join(result.config_fields)}" if result.config_fields else "")]
    methods = {f.method for f in result.findings}
    if result.thresholds:
        parts = [f"limits: {_limits(result)}"]
        if "bootstrap" in methods:
            parts.append(f"[low, high]: {result.level:.0%} bootstrap interval of the change (raw samples)")
        if "paired" in methods:
            parts.append(f"[low, high]: {result.level:.0%} paired t interval of the change over the A/B repeats")
        if "spread" in methods:
            parts.append(f"±: combined spread of the two runs (no raw samples; k = {result.spread_k:g})")
        lines.append("; ".join(parts))
    return lines


def footer_lines(result: Comparison) -> list[str]:
    """Config changes, notes, missing and new rows, and the summary, as plain lines."""
    lines = [f"config changed: {f.label}: {f.note.removeprefix('config changed: ')}"
             for f in result.config_changes()]
    lines += [f"note: {n}" for n in result.notes]
    if result.missing:
        allowed = " (allowed by --allow-missing)" if result.allow_missing else ""
        lines.append(f"missing (in baseline, not in candidate){allowed}: {', '.join(result.missing)}")
    if result.new:
        lines.append(f"new (in candidate only): {', '.join(result.new)}")
    lines.append(result.summary())
    return lines


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _wrap(text: str, width: int = 80) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


def markdown(result: Comparison, show_all: bool = False) -> str:
    """A PR-comment-ready report: the outcome, the rule, the findings table, config changes, missing and new rows.
    Prose is wrapped at 80 columns; table cells are short (units in the cells, the CI beside the change)."""
    strict = " and any change fails (strict)" if result.strict else ", a decrease an improvement"
    rule = (f"Baseline `{result.baseline_path}` vs candidate `{result.candidate_path}`, matched on "
            f"{', '.join(result.identity)}. A changed architecture field under the same point is a config "
            f"change. Exact metrics: an increase is a regression{strict}.")
    if result.thresholds:
        limits = _limits(result)
        if any(f.method == "paired" for f in result.findings):
            rule += (f" Timings and memory: a regression is worse than its limit ({limits}) over the whole "
                     f"{result.level:.0%} paired t interval of the A/B repeats.")
        else:
            rule += (f" Timings and memory: a regression is worse than its limit ({limits}); with raw samples the "
                     f"whole {result.level:.0%} bootstrap interval must lie beyond it, otherwise the change must "
                     f"also exceed {result.spread_k:g}× the combined spread of the two runs.")
    lines = [f"### vitbench compare: {result.summary()}", "", *_wrap(rule), ""]
    rows = shown(result, show_all)
    if rows:
        lines += ["| point | metric | baseline | candidate | change | verdict |", "|---|---|--:|--:|--:|---|"]
        for f in rows:
            verdict = verdict_text(f)
            verdict = f"**{verdict}**" if f.verdict == "regression" else verdict
            change = " ".join(filter(None, (fmt_change(f), fmt_uncertainty(f, result.level))))
            cells = (f.label, metric_name(f.metric), fmt_value(f.metric, f.baseline),
                     fmt_value(f.metric, f.candidate), change, verdict)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    unchanged = sum(f.verdict == "ok" and f.metric in EXACT_COLUMNS for f in result.findings)
    if unchanged and not show_all:
        lines += [f"{unchanged} exact values unchanged.", ""]
    for f in result.config_changes():
        lines += _wrap(f"**Config changed** ({f.verdict}): {f.label}: {f.note.removeprefix('config changed: ')}")
        lines.append("")
    if result.missing:
        allowed = " (allowed)" if result.allow_missing else ""
        lines += [*_wrap(f"**Missing**{allowed} (in baseline, not in candidate): {', '.join(result.missing)}"), ""]
    if result.new:
        lines += [*_wrap(f"**New** (in candidate only): {', '.join(result.new)}"), ""]
    for n in result.notes:
        lines += [*_wrap(f"> note: {n}"), ""]
    return "\n".join(lines)

