"""From a counter's raw counts to components: RawCount (per module and op, each module's figure including its
children's), exclusive counts, and attribution by the model's component map, with the checks that no MACs
were lost. No torch at import.

Each module's EXCLUSIVE count (its own minus its children's) goes to the component of its nearest mapped
ancestor (`vitbench.component_map`), split by op kind inside modules that run attention inline; normalisation
ops are element-ops; MACs in a module with no mapped ancestor are ``other``. The components sum to the
counter's total (checked). A counter that skipped an op which does matrix work (conv, mm, linear, attention,
...), or counts 0 in a called module that does matrix work, is an error.

Units: whatever the RawCount holds (vitbench's counters hand it MACs); `attribute` divides by the batch into
MACs per image.
"""

from __future__ import annotations

from dataclasses import dataclass

from vitbench.component_map import ATTENTION, nearest, op_component
from vitbench.cost.breakdown import BREAKDOWN_COMPONENTS, ELEMENTWISE_COMPONENTS, Breakdown

GLOBAL = "<global>"  # FlopCounterMode's "Global": work outside the root module
MATRIX_OP_MARKERS = ("conv", "mm", "matmul", "linear", "einsum", "attention")


def check_nothing_skipped(counter: str, skipped_ops) -> None:
    """Fail if a counter skipped an op that does matrix work (its MACs would silently be lost)."""
    lost = sorted(op for op in skipped_ops if any(m in op for m in MATRIX_OP_MARKERS))
    if lost:
        raise RuntimeError(f"{counter} skipped op(s) that carry MACs: {', '.join(lost)}")


@dataclass(frozen=True)
class RawCount:
    """What a counter saw: counts per module (qualified name, root '') and op, each including its children's;
    the counter's total; ops it skipped that carry MACs; the modules whose forward ran (ids)."""

    counter: str
    inclusive: dict
    total: int
    skipped: tuple
    called: frozenset


def exclusive(inclusive: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Per module and op, the module's own count: its count minus its nearest counted descendants'."""
    out = {name: dict(ops) for name, ops in inclusive.items()}
    for name, ops in inclusive.items():
        parent = _parent(name, inclusive)
        if parent is not None:
            for op, value in ops.items():
                out[parent][op] = out[parent].get(op, 0) - value
    negative = [f"{n} {op}" for n, ops in out.items() for op, v in ops.items() if v < 0]
    if negative:
        raise RuntimeError(f"children count more than their parent in {', '.join(negative[:3])} (shared module?)")
    return out


def _parent(name: str, present) -> str | None:
    """The nearest proper ancestor of `name` that has a count ('' is the root; GLOBAL holds the root)."""
    while name != GLOBAL:
        name = GLOBAL if name == "" else name.rpartition(".")[0]
        if name in present:
            return name
    return None


def attribute(raw: RawCount, cmap: dict[str, str], batch: int, elementwise: set[str],
              must_count: dict[str, str] | None = None) -> Breakdown:
    """Exclusive counts -> components (see the module docstring); checks; divided by the batch.

    `must_count`: {module: 'any' | 'attn_core'} for called modules that do matrix work; a zero there (in the
    whole module, or in its own attention-core ops) is an error. None skips the checks (a peer's view)."""
    own = exclusive(raw.inclusive)
    sums = dict.fromkeys(BREAKDOWN_COMPONENTS + ELEMENTWISE_COMPONENTS, 0)
    for name, ops in own.items():
        component = None if name == GLOBAL else nearest(name, cmap)
        for op, value in ops.items():
            sums[op_component(op, component)] += value
    if must_count is not None:
        _check_matrix_work(raw, own, must_count)
        if sum(sums.values()) != raw.total:
            raise RuntimeError(f"{raw.counter}: components sum to {sum(sums.values())} but the counter's total "
                               f"is {raw.total}")
        unseen = [c for c in ELEMENTWISE_COMPONENTS if c not in elementwise and sums[c]]
        if unseen:
            raise RuntimeError(f"{raw.counter}: unexpected element-op counts in {', '.join(unseen)}")
    for name, value in sums.items():
        if value % batch:
            raise RuntimeError(f"{raw.counter}: {name} count {value} is not a multiple of the batch {batch}")
    per_image = {k: v // batch if k in BREAKDOWN_COMPONENTS or k in elementwise else None for k, v in sums.items()}
    return Breakdown(counter=raw.counter, **per_image)


def _check_matrix_work(raw: RawCount, own: dict, must_count: dict[str, str]) -> None:
    for name, what in must_count.items():
        if what == "attn_core":
            value = sum(v for op, v in own.get(name, {}).items() if op_component(op, ATTENTION) == "attn_core")
        else:
            value = sum(raw.inclusive.get(name, {}).values())
        if value == 0:
            where = f"the attention core of {name!r}" if what == "attn_core" else repr(name)
            raise RuntimeError(f"{raw.counter} counted 0 MACs in {where}: an op without a formula "
                               f"(see counter_fixes.py)")


def matrix_modules(model, cmap: dict[str, str], called) -> dict[str, str]:
    """{name: 'any' | 'attn_core'} for the called modules that must show MACs: convolutions, linears,
    vitbench's AttentionCore ('any'), and modules mapped ``attention`` (their own core ops, 'attn_core')."""
    from torch import nn

    from vitbench.model import AttentionCore

    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, AttentionCore)
    out = {}
    for name, mod in model.named_modules():
        if id(mod) not in called:
            continue
        if cmap.get(name) == ATTENTION:
            out[name] = "attn_core"
        elif isinstance(mod, kinds):
            out[name] = "any"
    return out
