"""What fvcore and torch's FlopCounterMode report WITHOUT vitbench's additions — what a plain user of those
tools sees — beside vitbench's exact count, with what each one missed and why.

The plain recipes (model in eval mode, one input ``x``):

* fvcore: ``FlopCountAnalysis(model, x).total()`` under ``torch.no_grad()``. fvcore's "flops" are MACs, and
  its total also holds LayerNorm element-ops (5 per element).
* FlopCounterMode: ``with torch.no_grad(), FlopCounterMode(display=False) as m: model(x)``, then
  ``m.get_total_flops()``: FLOPs, 2 per MAC.

Each peer's own counts are attributed with vitbench's component map (no checks), so a table can show which
component went missing; `skipped` names the ops the tool skipped or had no formula for. A tool that fails
outright (fvcore traces the patch-embed conv with traced sizes on the meta device, FlopCounterMode's module
tracker trips over a parameter passed as a module input under no_grad) is a peer with `error` set.
"""

from __future__ import annotations

from dataclasses import dataclass

from vitbench.cost.breakdown import BREAKDOWN_COMPONENTS, Breakdown

PEERS = ("fvcore", "FlopCounterMode")
UNITS = {"fvcore": "fvcore 'flops' (= MACs, LayerNorm element-ops included)",
         "FlopCounterMode": "FLOPs (2 per MAC)"}


@dataclass(frozen=True)
class PeerCount:
    """One tool's plain count. `reported`: its total for the batch, in its own unit (`unit`); `macs`: per
    image, by component (vitbench's attribution of the tool's counts); `skipped`: ops it skipped that carry
    MACs; `error`: the tool's first error line when it fails (then `reported` and `macs` are None)."""

    tool: str
    reported: int | None
    unit: str
    macs: Breakdown | None
    skipped: tuple[str, ...] = ()
    error: str | None = None

    def missing(self, exact: Breakdown) -> dict[str, int]:
        """MACs per image the tool reports short of `exact`, per component (negative: reported in excess)."""
        if self.macs is None:
            return {}
        out = {c: getattr(exact, c) - getattr(self.macs, c) for c in BREAKDOWN_COMPONENTS}
        return {c: v for c, v in out.items() if v}

    def explain(self, exact: Breakdown) -> str:
        """One line: the difference from `exact` and why (components short, ops skipped), or the error."""
        if self.error is not None:
            return f"{self.tool} fails: {self.error}"
        missing = self.missing(exact)
        if not missing:
            return f"{self.tool}: exact ({self.macs.total:,} MACs per image)"
        delta = (self.macs.total - exact.total) / exact.total
        parts = ", ".join(f"{c} {getattr(self.macs, c):,} of {getattr(exact, c):,}" for c in missing)
        why = f"; no formula / handle for {', '.join(self.skipped)}" if self.skipped else ""
        return f"{self.tool}: {self.macs.total:,} MACs per image ({delta:+.2%}): {parts}{why}"


def peer_counts(model, x) -> list[PeerCount]:
    """The plain fvcore and FlopCounterMode counts of `model` on `x` (batch = x.shape[0])."""
    from vitbench.component_map import component_map
    from vitbench.cost.attribution import MATRIX_OP_MARKERS, attribute
    from vitbench.cost.counters import fvcore_counts, torch_counts

    cmap, batch = component_map(model), x.shape[0]
    out = []
    for tool, counts, elementwise, unit_per_mac in (("fvcore", fvcore_counts, {"norm"}, 1),
                                                    ("FlopCounterMode", torch_counts, set(), 2)):
        try:
            raw = counts(model, x, fixes=False)
        except Exception as e:  # noqa: BLE001 - a failing tool is a result here, shown as such
            out.append(PeerCount(tool, None, UNITS[tool], None, error=_first_line(e)))
            continue
        skipped = tuple(sorted(op for op in raw.skipped if any(m in op for m in MATRIX_OP_MARKERS)))
        macs = attribute(raw, cmap, batch, elementwise, must_count=None)
        out.append(PeerCount(tool, raw.total * unit_per_mac, UNITS[tool], macs, skipped))
    return out


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
