import pytest

from vitbench.records import ALL_COLUMNS, make_row


def test_rows_reject_unknown_columns_and_statuses():
    assert list(make_row(status="oom")) == list(ALL_COLUMNS)
    with pytest.raises(KeyError):
        make_row(latency_s=1.0)
    with pytest.raises(ValueError, match="not one of ok, oom"):
        make_row(status="crashed")


def test_flops_row_has_the_flops_columns_in_order():
    from vitbench.cost import analytic
    from vitbench.records import FLOPS_COLUMNS, flops_row
    from vitbench.zoo import preset

    cfg = preset("vit_b16")
    row = flops_row(cfg, analytic.macs(cfg), 1, "closed-form")
    assert tuple(row) == FLOPS_COLUMNS
    assert row["macs"] == 17_563_828_224 and row["flops"] == 2 * row["macs"] and row["ops_norm"] == 18_912_000
