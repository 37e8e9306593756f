import time

import pytest

from vitbench.measure import timer
from vitbench.measure.stats import summarize


class Counter:
    def __init__(self, sleep_s: float = 0.0):
        self.calls = 0
        self.sleep_s = sleep_s

    def __call__(self):
        self.calls += 1
        if self.sleep_s:
            time.sleep(self.sleep_s)


def test_warmup_runs_iterations_and_minimum_time():
    fn = Counter(0.001)
    n, seconds = timer.warm_up(fn, "cpu", iters=3, min_s=0.05)
    assert n == fn.calls and n >= 3
    assert seconds >= 0.05


def test_warmup_iterations_only():
    fn = Counter()
    assert timer.warm_up(fn, "cpu", iters=4, min_s=0.0)[0] == 4


def test_time_fn_keeps_one_sample_per_timed_call():
    fn = Counter(0.002)
    t = timer.time_fn(fn, "cpu", warmup=2, min_warmup_s=0.0, iters=5)
    assert t.warmup_iters == 2
    assert len(t.samples_ms) == 5
    assert fn.calls == 7
    assert all(s >= 2.0 for s in t.samples_ms)  # each sample covers a 2 ms sleep, in ms


def test_min_time_extends_the_timed_iterations():
    fn = Counter(0.001)
    t = timer.time_fn(fn, "cpu", warmup=0, min_warmup_s=0.0, iters=2, min_time_s=0.05)
    assert len(t.samples_ms) > 2
    assert sum(t.samples_ms) >= 50.0


def test_iters_must_be_positive():
    with pytest.raises(ValueError):
        timer.time_fn(Counter(), "cpu", warmup=0, min_warmup_s=0.0, iters=0)


def test_overhead_of_the_cpu_loop_is_microseconds():
    # A ViT-Ti forward is milliseconds; the loop itself must cost orders of magnitude less.
    assert timer.overhead_ms("cpu", iters=2000) < 0.05


def test_samples_are_milliseconds():
    t = timer.time_fn(Counter(0.01), "cpu", warmup=0, min_warmup_s=0.0, iters=3)
    assert 9.0 <= summarize(t.samples_ms).median < 1000.0
