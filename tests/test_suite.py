"""Suite schema, safe loading and grid / zip / exclude expansion (vitbench.suite). No torch."""

from __future__ import annotations

import textwrap

import pytest

from vitbench.errors import VitbenchError
from vitbench.suite import check_invalid, combinations, expand, load_suite


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
