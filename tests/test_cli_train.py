"""The training side of the CLI through typer's CliRunner: `bench --mode train`, `flops --mode train`, `memory`,
`train-cost` (the ViT paper's figures from their inputs), and their bad input (one line, exit 2)."""

import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from vitbench.cli import app
from vitbench.cost.memory import MIB, training_memory
from vitbench.zoo import resolve

FAST = ["--warmup", "1", "--min-warmup", "0", "--iters", "10", "--min-time", "0"]
JFT = ["--classes", "18291", "--dataset-size", "303000000"]  # ViT paper: JFT-300M, 18,291 classes, 224 px


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def ok_json(*args) -> list[dict]:
    result = run(*args, "--json", "-")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ------------------------------------------------------------------------------------------------ bench

def test_bench_train_writes_an_ok_train_row(tmp_path):
    """Issue 14, done when: `bench --model vit_ti16 --res 64 --batch 4 --mode train --device cpu` writes an ok
    row with mode train (that its latency is above the same point's inference: tests/test_point_train.py, where
    the two are measured interleaved in one process)."""
    out = tmp_path / "train.csv"
    result = run("bench", "--model", "vit_ti16", "--res", "64", "--batch", "4", "--device", "cpu", *FAST,
                 "--mode", "train", "--csv", out)
    assert result.exit_code == 0, result.output
    train = pd.read_csv(out).iloc[0]
    assert train["status"] == "ok" and train["mode"] == "train" and train["optimizer"] == "adamw"
    assert not train["grad_checkpoint"] and train["attn_kernel"] == "_scaled_dot_product_flash_attention_for_cpu"
    assert train["macs_train"] == 3 * train["macs"] - train["macs_patch_embed"]
    assert train["latency_ms_median"] > 0 and len(pd.read_csv(tmp_path / "train.samples.csv")) == train["n_iters"]


def test_bench_train_row_splits_memory_and_carries_the_closed_form(tmp_path):
    """The measured split (tensor bytes of one step) equals the memory model to the byte; the measured peak
    above the base is at least the closed-form lower bound. The table shows both."""
    cfg = ["--model", "vit_ti16", "--res", "32", "--depth", "2", "--dim", "64", "--heads", "4", "--batch", "3"]
    result = run("bench", *cfg, "--device", "cpu", "--mode", "train", "--optimizer", "sgd", "--attn", "manual",
                 "--warmup", "0", "--min-warmup", "0", "--iters", "2", "--min-time", "0", "--json", tmp_path / "t.json")
    assert result.exit_code == 0, result.output
    assert "Training memory (MiB)" in result.stdout and "fp32 manual train sgd" in result.stdout
    row = json.loads((tmp_path / "t.json").read_text())[0]
    mem = training_memory(resolve("vit_ti16", 32, depth=2, dim=64, heads=4), 3, "fp32", "manual", "sgd",
                          device="cpu")
    assert (row["mem_weights_mib"], row["mem_grads_mib"], row["mem_optimizer_mib"], row["mem_activations_mib"]) == (
        mem.weights / MIB, mem.gradients / MIB, (mem.optimizer_state + mem.optimizer_steps) / MIB,
        mem.activations / MIB)
    assert row["mem_peak_pred_mib"] == mem.peak_lower_bound / MIB
    assert row["mem_peak_mib"] - row["mem_base_mib"] >= row["mem_peak_pred_mib"]


@pytest.mark.parametrize("args, fragments", [
    (["--optimizer", "sgd"], ["--optimizer describes a training step; add --mode train"]),
    (["--grad-checkpoint"], ["--grad-checkpoint describes a training step"]),
    (["--mode", "train", "--split"], ["--split", "does not apply to --mode train"]),
    (["--mode", "train", "--optimizer", "lamb"], ["'lamb' is not one of 'adamw', 'sgd'"]),
    (["--mode", "train", "--find-max-batch"], ["--find-max-batch needs a CUDA device"]),
])
def test_bench_train_bad_input_is_one_line(args, fragments):
    assert_one_line_error(run("bench", "-m", "vit_ti16", "--device", "cpu", *args), *fragments)


