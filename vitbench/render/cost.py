"""Tables for `vitbench models`, `params`, `flops` and `split`. Compact: they fit 80 columns with exact counts."""

from __future__ import annotations

from rich.table import Table

from vitbench.components import BLOCK, LABELS, PARAM_LABELS
from vitbench.cost.analytic import Crossover
from vitbench.cost.breakdown import ELEMENTWISE_COMPONENTS, MATMUL_COMPONENTS, Breakdown, ParamBreakdown
from vitbench.render import add_columns, fmt_int, fmt_pct, fmt_si, new_table
from vitbench.zoo import ViTConfig

MAC_CAPTION = "1 MAC = 1 multiply-add = 2 FLOPs; papers and timm print GMACs as 'GFLOPs'."


def describe(model) -> str:
    """One line for a title: a ViTConfig or a vitbench.subject.Subject (an external model not covered by the
    closed form shows its name and resolution only)."""
    cfg = getattr(model, "cfg", model)
    if cfg is None:
        h, w = model.img_size
        return f"{model.name} · {h if h == w else f'{h}x{w}'} px"
    tokens = getattr(model, "tokens", None) or cfg.tokens
    extras = [f"+{cfg.registers} reg" if cfg.registers else "", "distilled" if cfg.distill else ""]
    tail = " ".join(e for e in extras if e)
    return (f"{cfg.name} · {cfg.res_label} px · P{cfg.patch} · D {cfg.dim} · L {cfg.depth} · "
            f"h {cfg.heads} · N {tokens}{' · ' + tail if tail else ''}")


def models_table(rows: list[tuple[ViTConfig, int, int]]) -> Table:
    """rows: (config, params at 224, MACs at 224)."""
    table = new_table("vitbench zoo (at 224 px)", f"GMACs per image. {MAC_CAPTION}")
    add_columns(table, ["name", "patch", "D", "L", "heads", "MLP", "tokens", "params", "GMACs"], text={"name"})
    for cfg, n_params, n_macs in rows:
        table.add_row(cfg.name, str(cfg.patch), str(cfg.dim), str(cfg.depth), str(cfg.heads),
                      str(cfg.mlp_hidden), str(cfg.tokens), fmt_int(n_params), f"{n_macs / 1e9:.2f}")
    return table


def params_table(model, p: ParamBreakdown | None) -> Table:
    """Exact parameters by component (None: the closed form does not cover the model; the total is numel)."""
    total = p.total if p is not None else model.params_total
    table = new_table(f"Parameters — {describe(model)}", "exact trainable parameters" + (
        "" if p is not None else " (the module's numel; the closed form does not cover it by component)"))
    add_columns(table, ["component", "params", "millions", "share"], text={"component"})
    for key, value in (p.as_dict().items() if p is not None else ()):
        table.add_row(PARAM_LABELS[key], fmt_int(value), f"{value / 1e6:.3f}", fmt_pct(value / p.total))
    table.add_section()
    table.add_row("[bold]total[/]", f"[bold]{fmt_int(total)}[/]", f"[bold]{total / 1e6:.3f}[/]", "100.0%")
    return table


def _shown(records: list[Breakdown]) -> list[str]:
    """The matmul components a table lists: `other` only where some counter saw MACs there."""
    return [c for c in MATMUL_COMPONENTS if c != "other" or any(r.other for r in records)]


def flops_table(model, b: Breakdown, batch: int, device: str) -> Table:
    """One counter's breakdown, totals for the batch."""
    total = b.total * batch
    table = new_table(f"MACs — {describe(model)} — batch {batch} — {b.counter} ({device})",
                      f"Per forward of {batch} image(s). {MAC_CAPTION} Element-ops are not in the totals.")
    add_columns(table, ["component", "MACs", "GMACs", "GFLOPs", "share"], text={"component"})
    for c in _shown([b]):
        v = getattr(b, c) * batch
        table.add_row(LABELS[c], fmt_int(v), f"{v / 1e9:.3f}", f"{2 * v / 1e9:.3f}", fmt_pct(v / total))
    table.add_section()
    table.add_row("[bold]total[/]", f"[bold]{fmt_int(total)}[/]",
                  f"[bold]{total / 1e9:.3f}[/]", f"[bold]{2 * total / 1e9:.3f}[/]", "100.0%")
    table.add_row("attention (proj + core)", "", "", "", fmt_pct(b.share("attention")))
    table.add_section()
    for c in ELEMENTWISE_COMPONENTS:
        v = getattr(b, c)
        label = f"{LABELS[c]} element-ops{' (5/elem)' if c == 'norm' else ''}"
        table.add_row(f"[dim]{label}[/]", "-" if v is None else fmt_int(v * batch), "", "", "")
    return table


def counters_table(model, records: list[Breakdown], batch: int, device: str) -> Table:
    """Counters side by side, exact MACs; a Δ column per counter (relative to the closed form) only where some
    count differs."""
    ref = records[0]
    differs = {r.counter for r in records[1:]
               if any(getattr(r, c) not in (None, getattr(ref, c)) for c in MATMUL_COMPONENTS)}
    table = new_table(f"MACs by counter — {describe(model)} — batch {batch}",
                      f"Per forward of {batch} image(s), counters traced on {device}. {MAC_CAPTION}")
    columns = ["component"]
    for r in records:
        columns += [r.counter] + ([f"Δ {r.counter}"] if r.counter in differs else [])
    add_columns(table, columns, text={"component"})

    def add(label: str, values: list[int | None]) -> None:
        cells = []
        for r, v in zip(records, values):
            cells.append("-" if v is None else fmt_int(v * batch))
            if r.counter in differs:
                cells.append(_rel_diff(v, values[0]))
        table.add_row(label, *cells)

    for c in _shown(records):
        add(LABELS[c], [getattr(r, c) for r in records])
    table.add_section()
    add("[bold]total[/]", [r.total for r in records])
    table.add_section()
    for c in ELEMENTWISE_COMPONENTS:
        add(f"[dim]{LABELS[c]} element-ops[/]", [getattr(r, c) for r in records])
    return table


