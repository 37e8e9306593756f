"""vitbench.plotdata.check_values: result files whose cells parse but hold bad values are refused on load with one
line naming the file, the row (CSV: its line in the file; JSON: its position) and the column (issue 10.8)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from vitbench.errors import VitbenchError
from vitbench.plotdata import check_values, csv_lines, load_results, prepare

FIXTURES = Path(__file__).resolve().parent / "fixtures"


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
    from vitbench.cost.analytic import cost_row
    from vitbench.zoo import resolve

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
    for path in [*FIXTURES.glob("*.csv"), *(root / "results" / "baselines").glob("*.csv")]:
        assert len(load_results(path)) > 0, path
