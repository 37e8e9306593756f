"""Suite schema, safe loading and grid / zip / exclude expansion (vitbench.suite). No torch."""

from __future__ import annotations

import textwrap

import pytest

from vitbench.errors import VitbenchError
from vitbench.cost.analytic import macs
from vitbench.suite import check_invalid, check_point_count, combinations, count_points, expand, load_suite


def write(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def cpu(device: str) -> str:
    """A resolver on a machine without CUDA ('auto' -> cpu)."""
    return "cpu" if device == "auto" else device


def cuda(device: str) -> str:
    """A resolver on a machine with CUDA ('auto' -> cuda)."""
    return "cuda" if device == "auto" else device


def load_error(tmp_path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(VitbenchError) as e:
        load_suite(path)
    message = str(e.value)
    assert "\n" not in message and str(path) in message
    return message


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


HEAD = "name: t\n"
BASE = HEAD + "grid: {model: vit_b16}\n"


@pytest.mark.parametrize("text, expected", [
    (HEAD + "grid: {model: vit_b16, patchh: [16]}",
     "grid.patchh: unknown key (value [16]); valid keys here: model, patch"),
    (BASE + "warmup: 3", "warmup: unknown key (value 3)"),
    (BASE + "defaults: {split: true}", "defaults.split: unknown key (value True); split is chosen by `measure:`"),
    (HEAD + "grid: {model: vit_b16, patch: [16, sixteen]}",
     "grid.patch[1]: Input should be a valid integer (got 'sixteen')"),
    (HEAD + "grid: {model: vit_b16, patch: 16.0}", "grid.patch[0]: Input should be a valid integer (got 16.0)"),
    (HEAD + "grid: {model: vit_b16, res: [224, 0]}", "grid.res[1]: resolution must be positive (got 0)"),
    (HEAD + "grid: {model: vit_b16, res: [big]}",
     "grid.res[0]: resolution must be an integer or HxW (e.g. 224 or 384x512), got 'big'"),
    (BASE + "defaults: {dtype: fp64}", "defaults.dtype: Input should be 'fp32'"),
    (BASE + "cpu: {iters: 0}", "cpu.iters: Input should be greater than 0 (got 0)"),
    (BASE + "measure: [latency, speed]", "measure[1]: Input should be 'params'"),
    (HEAD + "grid: {model: vit_b16, patch: []}", "grid.patch: List should have at least 1 item"),
    (BASE + "exclude: [{patchh: 16}]", "exclude[0].patchh: unknown key (value 16)"),
    ("name: ../evil\ngrid: {model: vit_b16}", "name: String should match pattern"),
    ("grid: {model: vit_b16}", "name: required key is missing"),
    (HEAD + "grid: {patch: [16]}", "grid.model: required key is missing"),
    (HEAD + "grid: {model: vit_b16, res: [224]}\nzip: {res: [384]}", "zip.res: 'res' is also in grid"),
    (BASE + "zip: {res: [224, 384], batch: [1]}", "zip.batch: has 1 values but zip.res has 2"),
    (BASE + "exclude: [{patch: 16}]", "exclude[0].patch: 'patch' (value 16) is not a grid or zip key"),
    ("- just\n- a list", "a suite is a YAML mapping"),
    (HEAD + "grid: {model: [vit_b16", "not valid YAML"),
])
def test_schema_errors_name_the_key_path_and_value(tmp_path, text, expected):
    assert expected in load_error(tmp_path, text)


def test_python_tags_are_refused(tmp_path):
    message = load_error(tmp_path, 'name: !!python/object/apply:os.system ["echo pwned"]\ngrid: {model: vit_b16}\n')
    assert "refused YAML tag !!python/object/apply:os.system" in message and "safe_load" in message


def test_missing_suite_file(tmp_path):
    with pytest.raises(VitbenchError, match="not found"):
        load_suite(tmp_path / "nope.yaml")


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


# ------------------------------------------------------------------------------------ bounded input (issue 10.6)

def bomb(levels: int) -> str:
    """A YAML 'billion laughs' inside a typed field: level k is 9 aliases of level k-1 (9**levels strings)."""
    items = ['&l0 ["x","x","x","x","x","x","x","x","x"]']
    items += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return HEAD + "grid:\n  model: vit_b16\n  patch: [[" + ", ".join(items) + "]]\n"


def test_alias_bomb_in_a_typed_field_gives_a_short_error(tmp_path):
    message = load_error(tmp_path, bomb(5))  # 66,430 values with aliases expanded: under the cap
    assert "grid.patch[0]: Input should be a valid integer (got [[" in message
    assert len(message) < 300 + len(str(tmp_path))  # was 348,822 characters


def test_alias_bomb_is_refused_by_its_expanded_size(tmp_path):
    message = load_error(tmp_path, bomb(7))  # the message was 39 MB; 9 levels took > 60 s and 1.6 GB
    assert "holds 6,053,453 values once its aliases are expanded; suites are limited to 1,000,000" in message


def test_recursive_alias_is_refused(tmp_path):
    message = load_error(tmp_path, HEAD + "grid: {model: vit_b16, patch: &a [16, *a]}\n")
    assert ":2: an alias refers to a node that contains it" in message


def test_a_file_above_the_size_cap_is_refused_without_parsing_it(tmp_path):
    from vitbench.suite import MAX_SUITE_BYTES

    text = BASE + "# " + "x" * MAX_SUITE_BYTES + "\n"
    assert f"larger than {MAX_SUITE_BYTES:,} bytes" in load_error(tmp_path, text)


def test_deep_nesting_is_one_line(tmp_path):
    message = load_error(tmp_path, HEAD + "grid: {model: vit_b16, patch: " + "[" * 5000 + "]" * 5000 + "}\n")
    assert "not valid YAML" in message  # was a RecursionError traceback


@pytest.mark.parametrize("text, where, key, first", [
    ("name: t\ngrid: {model: vit_b16}\nname: u\n", ":3:", "'name'", 1),
    ("name: t\ngrid:\n  model: vit_b16\n  patch: [16]\n  patch: [32]\n", ":5:", "'patch'", 4),
    ("name: t\ngrid: {model: vit_b16, res: [224, 384]}\nexclude:\n  - {res: 224, res: 384}\n", ":4:", "'res'", 4),
    ("name: t\ngrid: {model: vit_b16}\ndefaults: {iters: 3, warmup: 1, iters: 30}\n", ":3:", "'iters'", 3),
])
def test_duplicate_keys_are_refused_naming_the_key_and_both_lines(tmp_path, text, where, key, first):
    message = load_error(tmp_path, text)  # YAML keeps the last value silently
    assert f"{where} duplicate key {key} (first at line {first})" in message


def test_merge_keys_may_be_overridden(tmp_path):
    ls = load_suite(write(tmp_path, HEAD + "grid: {model: vit_b16}\ndefaults: {<<: {iters: 3, warmup: 1}, iters: 7}\n"))
    assert (ls.suite.defaults.iters, ls.suite.defaults.warmup) == (7, 1)


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN", ".Inf", "1.0e+999"])
@pytest.mark.parametrize("template", [
    "defaults: {{min_warmup_s: {v}}}\ngrid: {{model: vit_b16}}",  # .inf made the warm-up loop endless
    "defaults: {{min_time_s: {v}}}\ngrid: {{model: vit_b16}}",
    "cpu: {{max_gmacs: {v}}}\ngrid: {{model: vit_b16}}",
    "grid: {{model: vit_b16, mlp_ratio: [4.0, {v}]}}",
    "description: {v}\ngrid: {{model: vit_b16}}",
])
def test_non_finite_numbers_are_refused_anywhere(tmp_path, template, value):
    message = load_error(tmp_path, HEAD + template.format(v=value))
    assert f":2: '{value}' is not a finite number" in message


def test_the_schema_itself_refuses_non_finite_numbers():
    from pydantic import ValidationError

    from vitbench.suite import Suite

    for bad in ({"defaults": {"min_warmup_s": float("inf")}}, {"cpu": {"max_gmacs": float("nan")}}):
        with pytest.raises(ValidationError, match="finite number"):
            Suite.model_validate({"name": "t", "grid": {"model": ["vit_b16"]}, **bad})


@pytest.mark.parametrize("text, expected", [
    (HEAD + "grid: {model: vit_b16, patch: [" + "1" * 5000 + "]}", ":2: cannot read the value '1111"),
    ("name: 2001-13-45\ngrid: {model: vit_b16}", ":1: cannot read the value '2001-13-45': month must be in 1..12"),
    (HEAD + "grid: {model: " + "x" * 100_000 + "}", "grid.model[0]: String should have at most 64 characters"),
    (HEAD + "grid: {model: vit_b16, res: ['" + "2" * 100_000 + "']}",
     "grid.res[0]: resolution must be an integer or HxW (e.g. 224 or 384x512); this text has 100,000 characters"),
    (HEAD + "grid: {model: vit_b16, patchh: [" + ", ".join(["16"] * 10_000) + "]}",
     "grid.patchh: unknown key (value [16, 16, 16, 16, ...])"),
])
def test_values_in_errors_are_bounded(tmp_path, text, expected):
    message = load_error(tmp_path, text)  # was a ValueError traceback, or the whole value echoed
    assert expected in message and len(message) < 500 + len(str(tmp_path))


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
    from vitbench.suite import runs_model

    measured = load_suite(write(tmp_path, "name: t\nmeasure: [params, memory]\ngrid: {model: vit_ti16}\n", "m.yaml"))
    cost = load_suite(write(tmp_path, "name: t\nmeasure: [params, flops, split]\ngrid: {model: vit_ti16}\n", "c.yaml"))
    assert runs_model(measured) and not runs_model(cost)


def test_expand_refuses_more_points_than_it_can_hold(tmp_path, monkeypatch):
    import vitbench.suite as suite_module

    monkeypatch.setattr(suite_module, "MAX_EXPANDED_POINTS", 5)
    ls = load_suite(write(tmp_path, "name: t\ngrid: {model: vit_ti16, batch: [1, 2, 3], depth: [1, 2]}\n"
                                    "exclude: [{batch: 3}]\n"))
    assert len(expand(ls, cpu)) == 4  # 6 before the exclude, 4 after: allowed
    ls = load_suite(write(tmp_path, "name: t\ngrid: {model: vit_ti16, batch: [1, 2, 3], depth: [1, 2]}\n"))
    with pytest.raises(VitbenchError, match="expands to 6 points; vitbench expands at most 5"):
        expand(ls, cpu)


def test_each_distinct_config_and_setting_is_built_once(tmp_path, monkeypatch):
    import vitbench.suite as suite_module

    counted = []
    monkeypatch.setattr(suite_module, "macs", lambda cfg: counted.append(cfg) or macs(cfg))
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


def test_runtime_axes_are_also_defaults_and_cpu_options():
    from vitbench.suite import RUNTIME_AXES, CpuOverrides, Defaults, ExcludeEntry

    for model in (Defaults, CpuOverrides, ExcludeEntry):
        assert set(RUNTIME_AXES) - {"device"} <= set(model.model_fields)


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


def test_bad_optimizer_is_a_load_error(tmp_path):
    message = load_error(tmp_path, "name: t\ngrid: {model: vit_ti16, optimizer: [lamb]}\n")
    assert "optimizer" in message and "lamb" in message
