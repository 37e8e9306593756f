"""Expanding a suite into points (vitbench.expansion): grid / zip / exclude, precedence of options, invalid and
coinciding points, counting without expanding, limits. No torch."""

from __future__ import annotations

import pytest

from suite_files import HEAD, cpu, cuda, write
from vitbench.cost.analytic import macs
from vitbench.errors import VitbenchError
from vitbench.expansion import check_invalid, check_point_count, combinations, count_points, expand
from vitbench.suite import load_suite


def test_grid_is_cartesian_product_last_key_fastest(tmp_path):
    ls = load_suite(write(tmp_path, """
        name: t
        grid: {model: vit_b16, patch: [16, 32], res: [224, 448]}
    """))
    assert combinations(ls) == [
        {"model": "vit_b16", "patch": 16, "res": 224}, {"model": "vit_b16", "patch": 16, "res": 448},
        {"model": "vit_b16", "patch": 32, "res": 224}, {"model": "vit_b16", "patch": 32, "res": 448},
    ]
    points = expand(ls, cpu)
    assert [p.index for p in points] == [0, 1, 2, 3]
    assert [(p.cfg.patch, p.cfg.img_size) for p in points] == [(16, (224, 224)), (16, (448, 448)),
                                                               (32, (224, 224)), (32, (448, 448))]
    assert ls.grid_keys == ("model", "patch", "res") and ls.sha256 and "grid" in ls.text


def test_zip_advances_together_and_crosses_the_grid(tmp_path):
    ls = load_suite(write(tmp_path, """
        name: t
        grid: {model: [vit_ti16, vit_s16]}
        zip: {res: [224, "384x512"], batch: [8, 2]}
    """))
    combos = combinations(ls)
    assert combos == [
        {"model": "vit_ti16", "res": 224, "batch": 8}, {"model": "vit_ti16", "res": "384x512", "batch": 2},
        {"model": "vit_s16", "res": 224, "batch": 8}, {"model": "vit_s16", "res": "384x512", "batch": 2},
    ]
    points = expand(ls, cpu)
    assert [(p.cfg.img_size, p.spec.batch) for p in points[:2]] == [((224, 224), 8), ((384, 512), 2)]


def test_exclude_drops_matching_points_comparing_resolutions_by_value(tmp_path):
    ls = load_suite(write(tmp_path, """
        name: t
        grid: {model: [vit_b16, vit_l16], res: [224, 384]}
        exclude:
          - {model: vit_l16, res: "384x384"}
    """))
    assert [(c["model"], c["res"]) for c in combinations(ls)] == [
        ("vit_b16", 224), ("vit_b16", 384), ("vit_l16", 224)]


def test_exclude_that_matches_nothing_is_an_error(tmp_path):
    ls = load_suite(write(tmp_path, """
        name: t
        grid: {model: [vit_b16], res: [224]}
        exclude: [{model: vit_l16}]
    """))
    with pytest.raises(VitbenchError, match=r"exclude\[0\].*matches no point"):
        combinations(ls)



def test_impossible_points_are_errors_unless_skipped(tmp_path):
    ls = load_suite(write(tmp_path, """
        name: t
        grid: {model: vit_b16, patch: [14, 16], res: [224, 384], heads: [12]}
    """))
    points = expand(ls, cpu)
    assert [p.plan for p in points] == ["measure", "invalid", "measure", "measure"]
    assert points[1].cfg is None and "384 is not divisible by patch 14" in points[1].invalid
    with pytest.raises(VitbenchError) as e:
        check_invalid(ls, points)
    assert str(ls.path) in str(e.value) and "patch=14, res=384" in str(e.value) and "--skip-invalid" in str(e.value)


def test_heads_not_dividing_width_is_invalid(tmp_path):
    ls = load_suite(write(tmp_path, "name: t\ngrid: {model: vit_b16, heads: [12, 7]}\n"))
    points = expand(ls, cpu)
    assert points[1].plan == "invalid" and "not divisible by 7 heads" in points[1].invalid


