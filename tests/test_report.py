"""vitbench.report: the markdown report — links resolve, findings are computed from the rows, environment from
the sidecar, tables, errors. Inputs: tests/fixtures (exact cost columns, synthetic measured columns)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from vitbench.errors import VitbenchError
from vitbench.results_frame import load_results
from vitbench.report import macs_text, md_table, num, patch_findings, resolution_findings, write_report
from vitbench.zoo import resolve

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LINK = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict:
    """Reports of three suite shapes, written into a folder other than the CSVs' (links must be relative)."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("out")
    for name in ("attention_backends", "patch_sizes", "cuda_batch"):
        shutil.copy(FIXTURES / f"{name}.csv", src)
    shutil.copy(FIXTURES / "attention_backends.meta.json", src)
    return {name: write_report(src / f"{name}.csv", out / "sub" / f"{name}.md")
            for name in ("attention_backends", "patch_sizes", "cuda_batch")}


def test_figure_links_resolve_to_images(reports):
    for report in reports.values():
        text = report.path.read_text()
        links = LINK.findall(text)
        assert len(links) == len(report.plots.made) >= 1
        for link in links:
            assert not Path(link).is_absolute() and link.startswith(f"{report.path.stem}_files/")
            target = report.path.parent / link
            assert target.is_file() and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_patch_halving_sentence_is_computed(reports):
    text = reports["patch_sizes"].path.read_text()
    n8, n16 = resolve("vit_b8").tokens, resolve("vit_b16").tokens  # 785, 197
    assert (n8, n16) == (785, 197)
    assert (f"halving the patch of vit_b from 16 to 8 multiplies tokens by {n8 / n16:.3g} (197 → 785), "
            f"attention-core MACs by {(n8 / n16) ** 2:.3g} (0.715 GMACs → 11.4 GMACs)") in text
    assert "multiplies tokens by 3.98" in text and "attention-core MACs by 15.9" in text
    assert "halving the patch of vit_b from 32 to 16" in text
    assert "from 14" not in text  # 14 -> 7 is not in the data


def test_resolution_sentence_and_crossover():
    df = load_results(FIXTURES / "resolutions.csv")
    lines = resolution_findings(df)
    b16 = next(line for line in lines if line.startswith("vit_b16"))
    assert "grows from 4.1% at 224 px to 46.9% at 1024 px" in b16
    assert "N = F = 3072 tokens, i.e. from 896 px" in b16
    l16 = next(line for line in lines if line.startswith("vit_l16"))
    assert "N = F = 4096" in l16 and "at 1024 px" in l16  # the failed 1024 px point still has its cost
    assert patch_findings(df) == []  # one patch size


def test_fastest_backend_table(reports):
    text = reports["attention_backends"].path.read_text()
    assert "### Fastest attention backend per token count — vit_b16 · cuda · fp16 · batch 8 · eager" in text
    row_4097 = next(line for line in text.splitlines() if line.startswith("| 4097 | "))
    cells = [c.strip() for c in row_4097.strip("|").split("|")]
    assert cells[1] == "flash"  # fixture: flash has the highest toy efficiency
    assert "manual (oom)" in cells[5] and "cudnn (unsupported)" in cells[5]
    assert "manual" not in cells[4]  # the slowest that ran is math


def test_environment_from_sidecar_or_rows(reports):
    with_meta = reports["attention_backends"].path.read_text()
    assert "| note | FIXTURE: synthetic test data, not a measurement |" in with_meta
    without = reports["patch_sizes"].path.read_text()
    assert "No metadata sidecar (`patch_sizes.meta.json`)" in without
    assert "device_name = FIXTURE CPU (synthetic values)" in without


def test_tables_and_failed_points(reports):
    text = reports["cuda_batch"].path.read_text()
    assert "## Cost per image (closed form)" in text and "## Measurements" in text
    assert "| vit_b16 | 16 | 224 | 197 | 512 | fp16 | sdpa | oom | fixture: out of memory |" in text
    df = load_results(FIXTURES / "cuda_batch.csv")
    best = df[df["dtype"] == "fp16"]["mfu"].max()
    assert f"peak of {100 * best:.1f}% at batch 256" in text
    assert "Not drawn: macs_vs_tokens" in text


