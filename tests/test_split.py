"""vitbench.measure.split: components add up per iteration, rest is never negative, IQM summary by hand, the
profiler attribution (kernel durations on CUDA) read from a profile's event tree."""

from types import SimpleNamespace

import pytest

from vitbench.measure import backends, split
from vitbench.measure.split import ITER_RANGE, RANGE_PREFIX, Iteration, summarize_split
from vitbench.model import build_model, example_input

PARTS = split.PARTS


def it(total, proj, core, mlp):
    return Iteration(total, {"attn_proj": proj, "attn_core": core, "mlp": mlp})


def test_iqm_by_hand():
    # totals 10, 11, 12, 13, 40: p25 = 11, p75 = 13 -> iterations 2..4 are used (the 40 ms outlier is not)
    its = [it(10, 2, 1, 5), it(11, 2, 1, 6), it(12, 3, 1, 6), it(13, 3, 2, 6), it(40, 3, 1, 30)]
    r = summarize_split(its, "hooks")
    assert (r.n_iters, r.n_used) == (5, 3)
    assert r.total_ms == pytest.approx(12.0)
    assert r.times_ms == pytest.approx({"attn_proj": 8 / 3, "attn_core": 4 / 3, "mlp": 6.0, "rest": 2.0})
    cols = r.columns()
    assert sum(cols[f"time_ms_{c}"] for c in PARTS) == pytest.approx(r.total_ms)
    assert sum(cols[f"time_share_{c}"] for c in PARTS) == pytest.approx(1.0)
    assert cols["time_share_mlp"] == pytest.approx(0.5)


def test_rest_is_per_iteration_so_it_cannot_go_negative():
    # Independently taken medians: total median 10, component medians 4 + 1 + 6 = 11 -> rest -1 (the old way).
    its = [it(10, 4, 1, 4.5), it(9, 2, 1, 6), it(12, 4, 1, 6)]
    r = summarize_split(its, "hooks")
    assert all(i.rest_ms >= 0 for i in its) and r.times_ms["rest"] >= 0
    assert sum(r.times_ms.values()) == pytest.approx(r.total_ms)


def test_fewer_than_four_iterations_use_all():
    r = summarize_split([it(10, 1, 1, 1), it(20, 2, 2, 2)], "hooks")
    assert r.n_used == 2 and r.total_ms == 15 and r.times_ms["rest"] == pytest.approx(10.5)


def test_gpu_busy_and_the_launch_bound_note():
    its = [it(4.0, 1, 1, 1)]
    bound = summarize_split(its, "profiler", latency_ms=10.0)
    assert bound.gpu_busy == pytest.approx(0.4) and "launch-bound" in bound.note() and "40%" in bound.note()
    busy = summarize_split(its, "profiler", latency_ms=4.2)
    assert busy.gpu_busy == pytest.approx(4 / 4.2) and busy.note() is None
    assert summarize_split(its, "hooks", latency_ms=10.0).gpu_busy is None  # host time: no busy fraction
    assert bound.proposed_columns() == {"split_method": "profiler", "split_iters": 1, "time_ms_split_total": 4.0,
                                        "split_gpu_busy": pytest.approx(0.4)}


def test_no_iterations_is_an_error():
    with pytest.raises(ValueError):
        summarize_split([], "hooks")


def ev(name, dur, children=(), device_type="CPU", start=0):
    return SimpleNamespace(name=name, dur=dur, cpu_children=list(children), time_range=SimpleNamespace(start=start),
                           device_type=SimpleNamespace(name=device_type))


def test_attribution_from_a_profile_tree():
    # Two iterations; kernels under each component range; a GPU-side copy of the iteration range is ignored.
    def block(k):
        return [ev(RANGE_PREFIX + "attn_proj", 10 * k, [ev("aten::linear", 10 * k)]),
                ev(RANGE_PREFIX + "attn_core", 5 * k, [ev("aten::_scaled_dot_product_flash_attention", 5 * k)]),
                ev(RANGE_PREFIX + "attn_proj", 3 * k),
                ev(RANGE_PREFIX + "mlp", 20 * k, [ev(RANGE_PREFIX + "attn_core", 99)])]  # nested: outer wins

    roots = [ev(ITER_RANGE, 50, [ev("aten::conv2d", 2)] + block(1), start=1),
             ev(ITER_RANGE, 100, block(2), start=2),
             ev(ITER_RANGE, 1, [], device_type="CUDA", start=3)]
    its = split.iterations_from_events(list(reversed(roots)), lambda e: e.dur)
    assert [i.total_ms for i in its] == [0.05, 0.1]
    assert its[0].parts_ms == pytest.approx({"attn_proj": 0.013, "attn_core": 0.005, "mlp": 0.02})
    assert its[1].rest_ms == pytest.approx(0.1 - 0.076)


@pytest.mark.parametrize("method", ["hooks", "profiler"])
def test_measured_split_on_cpu_adds_up_and_leaves_no_hooks(tiny, method):
    model = build_model(tiny)
    x = example_input(tiny, 2)
    with backends.forward_context("fp32", "sdpa", "cpu"):
        r = split.measure(model, lambda: model(x), "cpu", 6, method=method)
    assert r.method == method and r.n_iters == 6 and r.n_used == 2  # sorted ranks 2 and 3 lie in [p25, p75]
    assert all(r.times_ms[c] > 0 for c in split.COMPONENTS) and r.times_ms["rest"] >= 0
    assert sum(r.times_ms.values()) == pytest.approx(r.total_ms)
    assert r.gpu_busy is None
    assert not [m for m in model.modules() if m._forward_hooks or m._forward_pre_hooks]


def test_default_method_by_device():
    assert split.default_method("cpu") == "hooks" and split.default_method("cuda:1") == "profiler"
    with pytest.raises(ValueError):
        split.measure(None, lambda: None, "cpu", 1, method="events")