def test_bench_train_fp16_weights_are_an_unsupported_row():
    result = run("bench", "-m", "vit_ti16", "--res", "32", "--depth", "1", "--device", "cpu", "--mode", "train",
                 "--dtype", "fp16", *FAST, "--json", "-")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)[0]
    assert row["status"] == "unsupported" and "use amp-fp16" in row["error"]


# ------------------------------------------------------------------------------------------------ flops

@pytest.mark.parametrize("model", ["vit_b16", "deit_s16", "vit_h14"])
def test_flops_train_is_three_forwards_for_every_matmul_but_the_patch_embed(model):
    row = ok_json("flops", "-m", model, "--mode", "train", "--attn", "manual")[0]
    assert row["macs_train"] == 3 * row["macs"] - row["macs_patch_embed"]  # the image needs no gradient
    assert row["macs_step"] == row["macs_train"] and row["macs_recompute"] == 0  # materialised: no recompute


def test_flops_train_recompute_terms():
    cfg = resolve("vit_b16")
    n, d, f, depth = cfg.tokens, cfg.dim, cfg.mlp_hidden, cfg.depth
    fused = ok_json("flops", "-m", "vit_b16", "--mode", "train")[0]  # sdpa: a fused kernel recomputes QKᵀ
    assert fused["macs_recompute"] == depth * n * n * d
    ckpt = ok_json("flops", "-m", "vit_b16", "--mode", "train", "--attn", "math", "--grad-checkpoint")[0]
    # every block again up to fc1: projections + core + fc1
    assert ckpt["macs_recompute"] == fused["macs_attn_proj"] + fused["macs_attn_core"] + depth * n * d * f
    assert ckpt["macs_step"] == ckpt["macs_train"] + ckpt["macs_recompute"]


def test_flops_train_table_and_a_real_step_counted_by_torch():
    result = run("flops", "-m", "vit_ti16", "--res", "64", "--depth", "2", "--mode", "train", "--counter", "all",
                 "--device", "cpu", "--grad-checkpoint")
    assert result.exit_code == 0, result.output
    for text in ("Training MACs", "bwd/fwd", "recompute", "model MACs (forward + backward, the MFU numerator)",
                 "torch (FlopCounterMode over a real step, on cpu)", "equal to the closed form"):
        assert text in result.stdout, text


@pytest.mark.parametrize("args, fragments", [
    (["--mode", "train", "--counter", "fvcore"], ["fvcore traces a forward only"]),
    (["--mode", "train", "--counter", "torch"], ["on the meta device SDPA runs as the math path"]),
    (["--grad-checkpoint"], ["--grad-checkpoint describes a training step; add --mode train"]),
])
def test_flops_train_bad_input_is_one_line(args, fragments):
    assert_one_line_error(run("flops", "-m", "vit_ti16", *args), *fragments)


# ------------------------------------------------------------------------------------------------ memory

def test_memory_train_prints_the_model_and_writes_it_in_mib():
    result = run("memory", "-m", "vit_ti16", "--batch", "8", "--device", "cpu")
    assert result.exit_code == 0, result.output
    for text in ("Training memory (MiB, closed form, cpu rules)", "optimizer state", "peak lower bound"):
        assert text in result.stdout
    row = ok_json("memory", "-m", "vit_ti16", "--batch", "8", "--device", "cpu", "--grad-checkpoint")[0]
    mem = training_memory(resolve("vit_ti16"), 8, grad_checkpoint=True, device="cpu")
    assert row["mem_activations_mib"] == mem.activations / MIB and row["mem_recompute_mib"] == mem.recompute / MIB
    assert row["mem_peak_pred_mib"] == mem.peak_lower_bound / MIB and row["optimizer"] == "adamw"


def test_memory_infer_is_the_forward_bound():
    row = ok_json("memory", "-m", "vit_b16", "--mode", "infer", "--batch", "2", "--dtype", "bf16")[0]
    cfg = resolve("vit_b16")
    live = 2 * cfg.tokens * (2 * cfg.dim + cfg.mlp_hidden) * 2
    assert row["mem_peak_pred_mib"] * MIB == row["params"] * 2 + live and row["optimizer"] is None


