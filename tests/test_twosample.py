"""vitbench.twosample: the bootstrap interval on the ratio of medians, against hand-computed distributions and
its coverage on samples with a known ratio. No torch."""

import subprocess
import sys

import numpy as np
import pytest

from vitbench.twosample import LEVEL, RESAMPLES, bootstrap_ratios, ratio_interval


def test_constant_samples_give_the_exact_ratio_and_a_zero_width_interval():
    iv = ratio_interval([2.0] * 7, [3.0] * 5)
    assert (iv.ratio, iv.low, iv.high) == (1.5, 1.5, 1.5)
    assert (iv.level, iv.resamples, iv.n_base, iv.n_cand) == (LEVEL, RESAMPLES, 7, 5)


def test_bootstrap_median_of_three_values_follows_the_binomial_counts():
    # Resampling {1, 2, 3} with replacement: the median is 1 when at least two of the three draws are 1:
    # 3·(1/3)²·(2/3) + (1/3)³ = 7/27; likewise 3; so 2 has 13/27. A constant candidate makes ratio = 1 / median.
    ratios = bootstrap_ratios([1.0, 2.0, 3.0], [1.0], resamples=200_000, seed=1)
    se = np.sqrt(0.26 * 0.74 / 200_000)  # Monte Carlo standard error of a share near 7/27: 0.001
    for value, share in ((1 / 3, 7 / 27), (1 / 2, 13 / 27), (1.0, 7 / 27)):
        assert abs((ratios == value).mean() - share) < 4 * se, value
    iv = ratio_interval([1.0, 2.0, 3.0], [1.0], resamples=200_000, seed=1)
    # 7/27 = 26 % of the mass at each end: both 2.5 % quantiles fall on the extreme values
    assert (iv.ratio, iv.low, iv.high) == (0.5, 1 / 3, 1.0)


def test_even_sized_samples_use_the_mean_of_the_two_middle_values():
    # {1, 3} resampled: (1,1) -> 1, (3,3) -> 3, mixed -> 2, with probabilities 1/4, 1/4, 1/2
    ratios = 1 / bootstrap_ratios([1.0, 3.0], [1.0], resamples=100_000, seed=2)
    se = np.sqrt(0.25 * 0.75 / 100_000)
    for value, share in ((1.0, 0.25), (2.0, 0.5), (3.0, 0.25)):
        assert abs((ratios == value).mean() - share) < 4 * se


def test_seeded_and_reproducible():
    rng = np.random.default_rng(0)
    b, c = rng.lognormal(0, 0.1, 40), rng.lognormal(0.1, 0.1, 60)
    assert ratio_interval(b, c) == ratio_interval(b, c)
    assert ratio_interval(b, c, seed=1) != ratio_interval(b, c)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 31, 40])
def test_drawing_the_median_directly_matches_resampling_indices(n):
    # the order-statistic shortcut against the plain method (draw n indices, take numpy's median), on a sample
    # with ties: the shares of every possible resampled median agree within Monte Carlo error
    rng = np.random.default_rng(n)
    x = np.round(rng.lognormal(0, 0.3, n), 1)
    direct = bootstrap_ratios([1.0], x, resamples=100_000, seed=4)  # median(x*) / 1
    plain = np.median(x[rng.integers(0, n, size=(100_000, n))], axis=1)
    values = np.union1d(direct, plain)
    gap = max(abs((direct == v).mean() - (plain == v).mean()) for v in values)
    assert gap < 5 * np.sqrt(0.25 * 2 / 100_000)  # 5 standard errors of a difference of two shares at worst


@pytest.mark.parametrize("n", [10, 50, 300])
def test_the_95_percent_interval_covers_a_known_ratio_about_95_percent_of_the_time(n):
    # 400 seeded pairs of lognormal runs (σ 0.12, a CPU-like jitter) whose true medians differ by 1.2×. An
    # interval with 95 % coverage holds 1.2 in 380 of 400 pairs on average; 369-391 is the binomial 99 % band
    # (±2.58·√(400·0.95·0.05) = ±11). Measured: 385, 377, 388.
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(400):
        b, c = rng.lognormal(0, 0.12, n), 1.2 * rng.lognormal(0, 0.12, n)
        iv = ratio_interval(b, c)
        hits += iv.low <= 1.2 <= iv.high
    assert 369 <= hits <= 391


