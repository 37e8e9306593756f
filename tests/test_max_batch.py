"""vitbench.measure.max_batch: doubling + bisection, and a non-OOM failure keeps the largest batch known to fit."""

import pytest

from vitbench import schema
from vitbench.errors import VitbenchError
from vitbench.measure.max_batch import MaxBatch, find_max_batch, largest_fitting, search
from vitbench.measure.spec import BenchSpec
from vitbench.zoo import resolve


@pytest.mark.parametrize("capacity, limit, expected", [(1, 64, 1), (37, 64, 37), (64, 64, 64), (1000, 64, 64),
                                                       (0, 64, 0), (5, 1, 1)])
def test_largest_fitting_doubles_then_bisects(capacity, limit, expected):
    tried = []

    def fits(b):
        tried.append(b)
        return b <= capacity

    assert largest_fitting(fits, limit) == expected
    assert len(tried) == len(set(tried))  # never the same batch twice


def test_search_trials_in_order():
    r = search(lambda b: "ok" if b <= 37 else "oom", 64)
    assert r == MaxBatch(37, True, None, ((1, "ok"), (2, "ok"), (4, "ok"), (8, "ok"), (16, "ok"), (32, "ok"),
                                          (64, "oom"), (48, "oom"), (40, "oom"), (36, "ok"), (38, "oom"),
                                          (37, "ok")))


class FakeRunPoint:
    """run_point stand-in (the probe's scenario): batches <= fit are ok, the next size fails with `failure`."""

    def __init__(self, fit, failure="error", error="RuntimeError: CUDA error: invalid configuration argument",
                 oom_from=None):
        self.fit, self.failure, self.error, self.oom_from, self.specs = fit, failure, error, oom_from, []

    def __call__(self, cfg, spec, measures):
        self.specs.append((spec, tuple(measures)))
        if spec.batch <= self.fit:
            return schema.make_row(status="ok")
        if self.oom_from is not None and spec.batch >= self.oom_from:
            return schema.make_row(status="oom", error="out of memory")
        return schema.make_row(status=self.failure, error=self.error)


def test_a_non_oom_failure_at_the_top_keeps_the_largest_fit():
    # shared/probes/max_batch_error.py: 32768 fits, 65536 hits a grid limit; the old search returned None.
    run = FakeRunPoint(32768)
    r = find_max_batch(resolve("vit_ti16"), BenchSpec(device="cuda", dtype="fp16"), run)
    assert r.batch == 32768 and not r.exact
    assert "65536" in r.note and "invalid configuration argument" in r.note and "32768..65536" in r.note
    assert r.trials[-1] == (65536, "stopped")


def test_a_failure_during_bisection_bounds_the_answer():
    run = FakeRunPoint(40, oom_from=64)  # 48 fails with an error, 64 is an OOM
    r = find_max_batch(resolve("vit_ti16"), BenchSpec(device="cuda"), run, limit=128)
    assert r.batch == 32 and not r.exact and "the maximum lies in 32..63" in r.note


def test_batch_one_failing_leaves_nothing_known():
    r = find_max_batch(resolve("vit_ti16"), BenchSpec(device="cuda"), FakeRunPoint(0))
    assert r.batch is None and not r.exact and "no batch is known to fit" in r.note


def test_batch_one_oom_is_an_exact_zero():
    r = find_max_batch(resolve("vit_ti16"), BenchSpec(device="cuda"), FakeRunPoint(0, oom_from=1))
    assert r == MaxBatch(0, True, None, ((1, "oom"),))


def test_trials_are_uncompiled_memory_only_single_forwards():
    run = FakeRunPoint(3, oom_from=4)
    spec = BenchSpec(device="cuda:1", dtype="bf16", attn="flash", compile=True, split=True, warmup=10, iters=50,
                     min_time_s=1.0, memory=False)
    find_max_batch(resolve("vit_ti16"), spec, run, limit=16)
    for trial, measures in run.specs:
        assert measures == ("memory",)
        assert (trial.compile, trial.split, trial.memory, trial.warmup, trial.iters, trial.min_time_s) == \
               (False, False, True, 0, 1, 0.0)
        assert (trial.device, trial.dtype, trial.attn) == ("cuda:1", "bf16", "flash")


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_needs_a_resolved_cuda_device(device):
    with pytest.raises(VitbenchError, match="needs a CUDA device"):
        find_max_batch(resolve("vit_ti16"), BenchSpec(device=device), FakeRunPoint(1))


def test_train_trials_search_the_largest_step_that_fits():
    """--find-max-batch --mode train: every trial is a training step with the point's optimizer and checkpointing."""
    run = FakeRunPoint(6, oom_from=7)
    spec = BenchSpec(device="cuda", mode="train", optimizer="sgd", grad_checkpoint=True)
    assert find_max_batch(resolve("vit_ti16"), spec, run, limit=64).batch == 6
    assert all((t.mode, t.optimizer, t.grad_checkpoint) == ("train", "sgd", True) for t, _ in run.specs)
