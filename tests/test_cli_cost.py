"""`vitbench models | params | flops | split` through typer's CliRunner, bad input included."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from vitbench.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_models_lists_zoo_with_exact_params():
    result = run("models")
    assert result.exit_code == 0
    assert "vit_b16" in result.output and "86,567,656" in result.output and "deit_b16" in result.output


def test_params_exact_integer_and_millions():
    result = run("params", "--model", "vit_b16", "--res", "384")
    assert result.exit_code == 0
    assert "86,859,496" in result.output and "86.859" in result.output


def test_flops_default_closed_form_with_convention():
    result = run("flops", "--model", "vit_b16", "--res", "384")
    assert result.exit_code == 0
    assert "55,484,350,464" in result.output and "110.969" in result.output  # MACs and GFLOPs
    assert "1 MAC = 1 multiply-add = 2 FLOPs" in result.output
    assert "attention (proj + core)" in result.output


def test_flops_batch_scales_totals():
    result = run("flops", "--model", "vit_b16", "--batch", "4")
    assert f"{4 * 17_563_828_224:,}" in result.output


def test_flops_all_counters_side_by_side_on_cpu(tmp_path):
    out = tmp_path / "f.csv"
    result = run("flops", "-m", "vit_ti16", "--res", "32", "--depth", "2", "--counter", "all", "--device", "cpu",
                 "--csv", str(out))
    assert result.exit_code == 0, result.output
    for name in ("analytic", "torch", "fvcore", "fvcore and torch agree with the closed form to the MAC"):
        assert name in result.output
    assert "Δ" not in result.output  # Δ columns appear only where a count differs
    import pandas as pd

    rows = pd.read_csv(out)
    assert list(rows.counter) == ["analytic", "fvcore", "torch"]
    assert rows.macs.nunique() == 1 and (rows.flops == 2 * rows.macs).all()


def test_flops_all_on_meta_by_default(tmp_path):
    out = tmp_path / "f.json"
    result = run("flops", "-m", "vit_b16", "--counter", "all", "--json", str(out))
    assert result.exit_code == 0
    rows = json.loads(out.read_text())
    assert [r["counter"] for r in rows] == ["analytic", "fvcore", "torch"]
    assert {r["macs"] for r in rows} == {17_563_828_224}
    assert rows[1]["ops_norm"] == rows[0]["ops_norm"] and rows[2]["ops_norm"] is None


def test_split_rows_per_resolution_and_crossovers():
    result = run("split", "-m", "vit_b16", "--res", "224", "--res", "384", "--res", "1024")
    assert result.exit_code == 0
    assert "4,097" in result.output and "N > 3,072 tokens" in result.output and "896 px" in result.output
    assert "N > 4,608 tokens" in result.output and "1088 px" in result.output


def test_split_single_resolution_per_block():
    result = run("split", "-m", "vit_b16")
    assert result.exit_code == 0 and "MACs/block" in result.output


def test_non_square_resolution():
    result = run("flops", "-m", "vit_b16", "--res", "224x320")
    assert result.exit_code == 0 and "224x320 px" in result.output


@pytest.mark.parametrize("args,fragments", [
    (["flops", "--model", "vit_b61x"], ["unknown model", "did you mean"]),
    (["flops", "--model", "vit_b16", "--res", "225"], ["not divisible by patch 16", "224 or 240"]),
    (["params", "--model", "vit_b16", "--heads", "5"], ["not divisible by 5 heads"]),
    (["flops", "--model", "vit_b16", "--depth", "0"], ["depth must be a positive integer"]),
    (["flops", "--model", "vit_b16", "--res", "-3"], ["resolution"]),
    (["flops", "--model", "vit_b16", "--batch", "0"], ["--batch", "greater than or equal to 1"]),
    (["flops", "--model", "vit_b16", "--counter", "thop"], ["'thop' is not one of", "'analytic', 'fvcore', 'torch'"]),
    (["flops", "--model", "vit_b16", "--device", "tpu"], ["'tpu' is not one of 'meta', 'cpu', 'cuda'"]),
    (["flops", "--model", "vit_b16", "--model", "vit_s16"], ["--model given more than once"]),
    (["flops", "--model", "vit_b16", "--mlp-ratio", "inf"], ["--mlp-ratio", "must be a finite number"]),
    (["flops", "--model", "vit_b16", "--json", "-", "--csv", "-"], ["only one of --csv and --json"]),
    (["flops", "--model", "vit_b16", "--csv", "out.json"], ["--csv needs a path ending in .csv"]),
    (["split", "--model", "vit_b16", "--plot", "x.jpg"], ["--plot x.jpg", ".png or .svg"]),
    (["flops", "--model", "vit_b16", "--batch", "abc"], ["Invalid value for '--batch'"]),
    (["flops"], ["Missing option '--model'"]),
    (["flops", "-m", "vit_b16", "--pool", "max"], ["'max' is not one of 'cls', 'gap'"]),
    (["frobnicate"], ["No such command"]),
])
def test_bad_input_is_one_line_exit_2(args, fragments):
    assert_one_line_error(run(*args), *fragments)


def test_cuda_counting_without_cuda_is_one_line():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    assert_one_line_error(run("flops", "-m", "vit_ti16", "--counter", "torch", "--device", "cuda"),
                          "CUDA is not available")


def test_fvcore_missing_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "fvcore.nn", None)
    assert_one_line_error(run("flops", "-m", "vit_ti16", "--counter", "fvcore", "--device", "cpu"),
                          "fvcore is not installed")


def _imports_torch(*args) -> bool:
    code = ("import sys; from vitbench.cli import app; from typer.testing import CliRunner; "
            f"r = CliRunner().invoke(app, {list(args)!r}); assert r.exit_code == 0, r.output; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize("args", [["--help"], ["models"], ["flops", "-m", "vit_b16"], ["split", "-m", "vit_l16"],
                                  ["params", "-m", "vit_h14"]])
def test_cost_commands_do_not_import_torch(args):
    assert not _imports_torch(*args)


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "vitbench", "models"], capture_output=True, text=True)
    assert out.returncode == 0 and "vit_h14" in out.stdout


@pytest.mark.parametrize("command", ["models", "params", "flops", "split"])
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_rows_to_stdout_are_data_only(command, fmt):
    """`flops --json -` printed the table and exited 2; every cost command takes --csv/--json, '-' = stdout."""
    import io

    import pandas as pd

    args = [command] + ([] if command == "models" else ["-m", "vit_b16", "--res", "224", "--res", "384"])
    result = run(*args, f"--{fmt}", "-")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout) if fmt == "json" else pd.read_csv(io.StringIO(result.stdout)).to_dict("records")
    assert len(rows) == (13 if command == "models" else 2) and all("model" in r for r in rows)
    assert result.stderr.strip()  # the table went to stderr


def test_every_result_file_gets_a_sidecar(tmp_path):
    out = tmp_path / "f.csv"
    assert run("flops", "-m", "vit_b16", "--csv", str(out)).exit_code == 0
    meta = json.loads((tmp_path / "f.meta.json").read_text())
    assert meta["kind"] == "flops" and meta["settings"]["model"] == "vit_b16" and meta["status"] == "complete"


def test_params_rows_split_by_component_and_sum_to_the_total(tmp_path):
    result = run("params", "-m", "vit_b16", "--json", "-")
    row = json.loads(result.stdout)[0]
    assert row["params"] == 86_567_656 == sum(v for k, v in row.items() if k.startswith("params_"))


def test_exact_counts_fit_80_columns(monkeypatch):
    """`COLUMNS=80 vitbench flops --model vit_h14 --res 518` cut the total to '…'."""
    monkeypatch.setenv("COLUMNS", "80")
    for args in (["flops", "-m", "vit_h14", "--res", "518"], ["params", "-m", "vit_h14", "--res", "518"],
                 ["flops", "-m", "vit_h14", "--counter", "all"], ["models"],
                 ["split", "-m", "vit_h14", "--res", "224", "--res", "518", "--res", "1022"]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert "…" not in result.output and max(map(len, result.output.splitlines())) <= 80, args
    assert "1,016,716,764,160" in run("flops", "-m", "vit_h14", "--res", "518").output


def test_version():
    from vitbench import __version__

    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"vitbench {__version__}"


def test_a_model_too_large_to_trace_is_one_line():
    """Issue 10: `flops --counter torch --res 1000000000` ended in a RuntimeError traceback."""
    assert_one_line_error(run("flops", "-m", "vit_ti16", "--counter", "torch", "--res", "1000000000"),
                          "too large to trace on meta", "--counter analytic")
    assert run("flops", "-m", "vit_ti16", "--res", "1000000000").exit_code == 0  # the closed form counts it


def test_compare_peers_shows_what_plain_counters_miss():
    result = run("flops", "-m", "vit_ti16", "--res", "32", "--depth", "2", "--dim", "64", "--heads", "4",
                 "--compare-peers")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "What other counters report" in flat and "FlopCounterMode" in flat
    assert "attn_core 0 of 6,400" in flat and "aten::scaled_dot_product_attention" in flat
