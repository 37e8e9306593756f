"""Suite schema and loading (vitbench.suite): errors name the key path and the value. No torch."""

from __future__ import annotations

import pytest

from suite_files import BASE, HEAD, load_error


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


def test_runtime_axes_are_also_defaults_and_cpu_options():
    from vitbench.suite import RUNTIME_AXES, CpuOverrides, Defaults, ExcludeEntry

    for model in (Defaults, CpuOverrides, ExcludeEntry):
        assert set(RUNTIME_AXES) - {"device"} <= set(model.model_fields)


def test_bad_optimizer_is_a_load_error(tmp_path):
    message = load_error(tmp_path, "name: t\ngrid: {model: vit_ti16, optimizer: [lamb]}\n")
    assert "optimizer" in message and "lamb" in message