def peers_table(model, exact: Breakdown, peers: list) -> Table:
    """vitbench's exact MACs per image beside what plain fvcore and FlopCounterMode report (vitbench.cost.peers),
    each with its relative difference."""
    table = new_table(f"What other counters report — {describe(model)}",
                      "MACs per image. Plain tools: a forward on cpu under no_grad, no vitbench handles; "
                      "FlopCounterMode's FLOPs halved, fvcore's 'flops' are MACs.")
    shown = [p for p in peers if p.macs is not None]
    add_columns(table, ["component", "vitbench", *(p.tool for p in shown)], text={"component"})
    for c in _shown([exact, *(p.macs for p in shown)]):
        table.add_row(LABELS[c], fmt_int(getattr(exact, c)), *(fmt_int(getattr(p.macs, c)) for p in shown))
    table.add_section()
    table.add_row("[bold]total[/]", fmt_int(exact.total), *(fmt_int(p.macs.total) for p in shown))
    table.add_row("vs vitbench", "", *(f"{(p.macs.total - exact.total) / exact.total:+.2%}" for p in shown))
    return table


def agreement_line(records: list[Breakdown]) -> str:
    """'fvcore and torch agree with the closed form to the MAC on every component' or what differs."""
    ref = records[0]
    off = [f"{r.counter} {LABELS[c]}" for r in records[1:] for c in MATMUL_COMPONENTS
           if getattr(r, c) != getattr(ref, c)]
    names = " and ".join(r.counter for r in records[1:])
    ref_name = "the closed form" if ref.counter == "analytic" else ref.counter
    return (f"{names} agree with {ref_name} to the MAC on every component" if not off
            else f"differs from the closed form: {', '.join(off)}")


def _rel_diff(value: int | None, ref: int | None) -> str:
    if value is None or ref is None:
        return "n/a"
    if value == ref:
        return "0"
    return f"{(value - ref) / ref:+.4%}" if ref else "inf"


COUNTER_FOOTNOTES = (
    "fvcore counts LayerNorm at 5 ops/element and nothing else elementwise; torch's FlopCounterMode counts no "
    "elementwise ops (n/a). vitbench registers the SDPA formulas both counters lack (fvcore: "
    "aten::scaled_dot_product_attention; torch on CPU: aten::_scaled_dot_product_flash_attention_for_cpu) and "
    "lets fvcore trace the patch-embed conv on meta (see README, 'MACs and FLOPs')."
)


def split_table(model, b: Breakdown) -> Table:
    """Per block and total MACs of the three block components (per image)."""
    L = getattr(model, "cfg", model).depth
    block_total = b.attn_proj + b.attn_core + b.mlp
    table = new_table(f"Attention vs MLP — {describe(model)}", f"MACs per image. {MAC_CAPTION}")
    add_columns(table, ["component", "MACs/block", "MACs total", "of blocks", "of model"], text={"component"})
    for c in BLOCK:
        v = getattr(b, c)
        table.add_row(LABELS[c], fmt_si(v / L), fmt_si(v), fmt_pct(v / block_total), fmt_pct(v / b.total))
    table.add_section()
    table.add_row("blocks", fmt_si(block_total / L), fmt_si(block_total), "100.0%", fmt_pct(block_total / b.total))
    return table


def crossover_lines(model, to_mlp: Crossover, to_dense: Crossover) -> list[str]:
    cfg = getattr(model, "cfg", model)
    prefix = getattr(model, "prefix_tokens", cfg.num_prefix_tokens)
    lines = []
    for c, what in ((to_mlp, "the MLP"), (to_dense, "all dense layers (qkv + out + MLP)")):
        lines.append(
            f"attention core > {what} when N > {c.tokens:,} tokens: first at {c.res} px "
            f"({c.side}×{c.side} patches of {cfg.patch}, N = {c.side ** 2 + prefix:,}); "
            f"equal at {c.res_exact:.0f} px"
        )
    return lines


def split_resolutions_table(cfg_rows: list[tuple[object, Breakdown]]) -> Table:
    """A row per resolution (a ViTConfig or Subject each): tokens, total MACs and the block components' shares."""
    first = getattr(cfg_rows[0][0], "cfg", cfg_rows[0][0])
    table = new_table(f"Attention vs MLP across resolutions — {first.name} (P{first.patch}, L {first.depth})",
                      f"GMACs per image; shares of the model's MACs (per block: the same shares; GMACs / L). "
                      f"{MAC_CAPTION}")
    add_columns(table, ["res", "tokens", "GMACs", "attn proj", "attn core", "MLP", "core/MLP"])
    for model, b in cfg_rows:
        cfg = getattr(model, "cfg", model)
        tokens = getattr(model, "tokens", None) or cfg.tokens
        table.add_row(cfg.res_label, fmt_int(tokens), f"{b.total / 1e9:,.2f}", fmt_pct(b.share("attn_proj")),
                      fmt_pct(b.share("attn_core")), fmt_pct(b.share("mlp")), f"{b.attn_core / b.mlp:.3f}")
    return table
