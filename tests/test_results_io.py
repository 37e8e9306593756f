"""Append-and-flush CSV writing, loading, config keys and merging (vitbench.results_io). No torch."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from vitbench.errors import VitbenchError
from vitbench.schema import ALL_COLUMNS, CONFIG_KEY, make_row
from vitbench.cost.analytic import cost_row
from vitbench.results_io import (CsvAppender, canonical, default_output, file_keys, format_cell, latest_output,
                                 load_results, load_text, merge_files, row_key)
from vitbench.zoo import resolve


def row(patch: int = 16, latency=None, status: str = "ok", **extra) -> dict:
    cfg = resolve("vit_ti16", res=32, depth=2, patch=patch)
    return make_row(**cfg.to_row(), **cost_row(cfg), batch=1, device="cpu", dtype="fp32", attn="sdpa",
                    compile=False, latency_ms_median=latency, status=status, **extra)


def test_cells_round_trip_through_csv_text():
    assert format_cell(None) == "" and format_cell(float("nan")) == ""
    assert format_cell(0.1 + 0.2) == "0.30000000000000004" and format_cell(True) == "True"
    assert format_cell("line one\nline two\n") == "line one | line two"
    assert format_cell(np.float64(4.0)) == "4.0" and format_cell(np.int64(3)) == "3"
    assert canonical("4.0") == canonical(4) == canonical("4") == "4"
    assert canonical("True") == canonical(True) == "true" and canonical("") == canonical(None) == ""
    assert canonical("vit_b16") == "vit_b16" and canonical(" 0.5") == "0.5"


def test_appender_writes_header_first_and_a_valid_csv_after_every_row(tmp_path):
    path = tmp_path / "r.csv"
    rows = [row(8, 1.25), row(16, 0.5, error="boom\nsecond line"), row(32, status="oom")]
    with CsvAppender(path) as writer:
        assert path.read_text().splitlines() == [",".join(ALL_COLUMNS)]
        for i, r in enumerate(rows, start=1):
            writer.append(r)
            frame = load_results(path)  # what another process would read at this instant
            assert len(frame) == i and list(frame.columns) == list(ALL_COLUMNS)
    assert path.read_bytes().endswith(b"\n") and len(path.read_text().splitlines()) == 4
    text = load_text(path)
    assert text.loc[1, "error"] == "boom | second line" and text.loc[0, "latency_ms_median"] == "1.25"
    assert [row_key(r) for r in text.to_dict("records")] == [row_key(r) for r in rows]
    assert file_keys(path) == {row_key(r) for r in rows}
    typed = load_results(path)
    assert typed.loc[0, "params"] == rows[0]["params"] and typed.loc[2, "status"] == "oom"


def test_appender_refuses_to_overwrite_and_resumes_by_appending(tmp_path):
    path = tmp_path / "r.csv"
    with CsvAppender(path) as writer:
        writer.append(row(8))
    with pytest.raises(VitbenchError, match="already exists; pass --resume"):
        CsvAppender(path)
    with CsvAppender(path, resume=True) as writer:
        writer.append(row(16))
    assert len(load_text(path)) == 2


def test_resume_cuts_an_incomplete_last_line(tmp_path):
    path = tmp_path / "r.csv"
    with CsvAppender(path) as writer:
        writer.append(row(8))
    with path.open("a") as f:
        f.write("vit_ti16,16,32")  # a writer killed mid-line
    with CsvAppender(path, resume=True) as writer:
        assert writer.repaired_bytes == len("vit_ti16,16,32")
        writer.append(row(16))
    assert [int(p) for p in load_text(path)["patch"]] == [8, 16]


def test_resume_refuses_a_file_with_other_columns(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(VitbenchError, match="other columns"):
        CsvAppender(path, resume=True)


def test_unknown_column_is_a_programming_error(tmp_path):
    with CsvAppender(tmp_path / "r.csv") as writer, pytest.raises(KeyError):
        writer.append({"latency_s": 1})


def test_loading_rejects_non_result_files(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(VitbenchError, match="missing column"):
        load_results(tmp_path / "x.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(VitbenchError, match="empty"):
        load_results(tmp_path / "empty.csv")
    with pytest.raises(VitbenchError, match="not found"):
        load_results(tmp_path / "none.csv")


def test_default_output_never_reuses_a_name_and_latest_finds_the_newest(tmp_path):
    first = default_output(tmp_path, "s", "cpu", None, "20250101-120000")
    assert first == tmp_path / "s" / "20250101-120000_cpu.csv"
    first.parent.mkdir()
    first.write_text("x")
    second = default_output(tmp_path, "s", "cpu", None, "20250101-120000")
    assert second.name == "20250101-120000.2_cpu.csv"
    second.write_text("x")
    os.utime(first, (1, 1))
    assert latest_output(tmp_path, "s", "cpu", None) == second
    sharded = default_output(tmp_path, "s", "cpu", (2, 4), "20250101-120001")
    assert sharded.name == "20250101-120001_cpu_shard2of4.csv"
    assert latest_output(tmp_path, "s", "cpu", (2, 4)) is None
    assert latest_output(tmp_path, "s", "cuda", None) is None


def write_rows(path, rows) -> None:
    with CsvAppender(path) as writer:
        for r in rows:
            writer.append(r)


def test_merge_joins_shards_and_drops_exact_duplicates(tmp_path):
    a, b, out = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "m.csv"
    write_rows(a, [row(8, 1.0), row(32, 3.0)])
    write_rows(b, [row(16, 2.0), row(32, 3.0)])
    report = merge_files([a, b], out)
    assert (report.rows_in, report.rows_out, report.exact_duplicates, report.remeasured) == (4, 3, 1, 0)
    merged = load_text(out)
    assert list(merged.columns) == list(ALL_COLUMNS)
    assert [int(p) for p in merged["patch"]] == [8, 32, 16]
    assert merged.loc[0].to_dict() == load_text(a).loc[0].to_dict()  # text kept exactly


def test_merge_keeps_the_ok_row_of_a_remeasured_point(tmp_path):
    a, b, out = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "m.csv"
    write_rows(a, [row(8, status="error", error="crash")])
    write_rows(b, [row(8, 1.5)])
    report = merge_files([a, b], out)
    assert (report.rows_out, report.remeasured) == (1, 1)
    assert load_text(out).loc[0, "status"] == "ok"


def test_merge_refuses_duplicates_that_disagree_on_exact_columns(tmp_path):
    a, b, out = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "m.csv"
    write_rows(a, [row(8, 1.0)])
    bad = row(8, 1.0)
    bad["params"] += 1
    write_rows(b, [bad])
    with pytest.raises(VitbenchError) as e:
        merge_files([a, b], out)
    message = str(e.value)
    assert f"{a} line 2 and {b} line 2" in message and "differ in params" in message and "\n" not in message
    assert not out.exists()


def test_merge_does_not_overwrite_unless_forced(tmp_path):
    a, out = tmp_path / "a.csv", tmp_path / "m.csv"
    write_rows(a, [row(8)])
    out.write_text("keep me")
    with pytest.raises(VitbenchError, match="already exists"):
        merge_files([a], out)
    assert out.read_text() == "keep me"
    merge_files([a], out, force=True)
    assert len(pd.read_csv(out)) == 1


def test_row_key_is_the_records_config_key():
    r = row(8)
    assert len(row_key(r)) == len(CONFIG_KEY) and row_key(r)[CONFIG_KEY.index("patch")] == "8"
    assert row_key(r) != row_key(row(16))


def test_merge_keeps_the_complete_copy_of_agreeing_rows(tmp_path):
    a, b, out = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "m.csv"
    write_rows(a, [{**row(8, 1.0), "macs": None, "macs_mlp": None}])  # the first copy lacks two exact cells
    write_rows(b, [row(8, 1.0)])
    report = merge_files([a, b], out)
    assert (report.rows_out, report.remeasured) == (1, 1)
    assert load_text(out).loc[0].to_dict() == load_text(b).loc[0].to_dict()  # was a's row, macs empty


def test_merge_keeps_the_ok_row_and_fills_its_exact_cells_from_the_agreeing_copies(tmp_path):
    a, b, out = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "m.csv"
    full = row(8, status="error", error="crash")
    write_rows(a, [full])
    write_rows(b, [{**row(8, 1.5), "macs_mlp": None, "params": None}])  # the measurement, two exact cells empty
    merge_files([a, b], out)
    merged = load_text(out).loc[0]
    assert (merged["status"], merged["latency_ms_median"]) == ("ok", "1.5")
    assert (merged["macs_mlp"], merged["params"]) == (str(full["macs_mlp"]), str(full["params"]))


def test_merge_prefers_ok_then_complete_then_first(tmp_path):
    a, b, c, out = (tmp_path / f"{n}.csv" for n in ("a", "b", "c", "m"))
    write_rows(a, [row(8, 1.0), row(16, 1.0)])
    write_rows(b, [row(8, 2.0), row(16, 2.0, latency_ms_p10=1.9)])  # 16: b has one cell more
    write_rows(c, [row(8, status="oom", error="out of memory"), row(16, status="oom", error="out of memory")])
    merge_files([c, a, b], out)
    merged = load_text(out)
    assert list(merged["latency_ms_median"]) == ["1.0", "2.0"] and set(merged["status"]) == {"ok"}


def test_a_failed_merge_write_leaves_no_file_behind(tmp_path):
    from write_limits import run_with_write_limit

    a, out = tmp_path / "a.csv", tmp_path / "m.csv"
    write_rows(a, [row(p, float(p)) for p in (1, 2, 4, 8, 16, 32)])
    code = (f"from vitbench.results_io import merge_files\nfrom vitbench.errors import VitbenchError\n"
            f"try:\n    merge_files([{str(a)!r}], {str(out)!r})\nexcept VitbenchError as e:\n    print(e)\n")
    child = run_with_write_limit(code, a.stat().st_size // 2, tmp_path)
    assert child.stdout.strip() == f"cannot write {out}: File too large", child.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]  # was: m.csv.tmp left, cut mid-row
