"""vitbench.compare_limits: percentages, per-metric thresholds and metric lists as a command line writes them.
No torch."""

import pytest

from vitbench.compare_limits import parse_metrics, parse_pct, parse_thresholds
from vitbench.errors import VitbenchError


def test_parse_pct_and_thresholds():
    assert parse_pct("10%") == pytest.approx(0.10) and parse_pct("2.5") == pytest.approx(0.025)
    assert parse_thresholds(["latency_ms_median=5%", "mem_peak_mib = 20"]) == pytest.approx(
        {"latency_ms_median": 0.05, "mem_peak_mib": 0.20})
    for bad, message in [(["latency_ms_median"], "NAME=PCT"), (["latency_ms_median=fast"], "percentage"),
                         (["latency_ms_median=-5%"], "percentage"), (["params=1%"], "exact metrics take no"),
                         (["latency=5%"], "unknown metric")]:
        with pytest.raises(VitbenchError, match=message):
            parse_thresholds(bad)


def test_parse_metrics():
    assert parse_metrics(["params,macs", "latency_ms_median"]) == ("params", "macs", "latency_ms_median")
    assert parse_metrics(None) is None
    with pytest.raises(VitbenchError, match="unknown metric"):
        parse_metrics(["latency"])
