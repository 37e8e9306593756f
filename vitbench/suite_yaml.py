"""Reading a suite file: its UTF-8 text and the plain data of its YAML, within bounds. No torch.

At most MAX_SUITE_BYTES of text are read and at most MAX_SUITE_NODES values are built, counted with every YAML
alias expanded (on the node graph, each node once, so an alias bomb is refused in microseconds). Only plain data
is built (yaml's SafeLoader rules; libyaml's parser where installed); duplicate keys (other than `<<:` merge
keys), non-finite numbers (.inf, .nan), recursive aliases and scalars that cannot be converted are refused.
Every problem is a one-line VitbenchError naming the file and, where known, the line; a value quoted in it is cut
to errors.ECHO_CHARS characters.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Optional

import yaml

from vitbench.errors import VitbenchError, clip, echo

MAX_SUITE_BYTES = 1 << 20  # 1 MiB of text; the shipped suites are under 2 KB
MAX_SUITE_NODES = 1_000_000  # YAML values (scalars, lists, maps) counted with every alias expanded


class _Refused(yaml.YAMLError):
    """A document the suite loader will not build; `line` is 1-based (None when unknown)."""

    def __init__(self, line: Optional[int], message: str):
        super().__init__(message)
        self.line, self.message = line, message


def _line_of(node: yaml.Node) -> Optional[int]:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


class _SuiteLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser where installed
    """yaml's safe loader (plain data only) that refuses duplicate keys and non-finite numbers, and reports a
    scalar it cannot convert (a 5000-digit integer, a timestamp with month 13) as bad input with its line."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as e:  # scalar constructors: int(), float(), datetime()
            raise _Refused(_line_of(node), f"cannot read the value {echo(node.value)}: {clip(e, 120)}") from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` merges are overridden on purpose
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not key_node:
                    raise _Refused(_line_of(key_node), f"duplicate key {echo(key)} (first at line "
                                                       f"{_line_of(first)}); YAML would silently keep the last one")
        return super().construct_mapping(node, deep)

    def construct_finite_float(self, node) -> float:
        value = self.construct_yaml_float(node)
        if not math.isfinite(value):
            raise _Refused(_line_of(node), f"{echo(node.value)} is not a finite number; suites take finite "
                                           f"numbers only (no .inf or .nan)")
        return value


_SuiteLoader.add_constructor("tag:yaml.org,2002:float", _SuiteLoader.construct_finite_float)


def _expanded_nodes(root: yaml.Node) -> int:
    """How many values the document holds with every alias expanded, counted without expanding anything (each
    node once, memoised). _Refused for an alias inside its own anchor (a recursive structure)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else (
            node.value if isinstance(node, yaml.SequenceNode) else [])
        if finished:
            on_path.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
        elif id(node) in on_path:  # reached again from inside itself
            raise _Refused(_line_of(node), "an alias refers to a node that contains it (a recursive structure); "
                                           "suites are plain trees")
        elif id(node) not in sizes:
            on_path.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children)
    return sizes[id(root)]


def _read_yaml(path: Path, text: str) -> Any:
    loader = _SuiteLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        nodes = _expanded_nodes(root)
        if nodes > MAX_SUITE_NODES:
            raise _Refused(None, f"the document holds {nodes:,} values once its aliases are expanded; suites are "
                                 f"limited to {MAX_SUITE_NODES:,}")
        return loader.construct_document(root)
    except _Refused as e:
        raise VitbenchError(f"{path}{f':{e.line}' if e.line else ''}: {e.message}") from None
    except yaml.constructor.ConstructorError as e:
        line = f":{e.problem_mark.line + 1}" if e.problem_mark else ""
        tag = re.search(r"tag '([^']+)'", str(e.problem))
        if tag:
            raise VitbenchError(
                f"{path}{line}: refused YAML tag {clip(tag.group(1).replace('tag:yaml.org,2002:', '!!'), 120)}: "
                f"suites are read with a yaml SafeLoader (yaml.safe_load's rules), which builds only plain data "
                f"(maps, lists, strings, numbers, booleans)") from None
        raise VitbenchError(f"{path}{line}: {clip(e.problem, 160)}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise VitbenchError(f"{path}{where}: not valid YAML: {clip(problem, 160)}") from None
    except RecursionError:  # pure-Python parser on a deeply nested document (libyaml stops at 1000 levels)
        raise VitbenchError(f"{path}: not valid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def _read_text(path: Path) -> str:
    """The file's text: at most MAX_SUITE_BYTES, UTF-8."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SUITE_BYTES + 1)
    except FileNotFoundError:
        raise VitbenchError(f"suite file {path} not found (shipped suites are in suites/*.yaml)") from None
    except OSError as e:
        raise VitbenchError(f"cannot read suite file {path}: {e.strerror or e}") from None
    if len(data) > MAX_SUITE_BYTES:
        raise VitbenchError(f"{path}: larger than {MAX_SUITE_BYTES:,} bytes; a suite describes a grid in a few "
                            f"lines (lists of values, zip, exclude), not every point")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise VitbenchError(f"cannot read suite file {path}: not UTF-8 text (byte {e.start})") from None


def read_suite_file(path: Path) -> tuple[str, Any]:
    """(the file's text, the plain data of its YAML document: None when it is empty)."""
    text = _read_text(path)
    return text, _read_yaml(path, text)
