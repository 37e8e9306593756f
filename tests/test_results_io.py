"""Cell formatting, config keys, loading and merging (vitbench.results_io). No torch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vitbench.errors import VitbenchError
from vitbench.schema import ALL_COLUMNS, CONFIG_KEY, make_row
from vitbench.cost.analytic import cost_row
from vitbench.session import Session
from vitbench.cells import canonical, format_cell
from vitbench.results_io import load_results, load_text, merge_files, row_key
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


def test_loading_rejects_non_result_files(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(VitbenchError, match="missing column"):
        load_results(tmp_path / "x.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(VitbenchError, match="empty"):
        load_results(tmp_path / "empty.csv")
    with pytest.raises(VitbenchError, match="not found"):
        load_results(tmp_path / "none.csv")


def write_rows(path, rows) -> None:
    with Session(path, kind="test") as session:
        for r in rows:
            session.append(r)


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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.meta.json"]  # was: m.csv.tmp left, cut


def test_merge_carries_the_raw_samples_of_the_kept_copy(tmp_path):
    """Each kept row's samples come from the file the row was kept from, byte for byte; the dropped copy's
    samples and orphan lines are left behind; a stale samples file of the output is replaced."""
    from vitbench import samples

    a, b, out = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "m.csv"
    with Session(a, kind="test") as s:
        s.append(row(8, status="error", error="crash"))
        s.append(row(32, 3.0), {"latency_ms": [3.0, 2.9, 0.1 + 0.2]})
    with Session(b, kind="test") as s:
        s.append(row(8, 1.5), {"latency_ms": [1.5, 1.25]})
        s.append(row(16, 2.0))
    with samples.path_for(b).open("a") as f:
        f.write("ffffffffffffffff,latency_ms,0,9.0\n")  # an orphan (no row has this key)
    samples.path_for(out).write_text(samples.HEADER + "0123456789abcdef,latency_ms,0,1.0\n")
    report = merge_files([a, b], out, force=True)
    assert (report.rows_out, report.samples) == (3, 2)
    merged = samples.by_key(samples.path_for(out))
    keys = {int(r["patch"]): samples.digest(row_key(r)) for r in load_text(out).to_dict("records")}
    assert list(merged[keys[8]]) == [1.5, 1.25] and list(merged[keys[32]]) == [3.0, 2.9, 0.30000000000000004]
    assert keys[16] not in merged and "0123456789abcdef" not in merged and "ffffffffffffffff" not in merged
    assert samples.path_for(out).read_text().count("\n") == 1 + 5


def test_merge_without_samples_removes_a_stale_samples_file(tmp_path):
    from vitbench import samples

    a, out = tmp_path / "a.csv", tmp_path / "m.csv"
    write_rows(a, [row(8, 1.0)])
    samples.path_for(out).write_text(samples.HEADER + "0123456789abcdef,latency_ms,0,1.0\n")
    assert merge_files([a], out).samples == 0
    assert not samples.path_for(out).exists()