def test_precedence_defaults_cpu_overrides_grid_and_command_line(tmp_path):
    ls = load_suite(write(tmp_path, """
        name: t
        defaults: {batch: 32, iters: 50, warmup: 10, dtype: fp16}
        cpu: {batch: 1, iters: 3, dtype: fp32}
        grid: {model: vit_ti16, dtype: [bf16]}
    """))
    on_cpu = expand(ls, cpu)[0]
    assert (on_cpu.spec.batch, on_cpu.spec.iters, on_cpu.spec.warmup, on_cpu.spec.dtype) == (1, 3, 10, "bf16")
    assert on_cpu.cpu_overrides and on_cpu.spec.device == "cpu"
    on_cuda = expand(ls, cuda)[0]
    assert (on_cuda.spec.batch, on_cuda.spec.iters, on_cuda.spec.device) == (32, 50, "cuda")
    assert not on_cuda.cpu_overrides
    forced = expand(ls, cuda, device="cpu", isolate=True)[0]
    assert forced.spec.device == "cpu" and forced.spec.batch == 1 and forced.spec.isolate


def test_cpu_max_gmacs_makes_heavy_points_cost_only_on_cpu(tmp_path):
    ls = load_suite(write(tmp_path, """
        name: t
        measure: [params, latency]
        cpu: {max_gmacs: 20}
        grid: {model: vit_b16, res: [224, 384]}
    """))
    assert [p.plan for p in expand(ls, cpu)] == ["measure", "cpu-cost"]
    assert [p.plan for p in expand(ls, cuda)] == ["measure", "measure"]
    assert expand(ls, cpu)[1].gmacs_per_forward == pytest.approx(55.48, abs=0.01)


def test_measures_without_latency_or_memory_are_cost_points_and_need_no_device(tmp_path):
    ls = load_suite(write(tmp_path, "name: t\nmeasure: [params, flops, split]\ndefaults: {device: cuda}\n"
                                    "grid: {model: vit_b16}\n"))

    def refuse(device):
        raise AssertionError(f"resolver called for {device}")

    point = expand(ls, refuse)[0]
    assert point.plan == "cost" and point.spec.device == "cuda" and not point.spec.split


def test_split_with_latency_asks_bench_for_the_timed_split(tmp_path):
    ls = load_suite(write(tmp_path, "name: t\nmeasure: [split, latency]\ngrid: {model: vit_ti16}\n"))
    point = expand(ls, cpu)[0]
    assert point.spec.split and not point.spec.memory and point.measures == ("split", "latency")


def test_unavailable_device_fails_before_running(tmp_path):
    ls = load_suite(write(tmp_path, "name: t\nmeasure: [latency]\ndefaults: {device: cuda}\ngrid: {model: vit_ti16}\n"))

    def no_cuda(device):
        raise VitbenchError(f"device {device!r} needs CUDA, which is not available")

    with pytest.raises(VitbenchError, match=rf"{ls.path}: device 'cuda' needs CUDA"):
        expand(ls, no_cuda)


def test_device_axis_cannot_be_overridden(tmp_path):
    ls = load_suite(write(tmp_path, "name: t\ngrid: {model: vit_ti16, device: [cpu, cuda]}\nmeasure: [params]\n"))
    with pytest.raises(VitbenchError, match="varies device"):
        expand(ls, cpu, device="cpu")


def test_duplicate_points_are_an_error(tmp_path):
    ls = load_suite(write(tmp_path, "name: t\ngrid: {model: vit_ti16, res: [224, 224x224]}\nmeasure: [params]\n"))
    with pytest.raises(VitbenchError, match="#0 .* and #1 .* are the same configuration"):
        expand(ls, cpu)



def test_an_impossible_point_with_a_long_value_is_reported_in_one_bounded_line(tmp_path):
    ls = load_suite(write(tmp_path, HEAD + "grid: {model: [vit_b16, " + "v" * 60 + "]}\n"))
    with pytest.raises(VitbenchError) as e:
        check_invalid(ls, expand(ls, cpu))
    assert "unknown model 'vvvv" in str(e.value) and "\n" not in str(e.value) and len(str(e.value)) < 700


def test_an_overflowing_mlp_ratio_is_an_invalid_point(tmp_path):
    ls = load_suite(write(tmp_path, HEAD + "grid: {model: vit_b16, mlp_ratio: [4.0, 1.0e+308]}\n"))
    points = expand(ls, cpu)  # int(768 * 1e308) was an OverflowError traceback
    assert [p.plan for p in points] == ["measure", "invalid"] and "mlp ratio must be a finite" in points[1].invalid


# ------------------------------------------------------------------------------------ huge grids (issue 10.7)

