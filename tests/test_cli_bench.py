import json

import pandas as pd
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
    for text in ("median ms", "p10–p90 ms", "img/s", "peak MiB", "vit_ti16 32 b1", "fp32 sdpa", "ok"):
        assert text in r.stdout
    assert "[1/2]" in r.stderr and "[2/2]" in r.stderr  # progress on stderr
    rows = json.loads(json_path.read_text())
    assert [row["batch"] for row in rows] == [1, 2]
    assert all(row["status"] == "ok" and row["mem_peak_mib"] > 0 for row in rows)
    assert list(rows[0]) == list(ALL_COLUMNS)
    header = csv_path.read_text().splitlines()[0].split(",")
    assert header == list(ALL_COLUMNS)
    for stem in ("b",):
        meta = json.loads((tmp_path / f"{stem}.meta.json").read_text())
        assert meta["kind"] == "bench" and meta["settings"]["spec"]["iters"] == 3
        assert meta["environment"]["torch"] == torch.__version__ and meta["start"] and meta["end"]
    samples = pd.read_csv(tmp_path / "b.samples.csv")
    assert len(samples) == sum(row["n_iters"] for row in rows)


def test_bench_json_to_stdout_is_json_only(tmp_path):
    r = run("bench", *TINY, *FAST, "--device", "cpu", "--json", "-")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert len(rows) == 1 and rows[0]["status"] == "ok" and "median ms" in r.stderr


def test_bench_refuses_to_overwrite_a_results_file(tmp_path):
    out = tmp_path / "b.csv"
    out.write_text("measured,earlier\n")
    r = run("bench", *TINY, *FAST, "--device", "cpu", "--csv", str(out))
    assert r.exit_code == 2 and "already exists" in r.stderr and out.read_text() == "measured,earlier\n"


def test_bench_and_sweep_time_a_point_with_the_same_defaults(tmp_path):
    """Issue 9: bench timed >= 1 s on CUDA, a sweep point 0 s: the same point must get the same settings."""
    from vitbench.measure.spec import TIMING_DEFAULTS, BenchSpec
    from vitbench.expansion import expand
    from vitbench.suite import load_suite

    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmeasure: [latency]\ngrid: {model: vit_ti16}\n")
    for device in ("cpu", "cuda"):
        point = expand(load_suite(suite), lambda d, device=device: device, device=device)[0]
        assert point.spec.timing() == BenchSpec(device=device).timing() == TIMING_DEFAULTS[device]


def test_bench_split_and_unsupported_backend_rows():
    r = run("bench", *TINY, *FAST, "--device", "cpu", "--attn", "efficient", "--isolate")
    assert r.exit_code == 0, r.output
    assert "unsupported" in r.stdout
    r = run("bench", *TINY, *FAST, "--device", "cpu", "--split", "--wide")
    assert r.exit_code == 0, r.output
    assert "Measured split" in r.stdout and "MAC share" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--dtype", "fp8"], "'fp8' is not one of 'fp32', 'tf32', 'fp16', 'bf16', 'amp-fp16', 'amp-bf16'"),
    (["--attn", "xformers"], "'xformers' is not one of 'sdpa', 'flash', 'efficient', 'cudnn', 'math', 'manual'"),
    (["--device", "tpu"], "valid: auto, cpu, cuda, cuda:N"),
    (["--batch", "0"], "greater than or equal to 1"),
    (["--batch", "-3"], "greater than or equal to 1"),
    (["--model", "vit_s16"], "--model given more than once"),
    (["--split", "--no-split"], "--split/--no-split given more than once"),
    (["--csv", "-", "--json", "-"], "only one of --csv and --json can write to stdout"),
    (["--csv", "out.txt"], "--csv needs a path ending in .csv"),
    (["--res", "33"], "not divisible by patch 16"),
    (["--find-max-batch", "--device", "cpu"], "--find-max-batch needs a CUDA device"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    r = run("bench", *TINY, *FAST, *args)
    assert r.exit_code == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output


@pytest.mark.parametrize("option", ["--min-time", "--min-warmup"])
@pytest.mark.parametrize("number", ["inf", "nan", "-inf"])
def test_non_finite_seconds_are_refused(option, number):
    r = run("bench", *TINY, "--device", "cpu", option, number)
    assert r.exit_code == 2 and "must be a finite number" in r.stderr or "greater than or equal" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


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
    assert r.exit_code == 2 and "--size" in r.stderr and "greater than or equal to 1" in r.stderr


def test_help_lists_bench_and_peak_without_importing_torch():
    import subprocess
    import sys

    code = "import sys; from vitbench.cli import app; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    r = run("--help")
    assert "bench" in r.stdout and "peak" in r.stdout


def test_render_flags_noisy_rows_and_lists_errors():
    from vitbench.schema import make_row
    from vitbench.render.bench import error_lines, noise_lines, short_kernel
    from vitbench.schema import fmt_ms

    base = dict(model="vit_ti16", res_h=32, res_w=32, batch=1, dtype="fp32", attn="sdpa")
    quiet = make_row(**base, latency_ms_median=10.0, latency_ms_iqr=0.5, status="ok")
    noisy = make_row(**base, latency_ms_median=10.0, latency_ms_iqr=3.0, status="ok")
    failed = make_row(**base, status="oom", error="out of memory: tried 20 GiB")
    assert noise_lines([quiet, failed]) == []
    assert "IQR is 30.0% of the median" in noise_lines([noisy])[0]
    assert error_lines([quiet, failed]) == ["vit_ti16 32 px batch 1 fp32 sdpa: oom: out of memory: tried 20 GiB"]
    assert (fmt_ms(0.12345), fmt_ms(12.345), fmt_ms(1234.5)) == ("0.123", "12.35", "1,234")
    assert short_kernel("_scaled_dot_product_flash_attention_for_cpu") == "flash (cpu)"
    assert (short_kernel("math"), short_kernel(None)) == ("math", "-")
