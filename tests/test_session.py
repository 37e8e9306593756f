"""vitbench.session: whole-row appends, raw samples beside the rows, resume that repairs before it reads, one
writer per file, write failures that damage nothing, SIGINT / SIGTERM. No torch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from vitbench import samples, storage
from vitbench.cost.analytic import cost_row
from vitbench.errors import VitbenchError
from vitbench.results_io import load_results, load_text, row_key
from vitbench.schema import ALL_COLUMNS, make_row
from vitbench.session import Session, read_keys
from vitbench.zoo import resolve


def row(patch: int = 16, latency=None, status: str = "ok", **extra) -> dict:
    cfg = resolve("vit_ti16", res=32, depth=2, patch=patch)
    return make_row(**cfg.to_row(), **cost_row(cfg), batch=1, device="cpu", dtype="fp32", attn="sdpa",
                    compile=False, mode="infer", latency_ms_median=latency, status=status, **extra)


def test_header_first_and_a_valid_csv_after_every_row(tmp_path):
    path = tmp_path / "r.csv"
    rows = [row(8, 1.25), row(16, 0.5, error="boom\nsecond line"), row(32, status="oom")]
    with Session(path, kind="test") as session:
        assert path.read_text().splitlines() == [",".join(ALL_COLUMNS)]
        for i, r in enumerate(rows, start=1):
            session.append(r, durable=i % 2 == 0)
            frame = load_results(path)  # what another process would read at this instant
            assert len(frame) == i and list(frame.columns) == list(ALL_COLUMNS)
    text = load_text(path)
    assert text.loc[1, "error"] == "boom | second line" and text.loc[0, "latency_ms_median"] == "1.25"
    assert read_keys(path) == {row_key(r) for r in rows}
    meta = storage.read_metadata(path)
    assert meta["kind"] == "test" and meta["status"] == "complete" and meta["runs"][0]["rows_written"] == 3
    assert not path.with_name("r.csv.lock").exists()


def test_samples_go_beside_the_rows_keyed_by_the_row(tmp_path):
    path = tmp_path / "r.csv"
    with Session(path, kind="test") as session:
        session.append(row(8, 1.0), {"latency_ms": [1.0, 1.5, 0.5]})
        session.append(row(16))  # a cost-only row: no samples
    by_key = samples.by_key(samples.path_for(path))
    assert list(by_key) == [samples.digest(row_key(row(8)))]
    assert list(by_key[samples.digest(row_key(row(8)))]) == [1.0, 1.5, 0.5]


def test_refuses_to_overwrite_and_resumes_by_appending(tmp_path):
    path = tmp_path / "r.csv"
    with Session(path, kind="test") as session:
        session.append(row(8))
    with pytest.raises(VitbenchError, match="already exists; pass --resume"):
        Session(path, kind="test").__enter__()
    with Session(path, kind="test", resume=True) as session:
        assert session.done_keys == {row_key(row(8))}
        session.append(row(16))
    assert len(load_text(path)) == 2 and len(storage.read_metadata(path)["runs"]) == 2


def test_resume_repairs_before_it_reads_a_last_row_missing_only_its_newline(tmp_path):
    """Issue 10, defect 1: the torn line held every key column, so resume counted it done, then cut it."""
    path = tmp_path / "r.csv"
    with Session(path, kind="test") as session:
        session.append(row(8))
        session.append(row(16))
    os.truncate(path, path.stat().st_size - 1)  # `head -c -1`
    with Session(path, kind="test", resume=True) as session:
        assert session.repaired_bytes > 0
        assert session.done_keys == {row_key(row(8))}  # the torn row is not done: it will run again


def test_resume_repairs_a_line_torn_inside_a_quoted_field(tmp_path):
    path = tmp_path / "r.csv"
    with Session(path, kind="test") as session:
        session.append(row(8, status="error", error="RuntimeError: a, b, c"))
    with path.open("ab") as f:
        f.write(b'vit_ti16,16,32,32,64,2,4,4.0,1000,cls,0,False,5,1,cpu,fp32,sdpa,False,infer,,,,,,,,,,,,,,,,,,,,,,,,'
                b',,,,,,,,,,,"RuntimeError: x, y')
    with Session(path, kind="test", resume=True) as session:
        assert session.done_keys == {row_key(row(8))}


def test_resume_drops_samples_without_a_row(tmp_path):
    """A kill between the samples write and the row write leaves orphan samples: resume drops them."""
    path = tmp_path / "r.csv"
    with Session(path, kind="test") as session:
        session.append(row(8, 1.0), {"latency_ms": [1.0]})
    with samples.path_for(path).open("ab") as f:
        f.write(samples.lines(samples.digest(row_key(row(16))), "latency_ms", [2.0, 3.0]) + b"feedface,lat")
    with Session(path, kind="test", resume=True) as session:
        assert session.orphan_samples == 3
    assert list(samples.by_key(samples.path_for(path))) == [samples.digest(row_key(row(8)))]


def test_resume_refuses_a_file_with_other_columns(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(VitbenchError, match="other columns"):
        Session(path, kind="test", resume=True).__enter__()


def test_unknown_column_is_a_programming_error(tmp_path):
    with Session(tmp_path / "r.csv", kind="test") as session, pytest.raises(KeyError):
        session.append({"latency_s": 1})


def test_a_folder_where_the_file_should_be_is_one_line(tmp_path):
    (tmp_path / "r.csv").mkdir()
    with pytest.raises(VitbenchError, match="folder"):
        Session(tmp_path / "r.csv", kind="test").__enter__()


HOLD = """
import sys, time
from vitbench.session import Session
with Session(sys.argv[1], kind="test", resume=True) as s:
    print("locked", flush=True)
    time.sleep(30)
