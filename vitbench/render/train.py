"""Tables for the training side of the cost commands: `flops --mode train`, `memory`, `train-cost`. No torch.

MACs per image unless a title says otherwise (1 MAC = 2 FLOPs); memory in MiB (2**20 bytes); device-time in
hours and days of one device unit (a GPU, a TPU chip or a TPU core).
"""

from __future__ import annotations

from rich.table import Table

from vitbench.components import LABELS, MATMUL, OTHER
from vitbench.cost.memory import MIB, TrainingMemory
from vitbench.cost.train_cost import TrainCost
from vitbench.cost.training import TrainingMacs
from vitbench.render import add_columns, fmt_int, new_table
from vitbench.render.cost import MAC_CAPTION, describe
from vitbench.zoo import ViTConfig


def _scale(total: int) -> tuple[str, float]:
    """GMACs, or MMACs for a step under 1 GMAC (tiny models would show 0.000)."""
    return ("GMACs", 1e9) if total >= 1e9 else ("MMACs", 1e6)


def train_flops_table(cfg: ViTConfig, t: TrainingMacs, batch: int, attn: str, grad_checkpoint: bool) -> Table:
    """Forward, backward, backward / forward, recompute and the whole step per component, in GMACs."""
    ckpt = ", checkpointing" if grad_checkpoint else ""
    unit, scale = _scale(t.hardware * batch)

    def _g(value: int) -> str:
        return f"{value / scale:,.3f}" if value else "-"

    table = new_table(f"Training MACs — {describe(cfg)} — batch {batch} — attn {attn}{ckpt}",
                      f"{unit} per training step of {batch} image(s). Backward: 2 × forward for every matmul but the "
                      f"patch embed (1 ×: the image needs no gradient). Recompute: fused attention's QKᵀ in its "
                      f"backward (all backends but math and manual); checkpointing: every block again up to fc1. "
                      f"{MAC_CAPTION}")
    add_columns(table, ["component", "forward", "backward", "bwd/fwd", "recompute", "step"], text={"component"})
    hardware = t.hardware_by_component()
    for c in (c for c in MATMUL if c != OTHER or t.forward.other):  # other: shown only when nonzero
        fwd, bwd = getattr(t.forward, c) * batch, getattr(t.backward, c) * batch
        table.add_row(LABELS[c], _g(fwd), _g(bwd), f"{bwd / fwd:g} ×" if fwd else "-",
                      _g(hardware[c] * batch - fwd - bwd), _g(hardware[c] * batch))
    table.add_section()
    recompute = (t.hardware - t.model) * batch
    table.add_row("[bold]total[/]", _g(t.forward.total * batch), _g(t.backward.total * batch),
                  f"{t.backward.total / t.forward.total:.3f} ×", _g(recompute), f"[bold]{_g(t.hardware * batch)}[/]")
    return table


def train_macs_lines(t: TrainingMacs, batch: int) -> list[str]:
    """The exact totals under the table: model MACs (the MFU numerator), step MACs, and FLOPs."""
    fwd, model, step = t.forward.total * batch, t.model * batch, t.hardware * batch
    return [f"model MACs (forward + backward, the MFU numerator): {fmt_int(model)} = 3 × forward "
            f"{fmt_int(fwd)} − patch embed {fmt_int(t.forward.patch_embed * batch)}",
            f"step MACs (what the device runs, + recompute): {fmt_int(step)}; "
            f"GFLOPs: model {2 * model / 1e9:,.3f}, step {2 * step / 1e9:,.3f}"]


def counted_lines(closed_form: int, counted: list[tuple[str, str, int]], batch: int) -> list[str]:
    """Step MACs by each counter beside the closed form's: (counter, where it traced, MACs per image)."""
    lines = []
    for counter, where, total in counted:
        same = "equal to the closed form" if total == closed_form else (
            f"the closed form says {fmt_int(closed_form * batch)} ({(total - closed_form) / closed_form:+.4%})")
        lines.append(f"{counter} (FlopCounterMode over a real step, on {where}): {fmt_int(total * batch)} step MACs, "
                     f"{same}")
    return lines


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:,.1f}"


