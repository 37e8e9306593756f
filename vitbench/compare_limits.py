"""The gate's limits and metric choice as a command line writes them: percentages ('10%' or '10' -> 0.10), per-metric
thresholds (NAME=PCT, noisy metrics only) and lists of metric names. No torch."""

from __future__ import annotations

import re

from vitbench.errors import VitbenchError
from vitbench.schema import EXACT_COLUMNS
from vitbench.verdicts import METRICS, NOISY_METRICS

_PCT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*$")


def parse_pct(text: str, what: str = "threshold") -> float:
    """'10%' or '10' -> 0.10 (always percent)."""
    match = _PCT.match(str(text))
    if not match:
        raise VitbenchError(f"{what} must be a non-negative percentage like 10% or 2.5%, got {text!r}")
    return float(match.group(1)) / 100


def parse_thresholds(items: list[str]) -> dict[str, float]:
    """['latency_ms_median=5%', ...] -> {'latency_ms_median': 0.05}; only noisy metrics take a threshold."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise VitbenchError(f"--threshold takes NAME=PCT (e.g. latency_ms_median=5%), got {item!r}")
        if name not in NOISY_METRICS:
            exact = " (exact metrics take no threshold)" if name in EXACT_COLUMNS else ""
            raise VitbenchError(f"--threshold: unknown metric {name!r}{exact}; valid: {', '.join(NOISY_METRICS)}")
        out[name] = parse_pct(value, f"--threshold {name}")
    return out


def parse_metrics(items: list[str] | None) -> tuple[str, ...] | None:
    """Repeated and/or comma-separated metric names -> a tuple (None: every metric both files carry)."""
    names = [n.strip() for item in items or () for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise VitbenchError(f"unknown metric(s) {', '.join(unknown)}; valid: {', '.join(METRICS)}")
    return tuple(dict.fromkeys(names)) or None
