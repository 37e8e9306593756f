"""The jobs' results files in OUT.jobs/ (r<round>_job<k>of<n>.csv): listing them in order, cutting a torn last
line from a file no job is writing, the config keys of their whole rows, and how many rows they hold now.
No torch."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Sequence

from vitbench import samples


def result_files(folder: Path) -> list[Path]:
    """The jobs' results files (not their samples files), in round and job order."""
    def order(p: Path) -> tuple:
        parts = p.stem.removeprefix("r").replace("_job", " ").replace("of", " ").split()
        return tuple(int(x) for x in parts) if all(x.isdigit() for x in parts) else (1 << 30,)

    return sorted((p for p in folder.glob("r*_job*.csv") if p.is_file() and not p.name.endswith(samples.SUFFIX)),
                  key=order)


def _being_written(path: Path) -> bool:
    """True while a Session holds the file's lock (a job is writing it)."""
    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def repair(path: Path) -> int:
    """Cut an incomplete last line (a job killed mid-write) from a results file no job is writing; returns the
    bytes cut."""
    if _being_written(path):
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    os.truncate(path, keep)
    return len(data) - keep


def done_keys(folder: Path) -> set:
    """Config keys of every whole row in the jobs' files (torn last lines cut first)."""
    from vitbench.session import read_keys

    keys: set = set()
    for path in result_files(folder):
        repair(path)
        keys |= read_keys(path)
    return keys


def count_rows(paths: Sequence[Path]) -> int:
    """Whole rows in these files now (newlines minus headers): the progress of running jobs."""
    total = 0
    for path in paths:
        try:
            total += max(0, path.read_bytes().count(b"\n") - 1)
        except OSError:
            pass
    return total