"""


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    """Issue 10, defect 3: two runs on one -o file both ran every point."""
    path = tmp_path / "r.csv"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for resume in (True, False):
            with pytest.raises(VitbenchError, match=rf"being written by another vitbench run \(pid {holder.pid}\)"):
                Session(path, kind="test", resume=resume).__enter__()
    finally:
        holder.kill()
        holder.wait()
    with Session(path, kind="test", resume=True):  # the lock died with its holder
        pass


FILL = """
import resource, signal, sys
from vitbench.cost.analytic import cost_row
from vitbench.schema import make_row
from vitbench.session import Session
from vitbench.zoo import resolve
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, like a full disk
path = sys.argv[1]
with Session(path, kind="test") as s:
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
    for patch in (8, 16, 32, 4, 2, 1):
        cfg = resolve("vit_ti16", res=32, depth=2, patch=patch)
        s.append(make_row(**cfg.to_row(), **cost_row(cfg), batch=1, device="cpu", dtype="fp32", attn="sdpa",
                          compile=False, mode="infer", status="ok", error="x" * 150))
"""


def test_a_full_disk_truncates_back_to_the_last_whole_row(tmp_path):
    """Issue 10, defects 2 and 4: a failed write left a short row (and a traceback)."""
    path = tmp_path / "r.csv"
    header = len(",".join(ALL_COLUMNS)) + 1
    limit = header + 2 * 420  # room for about two rows
    proc = subprocess.run([sys.executable, "-c", FILL, str(path), str(limit)], capture_output=True, text=True)
    assert proc.returncode != 0 and "cannot write" in proc.stderr and "intact" in proc.stderr
    data = path.read_bytes()
    assert data.endswith(b"\n") and len(data) <= limit
    assert len(load_text(path)) >= 1  # every whole row survived, nothing torn


def test_atomic_writes_leave_the_old_file_on_failure(tmp_path):
    path = tmp_path / "rows.json"
    storage.write_atomic(path, json.dumps([{"a": 1}]))
    code = textwrap.dedent(f"""
        import resource, signal
        from vitbench import storage
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))
        storage.write_atomic({str(path)!r}, "x" * 1000)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "cannot write" in proc.stderr
    assert json.loads(path.read_text()) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.json"]  # no temporary file left behind


SLOW = """
import sys, time
from vitbench.cost.analytic import cost_row
from vitbench.schema import make_row
from vitbench.session import Session
from vitbench.zoo import resolve
with Session(sys.argv[1], kind="test") as s:
    for patch in (8, 16, 32, 4, 2, 1):
        cfg = resolve("vit_ti16", res=32, depth=2, patch=patch)
        s.append(make_row(**cfg.to_row(), **cost_row(cfg), batch=1, device="cpu", dtype="fp32", attn="sdpa",
                          compile=False, mode="infer", status="ok"))
        print("row", flush=True)
        time.sleep(0.3)
"""


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, "terminated"), (signal.SIGINT, "interrupted")])
def test_signals_keep_whole_rows_and_close_the_sidecar(tmp_path, signum, status):
    """Issue 10, defect 5: SIGTERM left the sidecar `running`."""
    path = tmp_path / "r.csv"
    proc = subprocess.Popen([sys.executable, "-c", SLOW, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "row"
    proc.send_signal(signum)
    proc.wait(timeout=20)
    assert proc.returncode != 0
    rows = load_text(path)
    assert 1 <= len(rows) < 6 and path.read_bytes().endswith(b"\n")
    meta = storage.read_metadata(path)
    assert meta["status"] == status and meta["runs"][-1]["rows_written"] == len(rows)
    assert not path.with_name("r.csv.lock").exists()


def test_no_write_is_torn_by_a_signal_arriving_during_it(tmp_path, monkeypatch):
    """A signal that lands while a row is being written takes effect after the row is on disk."""
    path = tmp_path / "r.csv"
    with pytest.raises(KeyboardInterrupt):
        with Session(path, kind="test") as session:
            real = os.write

            def write_then_signal(fd, data):
                n = real(fd, data)
                if bytes(data).startswith(b"vit_ti16"):
                    session._on_signal(signal.SIGINT, None)
                return n

            monkeypatch.setattr(os, "write", write_then_signal)
            session.append(row(8))
            monkeypatch.setattr(os, "write", real)
            session.append(row(16))  # never reached
    assert read_keys(path) == {row_key(row(8))}
    assert storage.read_metadata(path)["status"] == "interrupted"


def test_cost_only_rows_are_not_fsynced_one_by_one(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    with Session(tmp_path / "r.csv", kind="test") as session:
        before = len(synced)
        for patch in (8, 16, 32, 4):
            session.append(row(patch), durable=False)
        assert len(synced) == before  # within a second: no fsync per row
        session.append(row(2), durable=True)
        assert len(synced) == before + 1
