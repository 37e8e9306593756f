"""vitbench.measure.peak on a fake clock: the sampling rules (throwaway call, warm-up by time, >= 1 s of timed
calls, the cap for slow calls) and the datasheet lookups it delegates to vitbench.hardware."""

import pytest

from vitbench.measure import peak


class FakeClock:
    """perf_counter / perf_counter_ns that advance only when a fake call 'runs'."""

    def __init__(self):
        self.ns = 0

    def perf_counter(self):
        return self.ns / 1e9

    def perf_counter_ns(self):
        return self.ns


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(peak.time, "perf_counter", fake.perf_counter)
    monkeypatch.setattr(peak.time, "perf_counter_ns", fake.perf_counter_ns)
    return fake


def calls_taking(clock, durations_ms):
    """A callable whose i-th call takes durations_ms[i] (the last value repeats); records how often it ran."""
    state = {"n": 0}

    def fn():
        i = min(state["n"], len(durations_ms) - 1)
        clock.ns += int(durations_ms[i] * 1e6)
        state["n"] += 1

    return fn, state


def test_throwaway_and_warm_up_calls_are_not_timed(clock):
    # 1 s throwaway (start-up), then 10 ms calls: warm-up 0.25 s = 25 calls, then >= 1 s of timed calls.
    fn, state = calls_taking(clock, [1000.0, 10.0])
    assert peak.timed_median_ms(fn, "cpu", iters=5) == pytest.approx(10.0)
    assert state["n"] == 1 + 25 + 100


def test_timing_runs_at_least_iters_and_at_least_min_time(clock):
    fn, _ = calls_taking(clock, [1.0])
    assert len(peak._cpu_samples_ms(fn, iters=5, min_time_s=1.0, max_time_s=5.0)) == 1000
    assert len(peak._cpu_samples_ms(fn, iters=50, min_time_s=0.0, max_time_s=5.0)) == 50


def test_a_slow_call_stops_at_three_samples_past_the_cap(clock):
    fn, _ = calls_taking(clock, [2100.0])  # fp16 matmul on a CPU: ~2 s a call
    assert len(peak._cpu_samples_ms(fn, iters=20, min_time_s=1.0, max_time_s=5.0)) == 3


def test_known_peak_delegates_to_the_datasheet_table():
    assert peak.known_peak_tflops("NVIDIA H100 80GB HBM3", "amp-bf16") == pytest.approx(989.4)
    assert peak.known_peak_tflops("NVIDIA H100 80GB HBM3 MIG 1g.10gb", "bf16") is None  # no SM count: no peak
    assert peak.known_peak_tflops("NVIDIA H100 80GB HBM3 MIG 1g.10gb", "bf16", sm_count=16) == pytest.approx(
        989.4 * 16 / 132)
    assert peak.known_gpu("NVIDIA L4") == ("L4", {"fp32": 30.3, "fp16": 121.0, "tf32": 60.0, "bf16": 121.0})
    assert peak.known_gpu("NVIDIA GeForce RTX 4090 D") is None


def test_cpu_rows_say_why_there_is_no_datasheet():
    rows = peak.measure_peaks("cpu", n=32, mib=1, iters=3, min_time_s=0.0)
    assert all(r["datasheet"] is None and r["datasheet_note"] == "not a CUDA device: no datasheet peak" for r in rows)
    assert rows[-1]["measure"] == "copy" and rows[-1]["unit"] == "GB/s"


def test_cuda_loop_flushes_outside_the_event_pair_and_syncs_once_per_batch(monkeypatch, clock):
    """The CUDA branch with torch.cuda.Event / synchronize faked: the order of calls is what the GPU would see."""
    import torch

    log = []

    class FakeEvent:
        def __init__(self, enable_timing=False):
            assert enable_timing
            self.ns = None

        def record(self):
            self.ns = clock.ns
            log.append("record")

        def elapsed_time(self, other):
            return (other.ns - self.ns) / 1e6

    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: log.append("sync"))
    fn, _ = calls_taking(clock, [10.0])
    flush = lambda: log.append("flush")  # noqa: E731
    samples = peak._cuda_samples_ms(lambda: (fn(), log.append("call")), 0.010, iters=5, min_time_s=0.05,
                                    max_time_s=5.0, flush=flush)
    assert samples == [10.0] * 6  # >= 5 calls and >= 50 ms: sized from the 10 ms estimate, one batch
    assert log == ["flush", "record", "call", "record"] * 6 + ["sync"]
