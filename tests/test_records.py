import pytest

from vitbench.records import ALL_COLUMNS, make_row


def test_rows_reject_unknown_columns_and_statuses():
    assert list(make_row(status="oom")) == list(ALL_COLUMNS)
    with pytest.raises(KeyError):
        make_row(latency_s=1.0)
    with pytest.raises(ValueError, match="not one of ok, oom"):
        make_row(status="crashed")