@pytest.mark.parametrize("base, cand, message", [
    ([], [1.0], "non-empty"),
    ([1.0, float("nan")], [1.0], "finite and > 0"),
    ([1.0], [0.0], "finite and > 0"),
    ([1.0], [-2.0], "finite and > 0"),
    ([1.0], [float("inf")], "finite and > 0"),
])
def test_bad_samples_are_refused(base, cand, message):
    with pytest.raises(ValueError, match=message):
        ratio_interval(base, cand)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="level"):
        ratio_interval([1.0], [1.0], level=1.0)
    with pytest.raises(ValueError, match="resamples"):
        ratio_interval([1.0], [1.0], resamples=0)


def test_no_torch_import():
    code = "import sys, vitbench.twosample; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------------------------------------- paired repeats

def test_paired_interval_by_hand():
    # d = ln 1.2, ln 1, ln 1.4 = 0.18232, 0, 0.33647: mean 0.17293, sd 0.16843 (ddof 1), t(0.975, 2 df) = 4.303,
    # half-width 4.303 · 0.16843 / √3 = 0.41845
    from vitbench.twosample import paired_ratio_interval

    iv = paired_ratio_interval([2.0, 3.0, 5.0], [2.4, 3.0, 7.0])
    assert iv.pairs == 3 and abs(iv.log_sd - 0.16843) < 1e-5
    assert abs(iv.ratio - np.exp(0.17293)) < 1e-5
    assert abs(iv.low - np.exp(0.17293 - 0.41845)) < 1e-4 and abs(iv.high - np.exp(0.17293 + 0.41845)) < 1e-4


def test_paired_interval_of_identical_ratios_has_zero_width_and_ignores_the_level_of_each_pair():
    from vitbench.twosample import paired_ratio_interval

    iv = paired_ratio_interval([1.0, 10.0, 100.0], [2.0, 20.0, 200.0])
    assert np.allclose([iv.ratio, iv.low, iv.high], 2.0, rtol=1e-12) and iv.log_sd < 1e-12


@pytest.mark.parametrize("base, cand, message", [
    ([1.0, 2.0], [1.0], "equal counts"),
    ([1.0], [1.0], "2 to 31 pairs"),
    ([1.0] * 32, [1.0] * 32, "2 to 31 pairs"),
    ([1.0, -1.0], [1.0, 1.0], "finite and > 0"),
])
def test_paired_interval_refuses_bad_input(base, cand, message):
    from vitbench.twosample import paired_ratio_interval

    with pytest.raises(ValueError, match=message):
        paired_ratio_interval(base, cand)


def test_t_table_holds_the_97_5_percent_quantiles():
    # Each entry, to its 3 decimals: P(T <= q - 0.0005) < 0.975 < P(T <= q + 0.0005) for Student's t with v
    # degrees of freedom, the CDF by Simpson's rule on the density from 0
    from math import gamma, pi, sqrt

    from vitbench.twosample import T975

    def cdf(q: float, v: int) -> float:
        x = np.linspace(0.0, q, 20001)
        density = gamma((v + 1) / 2) / (sqrt(v * pi) * gamma(v / 2)) * (1 + x**2 / v) ** (-(v + 1) / 2)
        h = x[1] - x[0]
        return 0.5 + h / 3 * (density[0] + density[-1] + 4 * density[1:-1:2].sum() + 2 * density[2:-1:2].sum())

    for v, q in enumerate(T975, start=1):
        assert cdf(q - 0.0005, v) < 0.975 < cdf(q + 0.0005, v), (v, q)


def test_paired_interval_covers_a_known_ratio_95_percent_of_the_time():
    # 400 seeded experiments of 6 pairs, each pair's log ratio = ln 1.3 + a run effect N(0, 0.05)
    from vitbench.twosample import paired_ratio_interval

    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(400):
        base = np.exp(rng.normal(0, 0.2, 6))
        cand = base * 1.3 * np.exp(rng.normal(0, 0.05, 6))
        iv = paired_ratio_interval(base, cand)
        hits += iv.low <= 1.3 <= iv.high
    assert 369 <= hits <= 391  # binomial(400, 0.95): mean 380, 2.5 sd = 11