@pytest.mark.parametrize("args, fragments", [
    (["--dtype", "fp16"], ["dtype 'fp16' is not trained here", "use amp-fp16"]),
    (["--mode", "infer", "--optimizer", "sgd"], ["--optimizer describes a training step"]),
    (["--device", "tpu"], ["'tpu' is not one of 'cuda', 'cpu'"]),
])
def test_memory_bad_input_is_one_line(args, fragments):
    assert_one_line_error(run("memory", "-m", "vit_ti16", *args), *fragments)


# ------------------------------------------------------------------------------------------------ train-cost

def test_train_cost_reproduces_the_vit_papers_h14_core_days():
    """ViT paper, Table 2: ViT-H/14 on JFT-300M, 14 epochs at 224 px, 2.5k TPUv3-core-days -> an MFU of 32.05 %
    of the TPU v3 core's bf16 peak (61.5 TFLOP/s); at that MFU the run takes 2,500 core-days again."""
    row = ok_json("train-cost", "-m", "vit_h14", *JFT, "--epochs", "14", "--device", "tpu-v3-core",
                  "--device-days", "2500")[0]
    assert round(row["mfu"], 4) == 0.3205 and row["hardware"] == "tpu-v3-core" and row["peak_tflops"] == 61.5
    assert row["flops_total"] == 2 * row["macs_total"] == 2 * row["macs_train"] * 4_242_000_000
    back = ok_json("train-cost", "-m", "vit_h14", *JFT, "--epochs", "14", "--device", "tpu-v3-core",
                   "--mfu", row["mfu"])[0]
    assert back["device_days"] == pytest.approx(2500, rel=1e-12)


@pytest.mark.parametrize("model, epochs, paper", [("vit_b16", 7, 224), ("vit_l16", 14, 1567), ("vit_h14", 14, 4262)])
def test_train_cost_reproduces_the_vit_papers_table6_exaflops(model, epochs, paper):
    """Table 6, 'pre-training compute, exaFLOPs', with the paper's convention (3 × forward)."""
    row = ok_json("train-cost", "-m", model, *JFT, "--epochs", epochs, "--device", "tpu-v3-core", "--mfu", "0.5",
                  "--convention", "3x-forward")[0]
    assert abs(row["flops_total"] / 1e18 / paper - 1) < 0.0015


def test_train_cost_table_money_and_device_hours():
    result = run("train-cost", "-m", "vit_b16", "--images", "1000000", "--device", "a100", "--dtype", "amp-bf16",
                 "--mfu", "0.4", "--price", "2")
    assert result.exit_code == 0, result.output
    for text in ("A100 SXM4 80GB", "peak (bf16)", "312", "40.00%", "GPU-hours", "GPU-days", "at 2 per GPU-hour"):
        assert text in result.stdout, text


def test_device_days_keep_three_significant_digits():
    # 1.3e9 images of ViT-B/16 at 40 % of an H100's bf16 peak: 95.9 GPU-hours = 3.996 GPU-days, not "4"
    result = run("train-cost", "-m", "vit_b16", "--images", "1300000000", "--device", "h100-sxm", "--mfu", "0.4")
    assert result.exit_code == 0, result.output
    assert re.search(r"95\.9 +GPU-hours", result.stdout) and re.search(r" 4\.00 +GPU-days", result.stdout)


def test_train_cost_takes_the_mfu_of_a_measured_train_file(tmp_path):
    from vitbench.schema import make_row

    cfg = resolve("vit_b16")
    base = {**cfg.to_row(), "mode": "train", "device": "cuda", "device_name": "NVIDIA H100 80GB HBM3",
            "attn": "sdpa", "status": "ok"}
    rows = [make_row(**base, batch=64, dtype="amp-bf16", mfu=0.41), make_row(**base, batch=32, dtype="amp-bf16",
            mfu=0.38), make_row(**base, batch=64, dtype="fp32", mfu=0.6), make_row(**{**base, "mode": "infer"},
            batch=64, dtype="bf16", mfu=0.7)]
    path = tmp_path / "measured.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    row = ok_json("train-cost", "-m", "vit_b16", "--images", "10", "--device", "h100", "--measured", path)[0]
    assert row["mfu"] == 0.41  # the best bf16 train row; fp32 and infer rows do not count
    result = run("train-cost", "-m", "vit_b16", "--images", "10", "--device", "h100", "--measured", path)
    assert "measured: vit_b16 P16 224 px batch 64 amp-bf16 sdpa on NVIDIA H100 80GB HBM3" in result.stdout