def test_count_points_is_the_product_minus_the_excluded_points(tmp_path):
    # 3 models × 4 batches × 5 registers = 60; {model: vit_ti16} drops 20, {batch: 2} drops 15, 5 of them twice
    ls = load_suite(write(tmp_path, """
        name: t
        measure: [params]
        grid: {model: [vit_ti16, vit_s16, deit_ti16], batch: [1, 2, 4, 8], registers: [0, 1, 2, 3, 4]}
        exclude: [{model: vit_ti16}, {batch: 2}]
    """))
    assert count_points(ls) == 60 - 20 - 15 + 5 == len(expand(ls, cpu))


@pytest.mark.parametrize("seed", range(40))
def test_count_points_agrees_with_expansion_for_overlapping_excludes(tmp_path, seed):
    import random

    rng = random.Random(seed)
    values = {"depth": [1, 2, 3, 4], "batch": [1, 2, 3], "registers": [0, 1, 2, 3, 4], "dtype": ["fp32", "fp16"]}
    keys = rng.sample(sorted(values), rng.randint(1, 4))
    zipped = [k for k in keys if rng.random() < 0.3]
    n_zip = rng.randint(1, 3)
    grid = {k: values[k] for k in keys if k not in zipped}
    zip_ = {k: [rng.choice(values[k]) for _ in range(n_zip)] for k in zipped}
    if len(zipped) == 1 and len(set(zip_[zipped[0]])) < n_zip:
        zip_[zipped[0]] = values[zipped[0]][:n_zip]  # distinct points only
    axes = {**grid, **zip_}
    excludes = []
    for _ in range(rng.randint(0, 5)):
        picked = rng.sample(sorted(axes), rng.randint(1, min(2, len(axes))))
        excludes.append({k: rng.choice(axes[k]) for k in picked})
    suite = {"name": "t", "measure": ["params"], "grid": {"model": "vit_ti16", **grid}, "zip": zip_,
             "exclude": excludes}
    import yaml

    ls = load_suite(write(tmp_path, yaml.safe_dump(suite)))
    if len({tuple(sorted(c.items())) for c in combinations(ls)}) < len(combinations(ls)):
        pytest.skip("the random zip repeats a row")
    assert count_points(ls) == len(combinations(ls)) == len(expand(ls, cpu))


def test_count_points_does_not_expand(tmp_path):
    axis = "[" + ", ".join(str(i) for i in range(1, 101)) + "]"
    ls = load_suite(write(tmp_path, f"name: t\ngrid: {{model: vit_ti16, depth: {axis}, batch: {axis}, "
                                    f"registers: {axis}, classes: {axis}, dim: [192, 384]}}\n"
                                    f"exclude: [{{depth: 1}}, {{batch: 2, registers: 3}}, {{depth: 1, batch: 2}}]\n"))
    total = 2 * 100**4
    assert count_points(ls) == total - total // 100 - total // 100**2 + total // 100**3  # 2×10^8 points


def test_check_point_count_is_the_max_points_guard(tmp_path):
    ls = load_suite(write(tmp_path, "name: t\ngrid: {model: vit_ti16, batch: [1, 2, 3], depth: [1, 2]}\n"))
    assert check_point_count(ls, 6) == 6
    with pytest.raises(VitbenchError) as e:
        check_point_count(ls, 5)
    assert str(e.value) == (f"{ls.path}: the grid expands to 6 points, more than --max-points 5; narrow the grid, "
                            f"split it with --shard K/N, or raise --max-points")


def test_runs_model_tells_measured_suites_from_closed_form_ones(tmp_path):
    from vitbench.expansion import runs_model

    measured = load_suite(write(tmp_path, "name: t\nmeasure: [params, memory]\ngrid: {model: vit_ti16}\n", "m.yaml"))
    cost = load_suite(write(tmp_path, "name: t\nmeasure: [params, flops, split]\ngrid: {model: vit_ti16}\n", "c.yaml"))
    assert runs_model(measured) and not runs_model(cost)


