import math

import pytest

from vitbench.measure import stats


def test_summary_of_five_samples_hand_computed():
    # sorted 1,2,3,4,10; linear percentiles at position (n-1)·p = 4·p:
    # p10 -> 0.4 -> 1 + 0.4·(2-1) = 1.4; p25 -> 1.0 -> 2; p50 -> 2 -> 3; p75 -> 3 -> 4; p90 -> 3.6 -> 4 + 0.6·6 = 7.6
    s = stats.summarize([4, 1, 10, 3, 2])
    assert s.median == 3.0
    assert s.p10 == pytest.approx(1.4)
    assert s.p90 == pytest.approx(7.6)
    assert s.iqr == pytest.approx(2.0)
    assert s.mean == 4.0
    # sample variance: ((-3)² + (-2)² + (-1)² + 0² + 6²) / 4 = 50 / 4
    assert s.std == pytest.approx(math.sqrt(12.5))
    assert s.n == 5


def test_summary_even_count_interpolates_median():
    s = stats.summarize([1.0, 2.0, 3.0, 4.0])
    assert s.median == 2.5  # position 1.5
    assert s.p10 == pytest.approx(1.3)  # position 0.3
    assert s.p90 == pytest.approx(3.7)  # position 2.7
    assert s.iqr == pytest.approx(3.25 - 1.75)


def test_single_sample_has_zero_spread():
    s = stats.summarize([7.5])
    assert (s.median, s.p10, s.p90, s.iqr, s.mean, s.std, s.n) == (7.5, 7.5, 7.5, 0.0, 7.5, 0.0, 1)


def test_empty_samples_raise():
    with pytest.raises(ValueError):
        stats.summarize([])
    with pytest.raises(ValueError):
        stats.percentile([], 50)


def test_percentile_matches_summary():
    data = [5, 1, 9, 3]
    assert stats.percentile(data, 50) == stats.summarize(data).median == 4.0


def test_latency_columns_names_and_values():
    cols = stats.summarize([1.0, 2.0, 3.0]).latency_columns()
    assert cols["latency_ms_median"] == 2.0 and cols["n_iters"] == 3
    assert set(cols) == {"latency_ms_median", "latency_ms_p10", "latency_ms_p90", "latency_ms_iqr",
                         "latency_ms_mean", "latency_ms_std", "n_iters"}


def test_throughput_is_batch_over_median_seconds():
    assert stats.throughput_ips(8, 250.0) == pytest.approx(32.0)
    with pytest.raises(ValueError):
        stats.throughput_ips(8, 0.0)


def test_tflops_and_mfu():
    # 17.56e9 MACs/image × 8 images × 2 FLOPs in 10 ms = 28.1 TFLOP/s
    achieved = stats.tflops_achieved(17_560_000_000, 8, 10.0)
    assert achieved == pytest.approx(2 * 17.56e9 * 8 / 0.010 / 1e12)
    assert stats.mfu(achieved, 312.0) == pytest.approx(achieved / 312.0)
    assert stats.mfu(achieved, None) is None


def test_stats_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, vitbench.measure.stats; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
