import os

import pytest

# One torch thread per test process: `make test` runs two processes (pytest-xdist) on a 2-core machine, and
# measuring children inherit the setting; more threads than cores makes tiny-model timings stall on thread hand-offs.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from vitbench.zoo import resolve  # noqa: E402


@pytest.fixture(autouse=True)
def _natural_width(monkeypatch):
    """Tables and messages as a pipe gets them (pytest-xdist workers inherit the terminal's $COLUMNS); tests
    that check a width set COLUMNS themselves."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture
def tiny():
    """A ViT small enough for a CPU forward in milliseconds."""
    return resolve("vit_ti16", res=32, depth=2, dim=64, heads=4)