def test_expand_refuses_more_points_than_it_can_hold(tmp_path, monkeypatch):
    import vitbench.expansion as expansion_module

    monkeypatch.setattr(expansion_module, "MAX_EXPANDED_POINTS", 5)
    ls = load_suite(write(tmp_path, "name: t\ngrid: {model: vit_ti16, batch: [1, 2, 3], depth: [1, 2]}\n"
                                    "exclude: [{batch: 3}]\n"))
    assert len(expand(ls, cpu)) == 4  # 6 before the exclude, 4 after: allowed
    ls = load_suite(write(tmp_path, "name: t\ngrid: {model: vit_ti16, batch: [1, 2, 3], depth: [1, 2]}\n"))
    with pytest.raises(VitbenchError, match="expands to 6 points; vitbench expands at most 5"):
        expand(ls, cpu)


def test_each_distinct_config_and_setting_is_built_once(tmp_path, monkeypatch):
    import vitbench.expansion as expansion_module

    counted = []
    monkeypatch.setattr(expansion_module, "macs", lambda cfg: counted.append(cfg) or macs(cfg))
    axis = "[" + ", ".join(str(i) for i in range(1, 51)) + "]"
    ls = load_suite(write(tmp_path, f"name: t\nmeasure: [latency]\n"
                                    f"grid: {{model: vit_ti16, depth: {axis}, batch: {axis}, dtype: [fp32, bf16]}}\n"))
    points = expand(ls, cpu)
    assert len(points) == 5000 and len(counted) == len(set(counted)) == 50  # once per depth, not per point
    assert len({id(p.cfg) for p in points}) == 50 and len({id(p.spec) for p in points}) == 100
    assert points[101].values == {"model": "vit_ti16", "depth": 2, "batch": 1, "dtype": "bf16"}
    assert points[101].cfg.depth == 2 and (points[101].spec.batch, points[101].spec.dtype) == (1, "bf16")
    assert points[101].gmacs_per_forward == pytest.approx(macs(points[101].cfg).total / 1e9)


@pytest.mark.parametrize("grid", [
    "{model: [vit_b16, VIT_B16]}",  # the zoo reads names case-insensitively
    "{model: vit_b16, patch: [16], dim: [768, 768]}",
    "{model: vit_b16, mlp_ratio: [4, 4.0]}",
    "{model: vit_b16, device: [cpu, auto]}",  # auto resolves to cpu here
])
def test_points_that_coincide_are_found(tmp_path, grid):
    ls = load_suite(write(tmp_path, f"name: t\ngrid: {grid}\n"))
    with pytest.raises(VitbenchError, match="#0 .* and #1 .* are the same configuration"):
        expand(ls, cpu)


def test_zip_rows_that_coincide_are_found(tmp_path):
    ls = load_suite(write(tmp_path, "name: t\ngrid: {model: vit_b16}\nzip: {res: [224, 384, 224x224], "
                                    "batch: [1, 1, 1]}\n"))
    with pytest.raises(VitbenchError, match="#0 .* and #2 .* are the same configuration"):
        expand(ls, cpu)



def test_optimizer_and_checkpointing_are_runtime_axes_of_train_points(tmp_path):
    ls = load_suite(write(tmp_path, """
        name: t
        defaults: {mode: train}
        measure: [latency]
        grid: {model: vit_ti16, optimizer: [adamw, sgd], grad_checkpoint: [false, true]}
    """))
    points = expand(ls, cpu)
    assert [(p.spec.optimizer, p.spec.grad_checkpoint) for p in points] == [
        ("adamw", False), ("adamw", True), ("sgd", False), ("sgd", True)]
    assert all(p.spec.mode == "train" for p in points)
    assert points[0].gmacs_per_forward == pytest.approx(3 * macs(points[0].cfg).total / 1e9, rel=0.01)


def test_an_optimizer_axis_over_infer_points_yields_equal_points(tmp_path):
    """An inference point has no optimizer: varying it there names one point twice, which is refused."""
    ls = load_suite(write(tmp_path, """
        name: t
        measure: [latency]
        grid: {model: vit_ti16, mode: [infer, train], optimizer: [adamw, sgd]}
    """))
    with pytest.raises(VitbenchError, match="#0 .* and #1 .* are the same configuration"):
        expand(ls, cpu)
    ls = load_suite(write(tmp_path, """
        name: t
        measure: [latency]
        grid: {model: vit_ti16, mode: [infer, train], optimizer: [adamw, sgd]}
        exclude: [{mode: infer, optimizer: sgd}]
    """))
    assert [(p.spec.mode, p.spec.optimizer) for p in expand(ls, cpu)] == [
        ("infer", None), ("train", "adamw"), ("train", "sgd")]
