import json

import pytest
import torch
from typer.testing import CliRunner

from vitbench.cli import app
from vitbench.schema import ALL_COLUMNS

TINY = ["--model", "vit_ti16", "--res", "32", "--depth", "2", "--dim", "64", "--heads", "4"]
FAST = ["--warmup", "0", "--min-warmup", "0", "--iters", "3", "--min-time", "0"]


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_bench_table_and_files(tmp_path):
    csv_path, json_path = tmp_path / "b.csv", tmp_path / "b.json"
    r = run("bench", *TINY, *FAST, "--batch", "1", "--batch", "2", "--device", "cpu",
            "--csv", str(csv_path), "--json", str(json_path))
    assert r.exit_code == 0, r.output
    for text in ("median ms", "p10–p90 ms", "IQR ms", "img/s", "peak MB", "vit_ti16", "ok"):
        assert text in r.stdout
    rows = json.loads(json_path.read_text())
    assert [row["batch"] for row in rows] == [1, 2]
    assert all(row["status"] == "ok" and row["mem_peak_mib"] > 0 for row in rows)
    assert list(rows[0]) == list(ALL_COLUMNS)
    header = csv_path.read_text().splitlines()[0].split(",")
    assert header == list(ALL_COLUMNS)
    meta = json.loads((tmp_path / "b.meta.json").read_text())
    assert meta["args"]["iters"] == 3 and meta["environment"]["torch"] == torch.__version__
    assert meta["start"] and meta["end"]


def test_bench_split_and_unsupported_backend_rows():
    r = run("bench", *TINY, *FAST, "--device", "cpu", "--attn", "efficient", "--isolate")
    assert r.exit_code == 0, r.output
    assert "unsupported" in r.stdout
    r = run("bench", *TINY, *FAST, "--device", "cpu", "--split")
    assert r.exit_code == 0, r.output
    assert "Measured split" in r.stdout and "MAC share" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--dtype", "fp8"], "valid: fp32, tf32, fp16, bf16, amp-fp16, amp-bf16"),
    (["--attn", "xformers"], "valid: sdpa, flash, efficient, cudnn, math, manual"),
    (["--device", "tpu"], "valid: auto, cpu, cuda, cuda:N"),
    (["--batch", "0"], "batch must be an integer >= 1"),
    (["--iters", "0"], "iters must be an integer >= 1"),
    (["--csv", "out.txt"], "--csv needs a path ending in .csv"),
    (["--res", "33"], "not divisible by patch 16"),
    (["--find-max-batch", "--device", "cpu"], "--find-max-batch needs a CUDA device"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    r = run("bench", *TINY, *FAST, *args)
    assert r.exit_code == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_without_cuda_exit_2():
    r = run("bench", *TINY, *FAST, "--device", "cuda")
    assert r.exit_code == 2 and "needs CUDA" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("ref", ["timm:vit_base_patch16_224", "torchvision:vit_b_16"])
def test_external_model_without_its_package_exit_2(ref):
    import importlib.util

    if importlib.util.find_spec(ref.split(":")[0]) is not None:
        pytest.skip("package installed here")
    r = run("bench", "--model", ref, "--device", "cpu")
    assert r.exit_code == 2
    assert f"optional package '{ref.split(':')[0]}'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_overrides_on_external_model_exit_2():
    r = run("bench", "--model", "timm:x", "--depth", "2", "--device", "cpu")
    assert r.exit_code == 2 and "zoo models only" in r.stderr


def test_peak_command_cpu(tmp_path):
    out = tmp_path / "peak.json"
    r = run("peak", "--device", "cpu", "--size", "64", "--copy-mb", "1", "--iters", "3", "--json", str(out))
    assert r.exit_code == 0, r.output
    assert "matmul fp32" in r.stdout and "copy" in r.stdout and "GB/s" in r.stdout
    rows = json.loads(out.read_text())
    assert {row["measure"] for row in rows} >= {"matmul fp32", "matmul bf16", "copy"}
    assert (tmp_path / "peak.meta.json").exists()


def test_peak_bad_size_exit_2():
    r = run("peak", "--device", "cpu", "--size", "0")
    assert r.exit_code == 2 and "--size must be a positive integer" in r.stderr


def test_help_lists_bench_and_peak_without_importing_torch():
    import subprocess
    import sys

    code = "import sys; from vitbench.cli import app; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    r = run("--help")
    assert "bench" in r.stdout and "peak" in r.stdout


def test_render_flags_noisy_rows_and_lists_errors():
    from vitbench.schema import make_row
    from vitbench.render.bench import error_lines, fmt_ms, noise_lines

    base = dict(model="vit_ti16", res_h=32, res_w=32, batch=1, dtype="fp32", attn="sdpa")
    quiet = make_row(**base, latency_ms_median=10.0, latency_ms_iqr=0.5, status="ok")
    noisy = make_row(**base, latency_ms_median=10.0, latency_ms_iqr=3.0, status="ok")
    failed = make_row(**base, status="oom", error="out of memory: tried 20 GiB")
    assert noise_lines([quiet, failed]) == []
    assert "IQR is 30.0% of the median" in noise_lines([noisy])[0]
    assert error_lines([quiet, failed]) == ["vit_ti16 32 px batch 1 fp32 sdpa: oom: out of memory: tried 20 GiB"]
    assert (fmt_ms(0.12345), fmt_ms(12.345), fmt_ms(1234.5), fmt_ms(None)) == ("0.123", "12.35", "1234.5", "-")
