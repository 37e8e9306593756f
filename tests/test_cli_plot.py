"""`vitbench plot`, `vitbench report` and `vitbench split --plot` through the CLI: files, messages, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitbench.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def fixture_copy(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copy(FIXTURES / f"{name}.csv", tmp_path / f"{name}.csv"))


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_plot_writes_the_supported_figures_and_says_what_it_skipped(tmp_path):
    csv = fixture_copy(tmp_path, "resolutions")
    result = invoke("plot", csv)
    assert result.exit_code == 0, result.output
    out = tmp_path / "resolutions_plots"
    for name in ("macs_vs_tokens", "attn_share_vs_res", "latency_vs_tokens", "memory_vs_tokens"):
        assert f"wrote {out / name}.png" in result.stdout
        assert (out / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
    assert "skipped mfu_vs_batch: no CUDA rows" in result.stdout
    assert not (out / "mfu_vs_batch.png").exists()


def test_plot_svg_into_a_folder(tmp_path):
    result = invoke("plot", FIXTURES / "cuda_batch.csv", "-o", tmp_path / "figs", "--format", "svg")
    assert result.exit_code == 0, result.output
    assert "<svg" in (tmp_path / "figs" / "mfu_vs_batch.svg").read_text()[:2000]


def test_report_writes_markdown_and_figures(tmp_path):
    csv = fixture_copy(tmp_path, "patch_sizes")
    result = invoke("report", csv, "-o", tmp_path / "out" / "report.md")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "report.md").read_text()
    assert "![" in text and "(report_files/macs_vs_tokens.png)" in text
    assert (tmp_path / "out" / "report_files" / "macs_vs_tokens.png").read_bytes()[:8] == PNG_MAGIC
    assert f"wrote {tmp_path / 'out' / 'report.md'}" in result.stdout
    default = invoke("report", csv)  # default name: <stem>_report.md beside the CSV
    assert default.exit_code == 0 and (tmp_path / "patch_sizes_report.md").is_file()


def test_cost_only_file_from_flops(tmp_path):
    """A `vitbench flops --csv` file (no status, no measurements) gives the cost figures."""
    csv = tmp_path / "flops.csv"
    assert invoke("flops", "-m", "vit_ti16", "--depth", "2", "-r", "32", "-r", "64", "--csv", csv).exit_code == 0
    result = invoke("plot", csv, "-o", tmp_path / "figs")
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "figs").iterdir()} == {"macs_vs_tokens.png", "attn_share_vs_res.png"}
    assert "skipped latency_vs_tokens: no latency_ms_median column" in result.stdout


@pytest.mark.parametrize("command", ["plot", "report"])
def test_missing_columns_one_line_exit_2(tmp_path, command):
    csv = tmp_path / "other.csv"
    csv.write_text("model,latency_ms_median\nvit_b16,3.2\n")
    assert_one_line_error(invoke(command, csv), "lacks required column(s) patch, res_h")


def test_bad_inputs_one_line_exit_2(tmp_path):
    assert_one_line_error(invoke("plot", tmp_path / "missing.csv"), "not found")
    (tmp_path / "binary.csv").write_bytes(PNG_MAGIC + b"\x00\xff\xfe\x00")
    assert_one_line_error(invoke("report", tmp_path / "binary.csv"), "cannot read")
    assert_one_line_error(invoke("plot", FIXTURES / "zoo.csv", "--format", "jpg"), "'jpg' is not one of 'png', 'svg'")
    assert_one_line_error(invoke("report", FIXTURES / "zoo.csv", "-o", tmp_path / "r.html"), "must end in .md")


def test_nothing_to_draw_is_an_error(tmp_path):
    csv = tmp_path / "one.csv"
    lines = (FIXTURES / "zoo.csv").read_text().splitlines()
    csv.write_text("\n".join(lines[:2]) + "\n")  # a single point supports no figure
    result = invoke("plot", csv, "-o", tmp_path / "figs")
    assert_one_line_error(result, "no figure could be drawn")
    assert "skipped macs_vs_tokens" in result.stdout


def test_split_plot_writes_a_figure(tmp_path):
    result = invoke("split", "-m", "vit_b16", "-r", "224", "-r", "384", "--plot", tmp_path / "curves.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG_MAGIC
    assert "wrote" in result.stdout and "attention core > the MLP" in result.stdout
    assert_one_line_error(invoke("split", "-m", "vit_b16", "--plot", tmp_path / "curves.jpg"), ".png or .svg")


@pytest.mark.parametrize("command", ["plot", "report"])
@pytest.mark.parametrize("column, value, why", [
    ("patch", "abc", "column patch: 'abc' is not a number"),
    ("params", "inf", "column params: 'inf' is not a finite number"),
    ("latency_ms_median", "-1", "column latency_ms_median: '-1' must be > 0"),
])
def test_plot_and_report_refuse_a_corrupt_value_in_one_line(tmp_path, command, column, value, why):
    csv = fixture_copy(tmp_path, "patch_sizes")
    lines = csv.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[2].split(",")
    cells[header.index(column)] = value
    csv.write_text("\n".join([*lines[:2], ",".join(cells), *lines[3:]]) + "\n")
    assert_one_line_error(invoke(command, csv), f"{csv} line 3, {why}")
    assert not list(tmp_path.glob("*_plots")) and not list(tmp_path.glob("*.md"))  # nothing written
