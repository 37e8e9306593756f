"""vitbench.verdicts: the exact, bootstrap, spread and threshold rules on hand-computed values, and a
Comparison's outcome. The same rules through compare(): tests/test_compare.py. No torch."""

import math

import pytest

from vitbench.twosample import RatioInterval
from vitbench.verdicts import Comparison, Finding, exact_finding, judge_interval, noisy_finding

KEY = {"model": "vit_ti16"}


def noisy(metric, b, c, iv=None, rel_sigma=(0.1, 0.1), threshold=0.10, k=1.0):
    return noisy_finding(metric, b, c, iv, rel_sigma, threshold, k, "vit_ti16", KEY)


def test_exact_increase_regresses_decrease_improves_unless_strict():
    assert exact_finding("params", 100, 100, "p", KEY, False).verdict == "ok"
    up = exact_finding("params", 100, 110, "p", KEY, False)
    assert (up.verdict, up.change, up.worse, up.method) == ("regression", pytest.approx(0.1), pytest.approx(0.1),
                                                            "exact")
    assert exact_finding("params", 100, 90, "p", KEY, False).verdict == "improved"
    strict = exact_finding("params", 100, 90, "p", KEY, True)
    assert strict.verdict == "regression" and "--strict" in strict.note
    from_zero = exact_finding("macs", 0, 5, "p", KEY, False)
    assert from_zero.change is None and from_zero.worse == 1.0 and from_zero.verdict == "regression"


@pytest.mark.parametrize("cand, expected", [
    (12.0, "regression"),  # worse 0.20 > t = 0.10 and > k·√(0.1² + 0.1²) = 0.141
    (11.2, "noise"),  # worse 0.12: beyond t, within the combined spread
    (10.5, "ok"),
    (8.0, "improved"),  # 10 / 8 - 1 = 0.25 > 0.141
])
def test_spread_rule_hand_computed(cand, expected):
    f = noisy("latency_ms_median", 10.0, cand)
    assert f.verdict == expected and f.method == "spread" and f.noise == pytest.approx(math.hypot(0.1, 0.1))


def test_without_a_spread_the_threshold_alone_decides_and_memory_is_threshold_only():
    bare = noisy("latency_ms_median", 10.0, 11.2, rel_sigma=(math.nan, 0.1))
    assert bare.verdict == "regression" and bare.method == "threshold" and "threshold only" in bare.note
    mem = noisy("mem_peak_mib", 100.0, 111.0, rel_sigma=(0.5, 0.5))
    assert mem.verdict == "regression" and mem.method == "threshold" and mem.noise is None


def test_throughput_worse_is_the_inverse_ratio():
    f = noisy("throughput_ips", 100.0, 80.0, rel_sigma=(0.0, 0.0))
    assert f.worse == pytest.approx(0.25) and f.change == pytest.approx(-0.2) and f.verdict == "regression"


def test_bootstrap_rule_needs_the_whole_interval_beyond_the_limit():
    assert judge_interval(1.15, 1.05, 1.25, 0.04) == "regression"
    assert judge_interval(1.15, 1.05, 1.25, 0.10) == "noise"
    assert judge_interval(1.15, 1.05, 1.25, 0.20) == "ok"
    assert judge_interval(0.8, 0.75, 0.85, 0.10) == "improved"  # 1 / 0.85 - 1 = 0.176
    iv = RatioInterval(ratio=1.15, low=1.05, high=1.25, level=0.95, resamples=2000, n_base=20, n_cand=20)
    f = noisy("latency_ms_median", 10.0, 11.5, iv=iv, threshold=0.04)
    assert (f.verdict, f.method, f.samples) == ("regression", "bootstrap", (20, 20))
    assert f.interval == pytest.approx((0.05, 0.25))


def test_a_comparison_fails_on_a_regression_or_a_missing_row_and_is_inconclusive_otherwise():
    def comparison(*verdicts, missing=(), allow_missing=False):
        findings = [Finding("p", KEY, "latency_ms_median", 1.0, 1.0, v) for v in verdicts]
        return Comparison("b.csv", "c.csv", ("model",), (), ("latency_ms_median",), {}, False, 1.0, 1,
                          allow_missing, findings=findings, missing=list(missing))

    assert (comparison("ok", "noise").outcome, comparison("ok").exit_code) == ("PASS", 0)
    assert (comparison("regression", "inconclusive").outcome, comparison("regression").exit_code) == ("FAIL", 1)
    assert (comparison("inconclusive").outcome, comparison("inconclusive").exit_code) == ("INCONCLUSIVE", 3)
    assert comparison(missing=["vit_b16 224"]).failed and not comparison(missing=["x"], allow_missing=True).failed
    assert comparison("regression", "ok").summary().startswith("FAIL: 1 regression(s), 0 improved")
