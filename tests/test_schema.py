import pytest

from vitbench.cost import analytic
from vitbench.schema import ALL_COLUMNS, BY_NAME, CONFIG_KEY, FLOPS_COLUMNS, format_value, header, make_row
from vitbench.zoo import ViTConfig, preset, resolve


def test_rows_reject_unknown_columns_and_statuses():
    assert list(make_row(status="oom")) == list(ALL_COLUMNS)
    with pytest.raises(KeyError):
        make_row(latency_s=1.0)
    with pytest.raises(ValueError, match="not one of ok, oom"):
        make_row(status="crashed")


def test_flops_columns_come_from_config_and_breakdown_rows():
    cfg = preset("vit_b16")
    row = {**cfg.to_row(), "counter": "analytic", "count_device": "", "batch": 1,
           "params": analytic.params(cfg).total, **analytic.macs(cfg).to_row()}
    assert set(row) == set(FLOPS_COLUMNS)
    assert row["macs"] == 17_563_828_224 and row["flops"] == 2 * row["macs"] and row["ops_norm"] == 18_912_000


def test_every_column_once_with_a_unit_convention():
    assert len(ALL_COLUMNS) == len(set(ALL_COLUMNS))
    assert all(c in BY_NAME for c in FLOPS_COLUMNS + CONFIG_KEY)
    assert all(BY_NAME[c].unit == "MiB" for c in ALL_COLUMNS if c.startswith("mem_"))
    assert all(BY_NAME[c].unit == "ms" for c in ALL_COLUMNS if "_ms_" in c)
    assert header("mem_peak_mib") == "peak MiB" and header("latency_ms_median") == "median ms"


@pytest.mark.parametrize("name, value, text", [
    ("params", 86567656, "86,567,656"), ("params", "86567656.0", "86,567,656"), ("latency_ms_median", 1781.6, "1,782"),
    ("latency_ms_median", 0.4661, "0.466"), ("latency_ms_median", 12.345, "12.35"), ("mem_peak_mib", 706.14, "706.1"),
    ("attn_core_share", 0.0407, "4.1%"), ("compile", "True", "yes"), ("status", None, "-"), ("mfu", float("nan"), "-"),
])
def test_format_value_follows_the_column(name, value, text):
    assert format_value(name, value) == text


def test_config_round_trips_through_a_row():
    cfg = resolve("deit_s16", res="64x96", registers=2, pool="gap", num_classes=10, mlp_ratio=3.0)
    assert ViTConfig.from_row(cfg.to_row()) == cfg
    text = {k: str(v) for k, v in cfg.to_row().items()}  # as read back from a CSV
    assert ViTConfig.from_row(text) == cfg


@pytest.mark.parametrize("column, value", [("patch", "abc"), ("patch", "inf"), ("depth", "2.5"), ("res_h", "")])
def test_a_row_with_a_bad_config_value_is_bad_input(column, value):
    from vitbench.errors import VitbenchError

    row = {**preset("vit_ti16").to_row(), column: value}
    with pytest.raises(VitbenchError):
        ViTConfig.from_row(row)


def test_train_label_names_a_training_step_from_values_as_rows_hold_them():
    from vitbench.schema import train_label

    assert train_label("infer", "", False) == ""
    assert train_label("train", "adamw", False) == "train adamw"
    assert train_label("train", "sgd", True) == "train sgd ckpt"
    assert train_label("train", "adamw", "False") == "train adamw"  # read back as text: not checkpointed
    assert train_label("train", float("nan"), "True") == "train ckpt"
