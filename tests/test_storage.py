"""storage: atomic writes (bytes, text or a writer function) and their failures."""

import os

import pytest

from vitbench.errors import VitbenchError
from vitbench.storage import write_atomic


def test_write_atomic_creates_files_with_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = write_atomic(tmp_path / "sub" / "a.bin", lambda f: f.write(b"abc"))
    assert path.read_bytes() == b"abc" and path.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(VitbenchError, match=r"^cannot write .*a\.bin: boom$"):
        write_atomic(path, lambda f: (f.write(b"partial"), (_ for _ in ()).throw(OSError("boom"))))
    assert path.read_bytes() == b"abc" and os.listdir(path.parent) == ["a.bin"]


def test_write_atomic_takes_text_and_refuses_a_folder(tmp_path):
    assert write_atomic(tmp_path / "t.md", "héllo\n").read_text() == "héllo\n"
    (tmp_path / "d").mkdir()
    with pytest.raises(VitbenchError, match=r"^cannot write .*d: it is a folder$"):
        write_atomic(tmp_path / "d", b"x")
    assert sorted(os.listdir(tmp_path)) == ["d", "t.md"]
