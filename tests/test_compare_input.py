"""vitbench.compare_input: a result file as the gate reads it (rows and where each is, checked numbers, the σ of
each row's iterations). No torch."""

import math

import pytest

from vitbench.compare_input import Side, frame, load_rows
from vitbench.errors import VitbenchError


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    (b"", "cannot read"),
    (b"\xff\xfe\x00garbage\x00\xff", "cannot read"),
    (b"model,params\n", "has no rows"),
    (b"name,params\nx,1\n", r"missing column\(s\) model"),
])
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VitbenchError, match=message) as err:
        load_rows(path)
    assert "\n" not in str(err.value)


def test_a_side_holds_checked_numbers_and_each_rows_relative_spread():
    df = frame([
        {"model": "vit_ti16", "params": "123456789012345678901", "latency_ms_median": "10", "latency_ms_iqr": "1.349"},
        {"model": "vit_s16", "params": "7", "latency_ms_median": "10", "latency_ms_p10": "9",
         "latency_ms_p90": "11.563"},  # no IQR: σ = (p90 - p10) / 2.563 = 1 ms
        {"model": "vit_b16", "params": "8", "status": "oom"},
    ])
    side = Side(df, ("params",), "a.csv", None, "a.samples", None, {})
    assert side.values["params"][0] == 123456789012345678901  # an int, beyond float precision
    assert side.rel_sigma(0) == pytest.approx(0.1) and side.rel_sigma(1) == pytest.approx(0.1)
    assert math.isnan(side.rel_sigma(2)) and list(side.status) == ["ok", "ok", "oom"]
    assert side.rel_iqr(1) == pytest.approx(0.1349) and side.samples == {}
