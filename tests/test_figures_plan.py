"""vitbench.figures.plan and .rows: which figures each suite-shaped CSV supports (tests/fixtures, synthetic
measured values), why the others are skipped, and the data they would draw — all without drawing: nothing here
renders a figure (tests/test_figures_draw.py does)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from vitbench.cost.analytic import cost_row
from vitbench.figures.plan import (FIGURES, MAX_MODEL_PANELS, MacsVsTokens, plan_figures, plan_latency_vs_tokens,
                                   train_infer_ratio)
from vitbench.figures.rows import Skip, cost_rows, measured_rows, memory_lower_bound_mb, series
from vitbench.results_frame import load_results, prepare
from vitbench.schema import make_row
from vitbench.zoo import ViTConfig, resolve

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
ALL = {figure.name for figure in FIGURES}
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


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {name: load_results(FIXTURES / f"{name}.csv") for name in EXPECTED}


@pytest.fixture(scope="module")
def plans(frames) -> dict[str, dict]:
    return {name: plan_figures(df) for name, df in frames.items()}


def skipped(plan: dict) -> dict[str, str]:
    return {name: data.reason for name, data in plan.items() if isinstance(data, Skip)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_suite_shape_chooses_the_figures_it_supports(plans, name):
    plan = plans[name]
    assert list(plan) == [figure.name for figure in FIGURES]
    assert {n for n, data in plan.items() if not isinstance(data, Skip)} == EXPECTED[name]
    assert set(skipped(plan)) == ALL - EXPECTED[name]
    assert all(why.strip() for why in skipped(plan).values())


def test_every_figure_is_chosen_by_some_fixture(plans):
    assert set().union(*EXPECTED.values()) == ALL


def test_skip_reasons_say_why(plans):
    assert "single resolution" in skipped(plans["patch_sizes"])["attn_share_vs_res"]
    assert "CUDA" in skipped(plans["patch_sizes"])["mfu_vs_batch"]
    assert "token" in skipped(plans["cuda_batch"])["latency_vs_tokens"]
    without_train = skipped(plans["resolutions"])
    assert "no train rows" in without_train["train_memory_vs_batch"]
    assert "no train rows" in without_train["time_per_image_vs_tokens"]


def test_one_panel_per_model(plans):
    macs = plans["resolutions"]["macs_vs_tokens"]
    assert isinstance(macs, MacsVsTokens) and [p.arch for p in macs.panels] == ["vit_b16", "vit_l16"]
    assert all(p.connect for p in macs.panels)  # one patch size: the rows form one series
    b16 = macs.panels[0]
    assert b16.crossover == 3072 and b16.token_range[0] < 197 and b16.token_range[1] > 3072  # N = F is on the axis
    assert [p.connect for p in plans["zoo"]["macs_vs_tokens"].panels] == [True, True, True]


def test_at_most_six_model_panels():
    cfgs = [resolve("vit_ti16", r, depth=d) for d in range(1, 9) for r in (32, 64)]
    df = prepare(pd.DataFrame([make_row(**c.to_row(), **cost_row(c)) for c in cfgs]))
    macs = plan_figures(df)["macs_vs_tokens"]
    assert (len(macs.panels), macs.models) == (MAX_MODEL_PANELS, 8)


def test_cost_only_rows_choose_the_cost_figures():
    cfgs = [resolve("vit_ti16", r, depth=2) for r in (32, 64)]
    plan = plan_figures(prepare(pd.DataFrame([{**c.to_row(), **cost_row(c), "counter": "analytic"} for c in cfgs])))
    assert {n for n, data in plan.items() if not isinstance(data, Skip)} == {"macs_vs_tokens", "attn_share_vs_res"}
    assert skipped(plan)["latency_vs_tokens"] == "no latency_ms_median column (no measurement in this file)"


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
    assert plan_latency_vs_tokens(df[df["status"] == "error"]) == Skip("no row with status 'ok' has latency_ms_median")


def test_cost_figures_keep_failed_rows(frames):
    df = frames["resolutions"]
    assert (df["status"] == "error").sum() == 1
    rows = cost_rows(df, ["macs_attn_core"])
    assert 4097 in set(rows[rows["model"] == "vit_l16"]["tokens"])  # the failed 1024 px point
    assert cost_rows(df, ["nope"]) == Skip("no values in column(s) nope")


def test_lines_split_by_patch_when_tokens_repeat(frames):
    """ci_smoke has 17 tokens twice (patch 8 at 32 px, patch 16 at 64 px): one line per patch, no zigzag."""
    ok = measured_rows(frames["ci_smoke"], ["latency_ms_median"])
    title, lines = series(ok, "tokens")
    assert title == "model"
    assert {label: list(g["tokens"]) for label, g in lines} == {"vit_s8 D64 L2": [17, 65],
                                                                 "vit_s16 D64 L2": [5, 17]}


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
    # a timm / torchvision row: the closed form is of vitbench's own ViT, so no bound (as the row has none)
    assert memory_lower_bound_mb({**row, "model": "timm:vit_tiny_patch16_224"}) is None


def test_memory_figure_draws_a_bound_per_line(plans):
    memory = plans["resolutions"]["memory_vs_tokens"]
    assert len(memory.bounds) == len(memory.lines) and all(b is not None for b in memory.bounds)
    assert memory.devices == ("cpu",) and not memory.has_train


def test_train_rows_pair_with_their_inference_rows(frames):
    df = frames["train"]
    pairs = train_infer_ratio(measured_rows(df, ["latency_ms_median"]))
    assert len(pairs) == 10  # every measured train point has its infer point (suites/train.yaml on a CPU)
    assert (pairs["mode"] == "train").all() and (pairs["ratio"] > 0).all()
    assert pairs["macs_ratio"].between(2.9, 3.0).all()  # 3 × forward but the patch embed's 2 ×


def test_time_per_image_is_planned_at_one_batch(plans):
    data = plans["train"]["time_per_image_vs_tokens"]
    assert {int(b) for _, g in data.lines for b in g["batch"]} == {2}
    assert len(data.ratio_lines) == 2 and not data.pairs.empty


def test_memory_bound_of_a_train_row_is_the_training_model(frames):
    from vitbench.cost.memory import MIB, training_memory

    df = frames["train"]
    row = df[(df["mode"] == "train") & (df["status"] == "ok")].iloc[0]
    bound = training_memory(ViTConfig.from_row(row), int(row["batch"]), "fp32", "sdpa", "adamw", device="cpu")
    assert memory_lower_bound_mb(row) == row["mem_base_mib"] + bound.peak_lower_bound / MIB
    without = row.drop("mem_peak_pred_mib")  # an older row: computed from its config and runtime key
    assert memory_lower_bound_mb(without) == pytest.approx(memory_lower_bound_mb(row), rel=1e-12)


PLAN_ONLY = """
import sys
from vitbench.figures.plan import plan_figures
from vitbench.results_frame import load_results
for name in sys.argv[1:]:
    plan_figures(load_results(name))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("matplotlib", "torch")))
"""


def test_planning_imports_neither_matplotlib_nor_torch():
    run = subprocess.run([sys.executable, "-c", PLAN_ONLY, *map(str, sorted(FIXTURES.glob("*.csv")))],
                         capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stderr + run.stdout


def test_time_per_image_without_an_ok_train_row_says_so():
    from vitbench.figures.plan import plan_time_per_image_vs_tokens

    df = load_results(FIXTURES / "train.csv")
    df.loc[df["mode"] == "train", "status"] = "oom"
    assert plan_time_per_image_vs_tokens(df) == Skip("no train row with status ok and a latency")