def memory_table(cfg: ViTConfig, batch: int, dtype: str, attn: str, device: str, mem: TrainingMemory | None,
                 infer_bound_mib: float, weights_mib: float, optimizer: str | None, grad_checkpoint: bool) -> Table:
    """The memory model of one point in MiB: a training step by kind, or an inference forward's bound."""
    if mem is None:
        table = new_table(f"Inference memory (MiB, closed form) — {describe(cfg)} — batch {batch} — {dtype}, "
                          f"attn {attn}", "Lower bound on the peak of one forward. The measured peak adds the "
                          "input, workspaces and the allocator's rounding (CPU RSS: also torch itself).")
        add_columns(table, ["part", "MiB", "what"], text={"part", "what"})
        live = ("B·N·(2D + F): residual, its LayerNorm output and the MLP hidden layer" +
                (", or B·(4·N·D + h·N²) with the N×N scores" if attn in ("math", "manual") else ""))
        table.add_row("weights", f"{weights_mib:,.1f}", "parameters × bytes of the weight dtype")
        table.add_row("live activations", f"{infer_bound_mib - weights_mib:,.1f}", live)
        table.add_section()
        table.add_row("[bold]peak lower bound[/]", f"[bold]{infer_bound_mib:,.1f}[/]", "")
        return table
    ckpt = ", checkpointing" if grad_checkpoint else ""
    table = new_table(f"Training memory (MiB, closed form, {device} rules) — {describe(cfg)} — batch {batch} — "
                      f"{dtype}, attn {attn}, {optimizer}{ckpt}",
                      "Tensor bytes of one step (docs/training.md, 'Memory model'); on CPU the measured split "
                      "equals them to the byte. Gradients exist from the backward to the optimizer step. The "
                      "measured peak is higher: gradients alive in the backward, temporaries, workspaces, the "
                      "allocator's rounding and free pages (CPU RSS: also torch itself).")
    add_columns(table, ["part", "MiB", "in the bound"], text={"part"})
    rows = [("weights", mem.weights, True), ("gradients", mem.gradients, False),
            ("optimizer state", mem.optimizer_state + mem.optimizer_steps, True),
            ("inputs (images + labels)", mem.inputs, True),
            ("activations (saved for the backward)", mem.activations, True)]
    if mem.amp_weight_copies:
        rows.append(("autocast weight copies (saved)", mem.amp_weight_copies, True))
    if grad_checkpoint:
        rows.append(("recompute (one block's saved set)", mem.recompute, True))
    for part, value, held in rows:
        table.add_row(part, _mib(value), "yes" if held else "no")
    table.add_section()
    table.add_row("held at the end of the forward", _mib(mem.held_end_of_forward), "")
    table.add_row("[bold]peak lower bound[/]", f"[bold]{_mib(mem.peak_lower_bound)}[/]", "")
    return table


def _days(value: float) -> str:
    return f"{value:,.1f}" if value >= 10 else f"{value:#,.3g}"  # 4.00, not 4


def train_cost_table(cfg: ViTConfig, run: TrainCost, convention: str, mfu_source: str) -> Table:
    """Total compute, device-time at the MFU, and the money when a price is given."""
    unit = run.device.unit
    table = new_table(f"Training cost — {describe(cfg)} — {run.images:,} images — {run.device.label}",
                      f"MACs per image: {convention} convention (docs/training.md). Device-time = FLOPs / (MFU × "
                      f"peak); one {unit}-day = 86,400 {unit}-seconds (N {unit}s for D days = N·D). "
                      f"1 MAC = 2 FLOPs; 1 EFLOP = 1e18 FLOPs.")
    add_columns(table, ["quantity", "value", "unit"], text={"quantity", "unit"})
    table.add_row("MACs per image", fmt_int(run.macs_per_image), "MACs")
    table.add_row("training compute", fmt_int(run.macs), "MACs")
    table.add_row("", f"{run.flops / 1e18:,.2f}", "EFLOPs")
    table.add_row(f"peak ({run.precision})", f"{run.peak_tflops:g}", f"TFLOP/s per {unit}")
    table.add_row("MFU", f"{100 * run.mfu:.2f}%", mfu_source)
    table.add_section()
    table.add_row("device-time", f"{run.device_hours:,.0f}" if run.device_hours >= 100 else f"{run.device_hours:,.3g}",
                  f"{unit}-hours")
    table.add_row("", _days(run.device_days), f"{unit}-days")
    if run.cost is not None:
        table.add_row("cost", f"{run.cost:,.2f}", f"at {run.price_per_hour:g} per {unit}-hour")
    return table
