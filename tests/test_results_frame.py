"""vitbench.results_frame: loading a results file (missing, unreadable, JSON, cost-only), the model labels, and
check_values: cells that parse but hold bad values are refused on load with one line naming the file, the row
(CSV: its line in the file; JSON: its position) and the column (issue 10.8)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from vitbench.cost.analytic import cost_row
from vitbench.errors import VitbenchError
from vitbench.results_frame import check_values, csv_lines, load_results, prepare, with_patch
from vitbench.schema import ALL_COLUMNS, CONFIG_COST_COLUMNS, make_row
from vitbench.zoo import ViTConfig, resolve

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def corrupt(tmp_path: Path, column: str, value: str, row: int = 2, name: str = "patch_sizes") -> Path:
    """A copy of a fixture with one cell replaced (`row`: 0-based data row, so line row + 2 of the file)."""
    rows = list(csv.reader(open(FIXTURES / f"{name}.csv", newline="")))
    rows[row + 1][rows[0].index(column)] = value
    path = tmp_path / f"{name}.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return path


def load_error(path: Path) -> str:
    with pytest.raises(VitbenchError) as e:
        load_results(path)
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.mark.parametrize("column, value, why", [
    ("patch", "abc", "'abc' is not a number"),  # was ValueError: invalid literal for int()
    ("patch", "inf", "'inf' is not a finite number"),  # was IntCastingNaNError
    ("patch", "16.5", "'16.5' is not an integer"),
    ("res_h", "-1", "'-1' must be > 0"),  # was an error without file, row or column
    ("dim", "0", "'0' must be > 0"),
    ("tokens", "nan", "'nan' is not a finite number"),  # was dropped silently (pandas reads 'nan' as empty)
    ("latency_ms_median", "fast", "'fast' is not a number"),  # was TypeError in the latency figure
    ("latency_ms_median", "0", "'0' must be > 0"),  # was drawn (and a division by zero in throughput)
    ("latency_ms_p10", "-3.5", "'-3.5' must be > 0"),
    ("throughput_ips", "inf", "'inf' is not a finite number"),
    ("params", "inf", "'inf' is not a finite number"),  # was OverflowError in the memory bound
    ("macs_attn_core", "-5", "'-5' must be >= 0"),
    ("mem_peak_mib", "lots", "'lots' is not a number"),
    ("mfu", "-inf", "'-inf' is not a finite number"),
    ("n_iters", "0", "'0' must be > 0"),
    ("batch", "1.5", "'1.5' is not an integer"),
    ("classes", "-2", "'-2' must be >= 0"),
    ("distill", "maybe", "'maybe' is not a boolean (true / false)"),  # was read as False
    ("compile", "2", "'2' is not a boolean (true / false)"),
    ("status", "fine", "'fine' is not one of ok, oom, unsupported, error, invalid"),
])
def test_a_bad_cell_is_named_by_file_line_and_column(tmp_path, column, value, why):
    path = corrupt(tmp_path, column, value)
    assert load_error(path) == f"{path} line 4, column {column}: {why}"


@pytest.mark.parametrize("column, value, why", [
    ("res_h", "225", "resolution height 225 is not divisible by patch 16"),  # was read as a possible config
    ("heads", "5", "width 768 is not divisible by 5 heads"),
    ("pool", "max", "unknown pool 'max'"),
])
def test_a_config_that_cannot_exist_is_named_by_file_and_line(tmp_path, column, value, why):
    path = corrupt(tmp_path, column, value)
    message = load_error(path)
    assert message.startswith(f"{path} line 4: the config columns do not describe a possible ViT: {why}")


def test_line_numbers_count_blank_lines_like_the_file_does(tmp_path):
    path = corrupt(tmp_path, "patch", "abc", row=3)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2] + ["\n", "   \n"] + lines[2:]))  # two blank lines before the bad row
    assert load_error(path).startswith(f"{path} line 7, column patch:")
    assert csv_lines(path)(0) == "line 2" and csv_lines(path)(1) == "line 5"


def test_json_rows_are_named_by_position(tmp_path):
    rows = pd.read_csv(FIXTURES / "zoo.csv").to_dict("records")
    rows[4]["latency_ms_median"] = "slow"
    path = tmp_path / "zoo.json"
    path.write_text(json.dumps(rows))
    assert load_error(path) == f"{path} row 5, column latency_ms_median: 'slow' is not a number"


def test_json_infinity_is_refused(tmp_path):
    rows = pd.read_csv(FIXTURES / "zoo.csv").to_dict("records")
    rows[0]["params"] = float("inf")
    path = tmp_path / "zoo.json"
    path.write_text(json.dumps(rows))  # Python's json writes Infinity, and reads it back
    assert load_error(path) == f"{path} row 1, column params: 'inf' is not a finite number"


def test_counter_files_check_their_own_columns(tmp_path):
    cfg = resolve("vit_ti16", 32, depth=2)
    rows = [{**cfg.to_row(), **cost_row(cfg), "counter": "analytic", "flops": "many"}]  # `flops --json` shape
    path = tmp_path / "cost.json"
    path.write_text(json.dumps(rows))
    assert load_error(path) == f"{path} row 1, column flops: 'many' is not a number"


def test_a_negative_split_rest_is_a_genuine_value(tmp_path):
    path = corrupt(tmp_path, "time_ms_rest", "-0.02", name="ci_smoke")  # median total - the components' medians
    assert len(load_results(path)) == 4
    path = corrupt(tmp_path, "time_ms_mlp", "-0.02", name="ci_smoke")
    assert load_error(path) == f"{path} line 4, column time_ms_mlp: '-0.02' must be >= 0"


def test_invalid_rows_and_empty_cells_are_not_errors(tmp_path):
    path = corrupt(tmp_path, "res_h", "225", name="ci_smoke")  # an impossible config ...
    rows = list(csv.reader(open(path, newline="")))
    header = rows[0]
    for column in ("tokens", "params", "macs", "latency_ms_median", "mem_peak_mib"):
        rows[3][header.index(column)] = ""
    rows[3][header.index("status")] = "invalid"  # ... recorded by --skip-invalid: no tokens, no numbers
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    assert len(load_results(path)) == 3  # the invalid row has no config to draw


def test_in_memory_rows_are_checked_too():
    rows = pd.read_csv(FIXTURES / "zoo.csv")
    rows.loc[1, "latency_ms_median"] = -1.0
    with pytest.raises(VitbenchError, match=r"^rows row 2, column latency_ms_median: -1 must be > 0$"):
        prepare(rows)
    check_values(pd.read_csv(FIXTURES / "zoo.csv"))  # the fixture itself is fine


def test_every_fixture_and_baseline_loads():
    root = FIXTURES.parent.parent
    from vitbench.samples import SUFFIX

    paths = [*FIXTURES.glob("*.csv"), *(root / "results" / "baselines").glob("*.csv")]
    for path in [p for p in paths if not p.name.endswith(SUFFIX)]:  # raw samples beside a results file
        assert len(load_results(path)) > 0, path


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {name: load_results(FIXTURES / f"{name}.csv") for name in ("ci_smoke", "patch_sizes", "resolutions", "zoo")}


def test_load_errors(tmp_path):
    with pytest.raises(VitbenchError, match="not found"):
        load_results(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(VitbenchError, match="cannot read"):
        load_results(tmp_path / "empty.csv")
    (tmp_path / "binary.csv").write_bytes(PNG_MAGIC + b"\x00\xff\xfe")
    with pytest.raises(VitbenchError, match="cannot read"):
        load_results(tmp_path / "binary.csv")
    (tmp_path / "other.csv").write_text("model,tokens\nvit_b16,197\n")
    with pytest.raises(VitbenchError, match="lacks required column.*patch, res_h"):
        load_results(tmp_path / "other.csv")
    (tmp_path / "header.csv").write_text(",".join(ALL_COLUMNS) + "\n")
    with pytest.raises(VitbenchError, match="no rows"):
        load_results(tmp_path / "header.csv")


def test_load_json_cost_only_rows(tmp_path):
    cfgs = [resolve("vit_ti16", r, depth=2) for r in (32, 64)]
    rows = [{**c.to_row(), **cost_row(c), "counter": "analytic"} for c in cfgs]  # `flops --json` shape
    (tmp_path / "cost.json").write_text(json.dumps(rows))
    df = load_results(tmp_path / "cost.json")
    assert list(df["status"]) == ["ok", "ok"] and list(df["tokens"]) == [5, 17]


def test_fixture_cost_columns_are_the_closed_form():
    for path in FIXTURES.glob("*.csv"):
        for _, row in load_results(path).iterrows():
            expected = cost_row(ViTConfig.from_row(row))
            assert {c: row[c] for c in CONFIG_COST_COLUMNS} == pytest.approx(expected, rel=1e-6), path.name


def test_fixture_columns_are_in_the_schema():
    for path in FIXTURES.glob("*.csv"):
        assert set(pd.read_csv(path, nrows=0).columns) <= set(ALL_COLUMNS), path.name


def test_arch_labels(frames):
    assert set(frames["patch_sizes"]["arch"]) == {"vit_b (P8/14/16/32)"}  # one name, a patch override
    assert set(frames["resolutions"]["arch"]) == {"vit_b16", "vit_l16"}
    zoo = frames["zoo"].set_index("model")["arch"]
    assert zoo["vit_b8"] == zoo["vit_b32"] == "vit_b (P8/16/32)"
    assert zoo["deit_b16"] == "deit_b16"  # distillation token: another architecture


def test_overridden_presets_are_labelled_with_width_and_depth(frames):
    df = frames["ci_smoke"]  # 'vit_s16' rows of width 64, depth 2: not a ViT-S
    assert set(df["arch"]) == {"vit_s (P8/16) D64 L2"}
    assert with_patch("vit_s (P8/16) D64 L2", 8) == "vit_s8 D64 L2"
    assert with_patch("vit_b16", 16) == "vit_b16" and with_patch("custom", 16) == "custom, patch 16"


def test_clashing_labels_get_width_and_depth():
    cfgs = [resolve("vit_ti16", 32, depth=2), resolve("vit_ti16", 32, depth=3)]
    df = prepare(pd.DataFrame([make_row(**c.to_row(), **cost_row(c)) for c in cfgs]))
    assert sorted(df["arch"]) == ["vit_ti16 D192 L2", "vit_ti16 D192 L3"]
