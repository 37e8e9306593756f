"""A commit's source tree in a folder: `git archive` of a ref, unpacked. No torch.

Used by `vitbench ab --baseline-ref REF` to run another version of vitbench beside this one. Refs are resolved
in the git repository that holds the working directory (as `git` itself does).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from vitbench.errors import VitbenchError, one_line


def _git(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True)
    except FileNotFoundError:
        raise VitbenchError("git is not installed (needed to export a ref)") from None


def resolve(ref: str, option: str = "--baseline-ref", cwd: Path | None = None) -> str:
    """The full sha of the commit `ref` names; one-line VitbenchError when there is no repository or no such
    commit (a shallow clone lacks older commits: the message says how to fetch one)."""
    if not ref.strip() or ref.startswith("-"):
        raise VitbenchError(f"{option} {ref!r}: not a git ref")
    inside = _git(["rev-parse", "--show-toplevel"], cwd)
    if inside.returncode != 0:
        raise VitbenchError(f"{option} {ref}: {Path(cwd or '.').resolve()} is not inside a git repository")
    found = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd)
    if found.returncode != 0:
        shallow = _git(["rev-parse", "--is-shallow-repository"], cwd).stdout.decode().strip() == "true"
        hint = (f"this clone is shallow: git fetch --depth=1 origin {ref} (or fetch-depth: 0 in actions/checkout)"
                if shallow else f"check the name; a commit on a remote needs git fetch origin {ref}")
        raise VitbenchError(f"{option} {ref}: no such commit in {inside.stdout.decode().strip()} ({hint})")
    return found.stdout.decode().strip()


def export(sha: str, dest: Path, option: str = "--baseline-ref", cwd: Path | None = None) -> Path:
    """Unpack commit `sha`'s tree into `dest` (created); refuse a tree without a vitbench package."""
    archived = _git(["archive", "--format=tar", sha], cwd)
    if archived.returncode != 0:
        raise VitbenchError(f"{option}: git archive {sha[:12]} failed: {one_line(archived.stderr.decode())}")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as tar:
            if hasattr(tarfile, "data_filter"):  # python >= 3.10.12 / 3.11.4: refuse links out of dest
                tar.extractall(dest, filter="data")
            else:  # pragma: no cover - older patch releases; git archive of this repository's own commit
                tar.extractall(dest)
    except tarfile.ReadError:  # the archive of an empty tree: nothing to unpack
        pass
    if not (dest / "vitbench" / "__init__.py").is_file():
        raise VitbenchError(f"{option} {sha[:12]}: that commit's tree has no vitbench package "
                            f"(vitbench/__init__.py)")
    return dest
