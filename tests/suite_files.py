"""Helpers of the suite tests (test_suite, test_suite_yaml, test_expansion): writing a suite file, device
resolvers, and the one-line error a bad suite gives. No torch."""

from __future__ import annotations

import textwrap

import pytest

from vitbench.errors import VitbenchError
from vitbench.suite import load_suite

HEAD = "name: t\n"
BASE = HEAD + "grid: {model: vit_b16}\n"


def write(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def cpu(device: str) -> str:
    """A resolver on a machine without CUDA ('auto' -> cpu)."""
    return "cpu" if device == "auto" else device


def cuda(device: str) -> str:
    """A resolver on a machine with CUDA ('auto' -> cuda)."""
    return "cuda" if device == "auto" else device


def load_error(tmp_path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(VitbenchError) as e:
        load_suite(path)
    message = str(e.value)
    assert "\n" not in message and str(path) in message
    return message
