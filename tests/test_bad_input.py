"""Every case of the bad-input catalogue (tests/bad_input_cases.py): exit 2, one line on stderr starting with
`error:`, no traceback, the expected fragment, nothing new written; and docs/reliability.md lists each case."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bad_input_cases import CASES, FILES
from vitbench.cli import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case, args, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(workdir, case, args, fragment):
    before = {p: p.stat().st_mtime_ns for p in workdir.rglob("*")}
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (case, result.output)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, result.stderr)
    assert "Traceback" not in result.output and fragment in lines[0], (case, lines[0])
    after = {p: p.stat().st_mtime_ns for p in workdir.rglob("*")}
    assert {p: t for p, t in after.items() if before.get(p) != t} == {}, case  # nothing written or touched


def test_the_catalogue_is_big_and_documented():
    docs = (ROOT / "docs" / "reliability.md").read_text()
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)
    missing = [case for case, args, _ in CASES if f"`vitbench {' '.join(args)}`" not in docs]
    assert not missing, missing
