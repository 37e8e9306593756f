"""A run that writes one results file: the lock, the append-only CSV, the raw samples beside it, the one sidecar
format, resume, and SIGINT / SIGTERM. `sweep`, `bench` and `baseline update` all write through a `Session`. No
torch.

Nothing measured is lost:
- One writer per results file: an exclusive `flock` on `<file>.lock` (holding the writer's pid) for the whole
  run; a second run on the same file stops with one line naming that pid. A new file is created with O_EXCL.
- Rows are appended whole: each row is formatted in memory and written with one `os.write` on an O_APPEND
  descriptor; its samples go to `<stem>.samples.csv` first (vitbench.samples). Measured rows are fsync'd one by
  one; cost-only rows (deterministic, microseconds to recompute) at most once a second and at the end — a kill
  of the process loses nothing written (the kernel has it), a machine crash at most the last second of
  cost-only rows, which `--resume` recomputes.
- Resume repairs before it reads: an incomplete last line (no trailing newline: a kill mid-write) is cut first,
  then the finished keys are read, then sample blocks without a row are dropped.
- A failed write (disk full, permissions, a folder in the way) truncates the file back to its last whole row and
  stops with one line; output paths are opened (and the sidecar written) before the first point runs.
- SIGINT and SIGTERM wait for the row being written, then stop the run: the sidecar says `interrupted` or
  `terminated`, every finished row stays; the CLI exits 130 or 143 with the `--resume` command.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import os
import signal
import time
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

from vitbench import samples, storage
from vitbench.environment import host_load, now_iso
from vitbench.errors import Terminated, VitbenchError
from vitbench.cells import format_cell
from vitbench.results_io import row_key
from vitbench.schema import ALL_COLUMNS

SYNC_EVERY_S = 1.0  # cost-only rows: at most this long between fsyncs


def _line(cells: Iterable[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(list(cells))
    return buf.getvalue().encode()


def _why(e: OSError) -> str:
    return e.strerror or str(e)


class _Lock:
    """An exclusive, non-blocking flock on `<path>.lock`; the file holds the holder's pid."""

    def __init__(self, path: Path):
        self.path = path.with_name(path.name + ".lock")
        self.fd: Optional[int] = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise VitbenchError(f"cannot write {self.path}: {_why(e)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                target = self.path.name.removesuffix(".lock")
                raise VitbenchError(f"{target} is being written by another vitbench run (pid {holder}); wait for "
                                    f"it to finish or write to another file with -o") from None
            raise VitbenchError(f"cannot lock {self.path}: {_why(e)}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass
            os.close(self.fd)  # closing releases the flock
            self.fd = None


class _Appender:
    """Whole-line appends to one file; a failed write truncates it back to its last whole line. Created in two
    steps: the constructor checks (and, when resuming, repairs) the file; `open` creates or opens it."""

    def __init__(self, path: Path, header: bytes, resume: bool):
        self.path, self.header, self.repaired_bytes, self.fd = path, header, 0, None
        self.exists = path.exists() and path.stat().st_size > 0
        if self.exists and not resume:
            raise VitbenchError(f"{path} already exists; pass --resume to continue it, or choose another -o")
        try:
            if path.is_dir():
                raise IsADirectoryError(21, "it is a folder")
            if self.exists:
                self._repair()
        except IsADirectoryError:
            raise VitbenchError(f"cannot write {path}: it is a folder; choose a file path with -o") from None
        except OSError as e:
            raise VitbenchError(f"cannot write {path}: {_why(e)}") from None

    def open(self) -> "_Appender":
        """Continue the file, or create it (O_EXCL: nobody may create it meanwhile) with its header."""
        if self.exists:
            flags = 0
        elif self.path.exists():
            flags = os.O_TRUNC  # an empty file: start it
        else:
            flags = os.O_EXCL
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | flags, 0o644)
        except FileExistsError:
            raise VitbenchError(f"{self.path} appeared while this run started (another writer?); choose another "
                                f"-o") from None
        except OSError as e:
            raise VitbenchError(f"cannot write {self.path}: {_why(e)}") from None
        if not self.exists:
            self.write(self.header, sync=True)
        return self

    def _repair(self) -> None:
        """Check the header, then cut an incomplete last line (a writer killed mid-line)."""
        data = self.path.read_bytes()
        if not data.startswith(self.header):
            raise VitbenchError(f"{self.path} has other columns than this vitbench writes; write to a new file "
                                f"with -o (and merge them later)")
        if data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        os.truncate(self.path, keep)
        self.repaired_bytes = len(data) - keep

    def write(self, data: bytes, sync: bool) -> None:
        """Write whole lines; on any OSError restore the previous size and raise one line."""
        size = os.fstat(self.fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
            if sync:
                os.fsync(self.fd)
        except OSError as e:
            try:
                os.ftruncate(self.fd, size)
            except OSError:
                pass
            raise VitbenchError(f"cannot write {self.path}: {_why(e)}; the rows written before are intact "
                                f"(resume with --resume once there is room)") from None

    def sync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as e:
            raise VitbenchError(f"cannot write {self.path}: {_why(e)}") from None

    def close(self) -> None:
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)
            self.fd = None


def read_keys(path: Path) -> set[tuple[str, ...]]:
    """Config keys (results_io.row_key) of the whole rows of a results file, read with the csv module."""
    with path.open(newline="") as f:
        return {row_key(r) for r in csv.DictReader(f)}


def _repair_samples(path: Path, keep: set[str]) -> int:
    """Drop sample lines whose key has no row (and a torn last line); returns lines dropped. Atomic rewrite."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    lines = data.split(b"\n")
    body, tail = lines[1:-1], lines[-1]  # tail: b"" when the file ends with a newline, else a torn line
    kept = [ln for ln in body if ln.split(b",", 1)[0].decode(errors="replace") in keep]
    dropped = len(body) - len(kept) + (1 if tail else 0)
    if dropped:
        storage.write_atomic(path, b"\n".join([lines[0], *kept]) + b"\n")
    return dropped


class Session:
    """One run writing `path` (see the module docstring). Use as a context manager:

        with Session(path, kind="sweep", resume=False, settings={...}) as s:
            for ...: s.append(row, samples)
            s.finish(result_fields)

    `done_keys` holds the config keys already in the file (resume). Leaving the block with an exception sets the
    run's status: interrupted (Ctrl-C), terminated (SIGTERM), failed (anything else)."""

    def __init__(self, path: str | Path, *, kind: str, resume: bool = False, settings: Optional[dict] = None,
                 environment: Optional[dict] = None, columns: Sequence[str] = ALL_COLUMNS, argv=None):
        self.path, self.kind, self.resume = Path(path), kind, resume
        self.columns = tuple(columns)
        self.samples_path = samples.path_for(self.path)
        self.settings, self.environment = settings or {}, environment or {}
        self.argv = list(argv) if argv is not None else None
        self.rows_written, self.statuses, self.done_keys = 0, {}, set()
        self.repaired_bytes = self.orphan_samples = 0
        self.previous: dict = {}
        self._lock, self._rows, self._samples = _Lock(self.path), None, None
        self._last_sync = time.monotonic()
        self._run: dict = {}
        self._pending_signal: Optional[int] = None
        self._in_write = False
        self._saved_handlers: dict = {}

    # ------------------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "Session":
        if self.path.suffix != ".csv":
            raise VitbenchError(f"{self.path}: results are written as CSV; use a path ending in .csv")
        self._lock.acquire()
        self._install_signal_handlers()  # from here a signal waits for the write in progress, then stops the run
        try:
            self._rows = _Appender(self.path, _line(self.columns), self.resume)
            if not self._rows.exists and self.samples_path.exists():
                self.samples_path.unlink()  # samples of a results file that no longer exists
            self.repaired_bytes = self._rows.repaired_bytes
            if self.resume and self._rows.exists:
                self.done_keys = read_keys(self.path)
                self.previous = storage.read_metadata(self.path) or {}
                from vitbench.samples import digest

                self.orphan_samples = _repair_samples(self.samples_path, {digest(k) for k in self.done_keys})
            start_load = host_load()
            self._run = {"start": now_iso(), "end": None, "status": "running", "argv": self.argv,
                         "rows_before": len(self.done_keys),
                         "load_average": {"start": start_load["load_avg_1m"], "end": None},
                         "host": {"start": start_load, "end": None}}
            self._in_write = True  # the sidecar first, then the file: a result file never lacks its sidecar
            try:
                self._write_sidecar()
                self._rows.open()
            finally:
                self._in_write = False
            self._raise_pending_signal()
        except BaseException as e:
            self._close(type(e))
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._close(exc_type)

    def _close(self, exc_type) -> None:
        """Finish the run in the sidecar (status from how the block ended) unless done, then release."""
        self._restore_signal_handlers()
        if self._run.get("status") == "running":
            status = ("terminated" if exc_type is not None and issubclass(exc_type, Terminated) else
                      "interrupted" if exc_type is not None and issubclass(exc_type, KeyboardInterrupt) else
                      "failed" if exc_type is not None else "complete")
            try:
                self.finish(status=status)
            except VitbenchError:
                if exc_type is None:
                    raise
        self._close_files()

    def finish(self, status: str = "complete", **fields) -> None:
        """Close the run in the sidecar (status, end time, counts, and any `fields`) and sync the files."""
        for appender in (self._rows, self._samples):
            if appender is not None and appender.fd is not None:
                appender.sync()
        self._run.update(end=now_iso(), status=status, rows_written=self.rows_written, statuses=self.statuses,
                         **fields)
        end_load = host_load()
        self._run["load_average"]["end"] = end_load["load_avg_1m"]
        self._run["host"]["end"] = end_load
        self._write_sidecar()

    def _close_files(self) -> None:
        for appender in (self._rows, self._samples):
            if appender is not None:
                appender.close()
        self._lock.release()

    # ------------------------------------------------------------------------------------------ writing

    def append(self, row: Mapping, samples_by_metric: Optional[Mapping[str, Sequence[float]]] = None,
               durable: bool = True) -> None:
        """Write one row (and first its raw samples). `durable`: fsync now (measured rows); else at most once
        a second (cost-only rows). Signals that arrive meanwhile take effect after the row is on disk."""
        unknown = set(row) - set(self.columns)
        if unknown:
            raise KeyError(f"not columns of {self.path}: {', '.join(sorted(unknown))}")
        self._in_write = True
        try:
            if samples_by_metric and any(len(v) for v in samples_by_metric.values()):
                self._append_samples(row, samples_by_metric, durable)
            sync = durable or time.monotonic() - self._last_sync > SYNC_EVERY_S
            self._rows.write(_line(format_cell(row.get(c)) for c in self.columns), sync=sync)
            if sync:
                self._last_sync = time.monotonic()
            self.rows_written += 1
            status = row.get("status") or "ok"
            self.statuses[status] = self.statuses.get(status, 0) + 1
        finally:
            self._in_write = False
        self._raise_pending_signal()

    def write_result(self, result) -> None:
        """Append a runner.Result: measured rows durably (fsync), computed rows cheaply."""
        self.append(result.row, result.samples, durable=result.measured)

    def _append_samples(self, row: Mapping, by_metric: Mapping[str, Sequence[float]], durable: bool) -> None:
        if self._samples is None:
            self._samples = _Appender(self.samples_path, samples.HEADER.encode(),
                                      resume=self.samples_path.exists()).open()
        key = samples.digest(row_key(row))
        data = b"".join(samples.lines(key, metric, values) for metric, values in by_metric.items())
        self._samples.write(data, sync=durable)

    # ------------------------------------------------------------------------------------------ sidecar

    def _write_sidecar(self) -> None:
        runs = self.previous.get("runs", []) if self.resume else []
        storage.write_metadata(self.path, storage.metadata(
            self.kind, self.path, settings=self.settings, environment=self.environment,
            start=self.previous.get("start") or self._run["start"], end=self._run["end"],
            status=self._run["status"], runs=[*runs, self._run], samples=str(self.samples_path),
            load_average=self._run["load_average"]))

    # ------------------------------------------------------------------------------------------ signals

    def _install_signal_handlers(self) -> None:
        if _in_main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._saved_handlers[signum] = signal.signal(signum, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        for signum, handler in self._saved_handlers.items():
            signal.signal(signum, handler)
        self._saved_handlers.clear()

    def _on_signal(self, signum, _frame) -> None:
        self._pending_signal = signum
        if not self._in_write:
            self._raise_pending_signal()

    def _raise_pending_signal(self) -> None:
        signum, self._pending_signal = self._pending_signal, None
        if signum == signal.SIGTERM:
            raise Terminated()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt()


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