def test_a_measured_mfu_comes_from_the_same_architecture_not_the_same_name(tmp_path):
    from vitbench.schema import make_row

    base = {"mode": "train", "device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "attn": "sdpa",
            "status": "ok", "batch": 64, "dtype": "amp-bf16"}
    rows = [make_row(**resolve("vit_ti16", 64).to_row(), **base, mfu=0.1),
            make_row(**{**resolve("vit_ti16", 64, patch=8).to_row(), "model": "vit_ti16"}, **base, mfu=0.9),
            make_row(**{**resolve("vit_ti16", 64).to_row(), "depth": 13}, **base, mfu=0.8)]
    path = tmp_path / "measured.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    row = ok_json("train-cost", "-m", "vit_ti16", "--res", "64", "--images", "10", "--device", "h100",
                  "--measured", path)[0]
    assert row["mfu"] == 0.1  # patch 8 and depth 13 rows share the name, not the model


@pytest.mark.parametrize("args, fragments", [
    (["--images", "10", "--device", "h100"], ["exactly one of --mfu, --measured and --device-days"]),
    (["--images", "10", "--device", "h100", "--mfu", "0.4", "--device-days", "3"], ["exactly one of"]),
    (["--images", "10", "--device", "h100", "--mfu", "40"], ["MFU is a fraction in (0, 1]"]),
    (["--device", "h100", "--mfu", "0.4"], ["give images, or dataset size and epochs"]),
    (["--images", "10", "--device", "tpu-v9", "--mfu", "0.4"], ["unknown device 'tpu-v9'", "tpu-v3-core"]),
    (["--images", "10", "--device", "tpu-v4", "--dtype", "fp32", "--mfu", "0.4"], ["no fp32 peak"]),
    (["--images", "4242000000", "--classes", "18291", "--device", "tpu-v3-core", "--device-days", "100"],
     ["imply an MFU of", "> 1"]),
])
def test_train_cost_bad_input_is_one_line(args, fragments):
    assert_one_line_error(run("train-cost", "-m", "vit_h14", *args), *fragments)


def test_train_cost_measured_file_without_a_usable_row_is_one_line(tmp_path):
    from vitbench.schema import make_row

    path = tmp_path / "cpu.csv"
    pd.DataFrame([make_row(**resolve("vit_b16").to_row(), mode="train", batch=2, dtype="fp32", device="cpu",
                           attn="sdpa", status="ok")]).to_csv(path, index=False)
    assert_one_line_error(run("train-cost", "-m", "vit_b16", "--images", "10", "--device", "h100", "--measured", path),
                          "no ok train row with an MFU for vit_b16 at 224 px in bf16", "CPU rows have no datasheet peak")


def test_cost_commands_for_training_do_not_import_torch():
    import subprocess
    import sys

    for args in (["flops", "-m", "vit_b16", "--mode", "train"], ["memory", "-m", "vit_b16"],
                 ["train-cost", "-m", "vit_b16", "--images", "10", "--device", "h100", "--mfu", "0.4"]):
        code = ("import sys; from vitbench.cli import app; from typer.testing import CliRunner; "
                f"r = CliRunner().invoke(app, {args!r}); assert r.exit_code == 0, r.output; "
                "print('torch' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip().splitlines()[-1] == "False", args


def test_training_tables_fit_80_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    for args in (["flops", "-m", "vit_h14", "--res", "518", "--mode", "train", "--grad-checkpoint"],
                 ["memory", "-m", "vit_h14", "--res", "518", "--batch", "64", "--dtype", "amp-bf16"],
                 ["memory", "-m", "vit_h14", "--mode", "infer", "--attn", "manual"],
                 ["train-cost", "-m", "vit_h14", *JFT, "--epochs", "14", "--device", "tpu-v3-core", "--mfu", "0.3",
                  "--price", "1.5"]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert "…" not in result.output and max(map(len, result.output.splitlines())) <= 80, args
