"""vitbench.plot and vitbench.plotdata: figures from CSVs shaped like each shipped suite's output
(tests/fixtures, synthetic measured values), loading errors, labels, the memory lower bound, split curves."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pandas as pd
import pytest

from vitbench.errors import VitbenchError
from vitbench.plot import FIGURES, fig_latency_vs_tokens, plot_results, split_curves
from vitbench.plotdata import (cost_rows, load_results, measured_rows, memory_lower_bound_mb, prepare, row_config,
                               series, with_patch)
from vitbench.schema import ALL_COLUMNS, CONFIG_COST_COLUMNS, make_row
from vitbench.cost.analytic import cost_row
from vitbench.zoo import resolve

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ALL = {name for name, _, _ in FIGURES}
# What each suite-shaped fixture supports (the rest is skipped with a reason).
EXPECTED = {
    "ci_smoke": {"macs_vs_tokens", "attn_share_vs_res", "latency_vs_tokens", "memory_vs_tokens"},
    "patch_sizes": {"macs_vs_tokens", "latency_vs_tokens", "memory_vs_tokens"},
    "resolutions": {"macs_vs_tokens", "attn_share_vs_res", "latency_vs_tokens", "memory_vs_tokens"},
    "attention_backends": {"macs_vs_tokens", "attn_share_vs_res", "latency_vs_tokens", "memory_vs_tokens"},
    "zoo": {"macs_vs_tokens", "latency_vs_tokens", "memory_vs_tokens"},
    "cuda_batch": {"mfu_vs_batch"},
    "train": {"macs_vs_tokens", "attn_share_vs_res", "latency_vs_tokens", "memory_vs_tokens", "train_memory_vs_batch",
              "time_per_image_vs_tokens"},
}


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the magic bytes."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {name: load_results(FIXTURES / f"{name}.csv") for name in EXPECTED}


@pytest.fixture(scope="module")
def plotted(frames, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("plots")
    return {name: plot_results(df, out / name) for name, df in frames.items()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_suite_shape_draws_the_figures_it_supports(plotted, name):
    result = plotted[name]
    assert {f.name for f in result.made} == EXPECTED[name]
    assert {n for n, _ in result.skipped} == ALL - EXPECTED[name]
    assert all(why.strip() for _, why in result.skipped)
    for fig in result.made:
        assert fig.path.name == f"{fig.name}.png"
        width, height = png_size(fig.path)
        assert width >= 800 and height >= 500
        assert fig.path.stat().st_size > 10_000


def test_every_figure_is_drawn_by_some_fixture(plotted):
    assert set().union(*({f.name for f in r.made} for r in plotted.values())) == ALL


def test_figure_sizes_follow_the_panels(plotted):
    made = {f.name: f.path for f in plotted["resolutions"].made}
    assert png_size(made["attn_share_vs_res"]) == (840, 540)  # 7 x 4.5 in at 120 dpi
    assert png_size(made["macs_vs_tokens"]) == (1500, 1104)  # two models: two rows of two panels


def test_skip_reasons_say_why(plotted):
    skipped = dict(plotted["patch_sizes"].skipped)
    assert "single resolution" in skipped["attn_share_vs_res"]
    assert "CUDA" in skipped["mfu_vs_batch"]
    assert "token" in dict(plotted["cuda_batch"].skipped)["latency_vs_tokens"]


def test_svg_output(frames, tmp_path):
    result = plot_results(frames["cuda_batch"], tmp_path, fmt="svg")
    text = result.made[0].path.read_text()
    assert result.made[0].path.suffix == ".svg" and "<svg" in text[:2000]


def test_unknown_format_is_an_error(frames, tmp_path):
    with pytest.raises(VitbenchError, match="png, svg"):
        plot_results(frames["zoo"], tmp_path, fmt="jpg")


def test_measured_figures_use_ok_rows_only(frames):
    df = frames["attention_backends"]
    ok = measured_rows(df, ["latency_ms_median"])
    assert set(ok["status"]) == {"ok"}
    title, lines = series(ok, "tokens")
    assert title == "attention"
    labels = dict(lines)
    assert "cudnn" not in labels  # every cudnn row is 'unsupported'
    assert labels["manual"]["tokens"].max() == 3137  # manual at 4097 tokens ran out of memory


def test_failed_row_with_numbers_is_still_left_out():
    """A non-ok row is never plotted as a measurement, even if it carries latency values."""
    rows = [make_row(**cfg.to_row(), **cost_row(cfg), batch=1, device="cpu", dtype="fp32", attn="sdpa",
                     latency_ms_median=10.0 * (i + 1), status="ok" if i < 2 else "error")
            for i, cfg in enumerate(resolve("vit_ti16", r, depth=2) for r in (32, 64, 96))]
    df = prepare(pd.DataFrame(rows))
    assert list(measured_rows(df, ["latency_ms_median"])["tokens"]) == [5, 17]
    assert fig_latency_vs_tokens(df[df["status"] == "error"]) == "no row with status 'ok' has latency_ms_median"


def test_cost_figures_keep_failed_rows(frames):
    df = frames["resolutions"]
    assert (df["status"] == "error").sum() == 1
    rows = cost_rows(df, ["macs_attn_core"])
    assert 4097 in set(rows[rows["model"] == "vit_l16"]["tokens"])  # the failed 1024 px point


def test_fixture_cost_columns_are_the_closed_form(frames):
    for df in frames.values():
        for _, row in df.iterrows():
            expected = cost_row(row_config(row))
            assert {c: row[c] for c in CONFIG_COST_COLUMNS} == pytest.approx(expected, rel=1e-6)


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


def test_lines_split_by_patch_when_tokens_repeat(frames):
    """ci_smoke has 17 tokens twice (patch 8 at 32 px, patch 16 at 64 px): one line per patch, no zigzag."""
    ok = measured_rows(frames["ci_smoke"], ["latency_ms_median"])
    title, lines = series(ok, "tokens")
    assert title == "model"
    assert {label: list(g["tokens"]) for label, g in lines} == {"vit_s8 D64 L2": [17, 65],
                                                                 "vit_s16 D64 L2": [5, 17]}


def test_clashing_labels_get_width_and_depth():
    cfgs = [resolve("vit_ti16", 32, depth=2), resolve("vit_ti16", 32, depth=3)]
    df = prepare(pd.DataFrame([make_row(**c.to_row(), **cost_row(c)) for c in cfgs]))
    assert sorted(df["arch"]) == ["vit_ti16 D192 L2", "vit_ti16 D192 L3"]


def test_memory_lower_bound_by_hand():
    cfg = resolve("vit_ti16", 64, depth=2)  # N = 17, D = 192, F = 768, 3 heads
    row = {**cfg.to_row(), **cost_row(cfg), "batch": 4, "dtype": "fp16", "attn": "sdpa"}
    mlp_stage = 17 * (2 * 192 + 768)
    assert memory_lower_bound_mb(row) == pytest.approx((row["params"] * 2 + 4 * mlp_stage * 2) / 2**20)
    manual = {**row, "attn": "manual", "dtype": "amp-bf16", "mem_base_mib": 100.0}
    attn_stage = 4 * 17 * 192 + 3 * 17 * 17
    assert attn_stage < mlp_stage  # tiny N: the MLP stage is larger even with the N×N matrix
    assert memory_lower_bound_mb(manual) == pytest.approx(100 + (row["params"] * 4 + 4 * mlp_stage * 2) / 2**20)
    big = {**resolve("vit_ti16", 512, depth=2).to_row(), "params": 1000, "batch": 1, "dtype": "fp32",
           "attn": "math"}  # N = 1025: the scores dominate
    assert memory_lower_bound_mb(big) == pytest.approx((4000 + (4 * 1025 * 192 + 3 * 1025**2) * 4) / 2**20)
    assert memory_lower_bound_mb({**row, "dtype": "int8"}) is None
    assert memory_lower_bound_mb({**row, "batch": None}) is None


def test_split_curves_png_and_svg(tmp_path):
    png = split_curves([resolve("vit_b16", 224), resolve("vit_b16", 384)], tmp_path / "curves.png")
    assert png_size(png)[0] == 960
    svg = split_curves([resolve("vit_ti16", 32, depth=2)], tmp_path / "tiny.svg")
    assert "<svg" in svg.read_text()[:2000]
    with pytest.raises(VitbenchError, match=r"\.png or \.svg"):
        split_curves([resolve("vit_b16")], tmp_path / "curves.jpg")


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


def test_load_json_and_cost_only_files(tmp_path):
    cfgs = [resolve("vit_ti16", r, depth=2) for r in (32, 64)]
    rows = [{**c.to_row(), **cost_row(c), "counter": "analytic"} for c in cfgs]  # `flops --json` shape
    (tmp_path / "cost.json").write_text(json.dumps(rows))
    df = load_results(tmp_path / "cost.json")
    assert list(df["status"]) == ["ok", "ok"] and list(df["tokens"]) == [5, 17]
    result = plot_results(df, tmp_path / "figs")
    assert {f.name for f in result.made} == {"macs_vs_tokens", "attn_share_vs_res"}
    assert "no latency_ms_median column" in dict(result.skipped)["latency_vs_tokens"]


WRITE_FIGURES = """
from vitbench.errors import VitbenchError
from vitbench.plot import plot_results
from vitbench.plotdata import load_results
try:
    plot_results(load_results({csv!r}), {out!r})
