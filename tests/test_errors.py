"""vitbench.errors: how an error message quotes a value (one line, bounded length and cost)."""

from __future__ import annotations

from vitbench.errors import ECHO_CHARS, MESSAGE_CHARS, clip, echo


def test_echo_is_short_and_one_line_whatever_the_value():
    nested: list = ["x"]
    for _ in range(30):
        nested = [nested] * 9  # 9**30 strings if it were expanded
    for value in (nested, "a\nb" * 10_000, {"k": "v" * 1000}, 10**1000, b"\x00" * 10_000):
        shown = echo(value)
        assert len(shown) <= ECHO_CHARS and "\n" not in shown
    assert echo("vit_b16") == "'vit_b16'" and echo([16, 32]) == "[16, 32]"
    assert echo(list(range(10))) == "[0, 1, 2, 3, ...]" and echo("x" * 200) == "'" + "x" * 36 + "..." + "x" * 37 + "'"


def test_clip_folds_lines_and_cuts():
    assert clip("one\n two \n\nthree") == "one | two | three"
    assert clip("y" * 1000) == "y" * (MESSAGE_CHARS - 3) + "..." and clip("abcdef", 5) == "ab..."
    assert clip(ValueError("short")) == "short"
