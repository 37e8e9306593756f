"""vitbench.figures drawing and writing: each figure really rendered once (train.csv draws six, cuda_batch.csv
the MFU figure), its file named <figure>.<fmt>, whole and of the panel layout's size; SVG; `split --plot`'s
closed-form curves; atomic writes."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from vitbench.errors import VitbenchError
from vitbench.figures.closed_form import split_curves
from vitbench.figures.output import DRAW, plot_results
from vitbench.figures.plan import FIGURES, plan_figures
from vitbench.figures.rows import Skip
from vitbench.results_frame import load_results
from vitbench.zoo import resolve

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# (width, height) in pixels at 120 dpi: one panel 7 x 4.5 in; two panels side by side 12.5 in wide.
SIZES = {"macs_vs_tokens": (1500, 552), "attn_share_vs_res": (840, 540), "latency_vs_tokens": (1500, 576),
         "memory_vs_tokens": (960, 624), "mfu_vs_batch": (840, 540), "train_memory_vs_batch": (960, 648),
         "time_per_image_vs_tokens": (1500, 600)}


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the magic bytes."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("figures")
    return {name: plot_results(load_results(FIXTURES / f"{name}.csv"), out / name) for name in ("train", "cuda_batch")}


def test_every_figure_has_a_drawing():
    assert set(DRAW) == {figure.name for figure in FIGURES}


def test_each_figure_is_drawn_into_its_file(drawn):
    made = {f.name: f for result in drawn.values() for f in result.made}
    assert set(made) == set(SIZES)  # every figure, once
    for name, fig in made.items():
        assert fig.path.name == f"{name}.png" and fig.path.is_file()
        assert png_size(fig.path) == SIZES[name]
        assert fig.path.stat().st_size > 10_000  # lines, labels and legends, not an empty canvas
        assert fig.caption == next(f.caption for f in FIGURES if f.name == name)


def test_what_is_drawn_is_what_the_plan_chose(drawn):
    for name, result in drawn.items():
        plan = plan_figures(load_results(FIXTURES / f"{name}.csv"))
        assert [f.name for f in result.made] == [n for n, data in plan.items() if not isinstance(data, Skip)]
        assert result.skipped == tuple((n, data) for n, data in plan.items() if isinstance(data, Skip))
        assert sorted(p.name for p in result.made[0].path.parent.iterdir()) == sorted(
            f"{f.name}.png" for f in result.made)  # nothing else written, no temporary file left


def test_svg_output(tmp_path):
    result = plot_results(load_results(FIXTURES / "cuda_batch.csv"), tmp_path, fmt="svg")
    text = result.made[0].path.read_text()
    assert result.made[0].path.name == "mfu_vs_batch.svg" and "<svg" in text[:2000]


def test_unknown_format_is_an_error(tmp_path):
    with pytest.raises(VitbenchError, match="png, svg"):
        plot_results(load_results(FIXTURES / "zoo.csv"), tmp_path, fmt="jpg")
    assert not tmp_path.joinpath("macs_vs_tokens.jpg").exists()


def test_split_curves_png_and_svg(tmp_path):
    png = split_curves([resolve("vit_b16", 224), resolve("vit_b16", 384)], tmp_path / "curves.png")
    assert png_size(png) == (960, 624)
    svg = split_curves([resolve("vit_ti16", 32, depth=2)], tmp_path / "tiny.svg")
    assert "<svg" in svg.read_text()[:2000]
    with pytest.raises(VitbenchError, match=r"\.png or \.svg"):
        split_curves([resolve("vit_b16")], tmp_path / "curves.jpg")


WRITE_FIGURES = """
from vitbench.errors import VitbenchError
from vitbench.figures.output import plot_results
from vitbench.results_frame import load_results
try:
    plot_results(load_results({csv!r}), {out!r})
except VitbenchError as e:
    print(e)
"""


def test_a_failed_figure_write_leaves_the_previous_figure_whole(drawn, tmp_path):
    from write_limits import run_with_write_limit

    out = shutil.copytree(drawn["cuda_batch"].made[0].path.parent, tmp_path / "figs")  # the same plot, done before
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert list(before) == ["mfu_vs_batch.png"] and len(before["mfu_vs_batch.png"]) > 20_000
    child = run_with_write_limit(WRITE_FIGURES.format(csv=str(FIXTURES / "cuda_batch.csv"), out=str(out)), 20_000,
                                 tmp_path)
    assert child.stdout.startswith(f"cannot write {out / 'mfu_vs_batch.png'}: File too large"), child.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # was cut at 20,000 bytes; no temp file left