except VitbenchError as e:
    print(e)
"""


def test_a_failed_figure_write_leaves_the_previous_figure_whole(tmp_path):
    from write_limits import run_with_write_limit

    out = tmp_path / "figs"
    plot_results(load_results(FIXTURES / "resolutions.csv"), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert min(len(b) for b in before.values()) > 20_000
    child = run_with_write_limit(WRITE_FIGURES.format(csv=str(FIXTURES / "resolutions.csv"), out=str(out)), 20_000,
                                 tmp_path)
    assert child.stdout.startswith(f"cannot write {out / 'macs_vs_tokens.png'}: File too large"), child.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # was cut at 20,000 bytes; no temp file left


def test_write_atomically_creates_files_with_the_usual_permissions(tmp_path):
    import os

    from vitbench.plot import write_atomically

    umask = os.umask(0o022)
    os.umask(umask)
    path = write_atomically(tmp_path / "sub" / "a.bin", lambda f: f.write(b"abc"))
    assert path.read_bytes() == b"abc" and path.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(VitbenchError, match=r"^cannot write .*a\.bin: boom$"):
        write_atomically(path, lambda f: (f.write(b"partial"), (_ for _ in ()).throw(OSError("boom"))))
    assert path.read_bytes() == b"abc" and os.listdir(path.parent) == ["a.bin"]


def test_train_figures_say_why_without_train_rows(plotted):
    skipped = dict(plotted["resolutions"].skipped)
    assert "no train rows" in skipped["train_memory_vs_batch"] and "no train rows" in skipped["time_per_image_vs_tokens"]


def test_train_rows_pair_with_their_inference_rows(frames):
    from vitbench.plot import train_infer_ratio

    df = frames["train"]
    pairs = train_infer_ratio(measured_rows(df, ["latency_ms_median"]))
    assert len(pairs) == 10  # every measured train point has its infer point (suites/train.yaml on a CPU)
    assert (pairs["mode"] == "train").all() and (pairs["ratio"] > 0).all()
    assert pairs["macs_ratio"].between(2.9, 3.0).all()  # 3 × forward but the patch embed's 2 ×


def test_memory_bound_of_a_train_row_is_the_training_model(frames):
    from vitbench.cost.memory import MIB, training_memory
    from vitbench.plotdata import memory_lower_bound_mb, row_config

    df = frames["train"]
    row = df[(df["mode"] == "train") & (df["status"] == "ok")].iloc[0]
    bound = training_memory(row_config(row), int(row["batch"]), "fp32", "sdpa", "adamw", device="cpu")
    assert memory_lower_bound_mb(row) == row["mem_base_mib"] + bound.peak_lower_bound / MIB
    without = row.drop("mem_peak_pred_mib")  # an older row: computed from its config and runtime key
    assert memory_lower_bound_mb(without) == pytest.approx(memory_lower_bound_mb(row), rel=1e-12)