def test_md_table_and_numbers():
    assert md_table(["a", "b"], [["x|y", 1.5], ["z", None]]).splitlines() == [
        "| a | b |", "|---|---:|", "| x\\|y | 1.5 |", "| z | - |"]
    assert [num(v) for v in (0.04612, 17.56, 354.2, 1610.4)] == ["0.0461", "17.6", "354", "1,610"]
    assert [macs_text(v) for v in (50, 6400, 2.01e6, 715e6, 17.56e9)] == [
        "50 MACs", "6.4 kMACs", "2.01 MMACs", "0.715 GMACs", "17.6 GMACs"]


def test_report_errors(tmp_path):
    with pytest.raises(VitbenchError, match=r"must end in \.md"):
        write_report(FIXTURES / "zoo.csv", tmp_path / "report.txt")
    with pytest.raises(VitbenchError, match="not found"):
        write_report(tmp_path / "missing.csv", tmp_path / "report.md")
    assert not (tmp_path / "report.md").exists()


WRITE_REPORT = """
import vitbench.report as report
from vitbench.errors import VitbenchError
from vitbench.figures.output import PlotResult
report.plot_results = lambda *args: PlotResult((), ())  # no figures: this is about the markdown file
report.render = lambda *args: "x" * 3_000_000  # a report larger than the write limit
try:
    report.write_report({csv!r}, {out!r})
except VitbenchError as e:
    print(e)
"""


def test_a_failed_report_write_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    from write_limits import run_with_write_limit

    from vitbench.figures.output import PlotResult

    monkeypatch.setattr("vitbench.report.plot_results", lambda *args: PlotResult((), ()))  # the markdown only
    csv = shutil.copy(FIXTURES / "patch_sizes.csv", tmp_path / "patch_sizes.csv")
    out = tmp_path / "report.md"
    write_report(csv, out)
    before = out.read_text()
    child = run_with_write_limit(WRITE_REPORT.format(csv=str(csv), out=str(out)), 1_000_000, tmp_path)
    assert child.stdout.strip() == f"cannot write {out}: File too large", child.stderr
    assert out.read_text() == before  # was cut at 1,000,000 bytes of x
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left


def test_where_the_time_went_adds_up_and_lists_the_workers():
    """Phase seconds sum to the points' time (other = point_s − the named phases); workers from the sidecar."""
    import pandas as pd

    from vitbench.report import time_section

    df = pd.DataFrame({"point_s": [2.0, 4.0, None], "setup_s": [0.5, 1.0, None], "compile_s": [None, 1.5, None],
                       "warmup_s": [0.25, 0.25, None], "timing_s": [1.0, 1.0, None]})
    meta = {"runs": [{"start": "2026-01-01T00:00:00+00:00", "end": "2026-01-01T00:00:05+00:00",
                      "workers": [{"device": "cpu", "pid": 7, "host": "h", "points": 2, "startup_s": 3.0,
                                   "busy_s": 6.0, "wall_s": 9.5, "ended": "finished"}]}]}
    text = time_section(df, meta)
    assert "took 5 s of wall time; its 2 measured point(s) took 6 s of point time" in text
    assert "1 row(s) are cost-only" in text
    for line in ("| setup: build, input, probe | 1.5 | 25.0% |", "| compile | 1.5 | 25.0% |",
                 "| warm-up | 0.5 | 8.3% |", "| timing | 2 | 33.3% |",
                 "| other: kernel profile, split, memory release, child start-up | 0.5 | 8.3% |",
                 "| all points (point_s) | 6 | 100% |", "| cpu pid 7 | h | 2 | 3 | 6 | 9.5 | finished |"):
        assert line in text, line
    assert "each worker cost about 3 s before its first point" in text
    assert time_section(df.assign(point_s=None), {}) is None
