"""Reading a suite file within bounds (vitbench.suite_yaml), through load_suite: size and alias caps, recursive
aliases, deep nesting, duplicate keys, non-finite numbers, YAML tags, unreadable scalars. No torch."""

from __future__ import annotations

import pytest

from suite_files import BASE, HEAD, load_error, write
from vitbench.errors import VitbenchError
from vitbench.suite import load_suite


def test_python_tags_are_refused(tmp_path):
    message = load_error(tmp_path, 'name: !!python/object/apply:os.system ["echo pwned"]\ngrid: {model: vit_b16}\n')
    assert "refused YAML tag !!python/object/apply:os.system" in message and "safe_load" in message


def test_missing_suite_file(tmp_path):
    with pytest.raises(VitbenchError, match="not found"):
        load_suite(tmp_path / "nope.yaml")


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
    from vitbench.suite_yaml import MAX_SUITE_BYTES

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
