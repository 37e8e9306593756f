"""Tables for `vitbench bench` and `vitbench peak`. No torch.

Times are ms per iteration of the whole batch; throughput images/s; memory MiB (2**20 bytes); TFLOP/s are
1e12 FLOP/s with 1 MAC = 2 FLOPs. Headers, units and number formats come from vitbench.schema.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from vitbench.components import LABELS, TIMED
from vitbench.render import add_columns, fmt_pct, new_table
from vitbench.schema import fmt_ms, format_value, header, train_label

NOISY_IQR_FRACTION = 0.10  # IQR above this fraction of the median: flag the row as noisy


def _res(row: dict) -> str:
    h, w = row["res_h"], row["res_w"]
    return str(h) if h == w else f"{h}x{w}"


def short_kernel(name) -> str:
    """'_scaled_dot_product_flash_attention_for_cpu' -> 'flash (cpu)'; 'math' stays; '-' when unknown."""
    if not name:
        return "-"
    text = str(name).removeprefix("aten::").removeprefix("_scaled_dot_product_").removesuffix("_attention")
    text = text.replace("_attention_for_cpu", " (cpu)").replace("_for_cpu", " (cpu)")
    return text


def _status(row: dict) -> str:
    return "[green]ok[/]" if row["status"] == "ok" else f"[red]{escape(str(row['status']))}[/]"


def bench_table(rows: list[dict], title: str, caption: str, wide: bool = False) -> Table:
    """One line per point. Default: the point, how it ran, median and p10–p90, img/s, peak MiB, the attention
    kernel that ran, status; `wide` adds n, IQR, weights, TFLOP/s, MFU, compile time, max batch."""
    cuda = any(str(r["device"]).startswith("cuda") for r in rows)
    extra = ["n_iters", "latency_ms_iqr", "mem_weights_mib", "tflops_achieved"] if wide else []
    extra += (["mfu"] if wide and cuda else []) + (["compile_s"] if wide and any(r["compile"] for r in rows) else [])
    extra += ["max_batch"] if any(r.get("max_batch") is not None for r in rows) else []
    table = new_table(title, caption)
    names = ["point", "median ms", "p10–p90 ms", "img/s", *map(header, extra), "peak MiB", "kernel", "status"]
    add_columns(table, names, text={"point", "kernel", "status"})
    for r in rows:
        run = f"{r['dtype']} {r['attn']}" + (" compiled" if r["compile"] else "") + _training(r)
        spread = "-" if r["latency_ms_p10"] is None else f"{fmt_ms(r['latency_ms_p10'])}–{fmt_ms(r['latency_ms_p90'])}"
        table.add_row(escape(f"{r['model']} {_res(r)} b{r['batch']} {run}"),
                      format_value("latency_ms_median", r["latency_ms_median"]), spread,
                      format_value("throughput_ips", r["throughput_ips"]),
                      *(format_value(c, r.get(c)) for c in extra), format_value("mem_peak_mib", r["mem_peak_mib"]),
                      short_kernel(r.get("attn_kernel")), _status(r))
    return table


def _training(row: dict) -> str:
    """' train adamw ckpt' for a train row, '' for an infer row."""
    label = train_label(row.get("mode"), row.get("optimizer"), row.get("grad_checkpoint"))
    return f" {label}" if label else ""


def caption(spec, device: str, threads: int) -> str:
    """How the numbers were taken: clock, warm-up and timing settings, what peak memory means."""
    cuda = device.startswith("cuda")
    clock = "CUDA events, one synchronize at the end" if cuda else f"perf_counter_ns, {threads} torch threads"
    memory = ("peak: allocator peak (max_memory_allocated) incl. weights and input" if cuda
              else "peak: peak RSS of the measuring child process, incl. python + torch")
    t = spec.timing()
    what = ("training step (forward + loss + backward + optimizer step) of the whole batch" if spec.mode == "train"
            else "iteration of the whole batch")
    return (f"ms per {what} ({clock}): median and p10–p90 of the timed iterations. "
            f"Warm-up ≥ {t.warmup} iterations and ≥ {t.min_warmup_s:g} s; timed ≥ {t.iters} iterations and "
            f"≥ {t.min_time_s:g} s (the defaults for {device.split(':')[0]} unless given). img/s = batch / median. "
            f"MiB = 2²⁰ bytes; {memory}. kernel: the attention op that ran in a profiled iteration.")


def error_lines(rows: list[dict]) -> list[str]:
    """'model res batch dtype attn: status: error' for each row that is not ok."""
    return [f"{r['model']} {_res(r)} px batch {r['batch']} {r['dtype']} {r['attn']}: {r['status']}: {r['error']}"
            for r in rows if r["status"] != "ok"]


def noise_lines(rows: list[dict], context: str = "", threshold: float = NOISY_IQR_FRACTION) -> list[str]:
    """A warning for each measured row whose IQR exceeds `threshold` × median (busy machine, throttling)."""
    lines = []
    for r in rows:
        median, iqr = r["latency_ms_median"], r["latency_ms_iqr"]
        if median and iqr is not None and iqr / median > threshold:
            lines.append(f"{r['model']} {_res(r)} px batch {r['batch']}: noisy, IQR is {iqr / median:.1%} of the "
                         f"median (> {threshold:.0%}){context}; compare medians with care, or re-run with more --iters")
    return lines


def split_table(row: dict) -> Table:
    """Measured time per component beside its share of the MACs (closed form)."""
    table = new_table(f"Measured split — {row['model']} {_res(row)} px, batch {row['batch']}, {row['dtype']}, "
                      f"{row['attn']}",
                      "ms per iteration of the batch, summed over blocks; shares of the iteration. MAC share: closed "
                      "form (rest = patch embed + head).")
    add_columns(table, ["component", "time ms", "time share", "MAC share"], text={"component"})
    macs = row.get("macs")
    mac_parts = {} if not macs else {
        "attn_proj": row["macs_attn_proj"], "attn_core": row["macs_attn_core"], "mlp": row["macs_mlp"],
        "rest": row["macs_patch_embed"] + row["macs_head"],
    }
    for c in TIMED:
        mac_share = mac_parts[c] / macs if macs else None
        table.add_row(LABELS[c], format_value(f"time_ms_{c}", row[f"time_ms_{c}"]),
                      format_value(f"time_share_{c}", row[f"time_share_{c}"]), fmt_pct(mac_share))
    return table


def peak_table(rows: list[dict], title: str) -> Table:
    """`vitbench peak`: measured matmul TFLOP/s and copy GB/s beside the datasheet peak."""
    table = new_table(title, "matmul: 2·n³ FLOPs per n×n @ n×n, median of the timed iterations; copy: bytes read "
                             "+ written per second (1 GB = 1e9 B). Datasheet: dense, no sparsity.")
    add_columns(table, ["measure", "size", "measured", "unit", "datasheet", "of datasheet", "note"],
                text={"measure", "unit", "note"})
    for r in rows:
        value = "-" if r["value"] is None else format(r["value"], ",.2f" if r["unit"] == "GB/s" else ".4g")
        table.add_row(r["measure"], r["size"], value, r["unit"],
                      "-" if r["datasheet"] is None else f"{r['datasheet']:.1f}", fmt_pct(r["ratio"]),
                      escape(r["error"] or ""))
    return table


def train_memory_table(rows: list[dict]) -> Table:
    """Train rows: the memory of a step by kind (measured tensor bytes), the measured peak above the base, and
    the closed form's lower bound on it."""
    cuda = any(str(r["device"]).startswith("cuda") for r in rows)
    table = new_table("Training memory (MiB)", (
        "weights, grads, optimizer state, activations (saved for the backward, incl. autocast weight copies): "
        "tensor bytes of one step measured in phases. peak − base: "
        + ("max_memory_allocated across the timed steps" if cuda else "the child's peak RSS less what was "
           "resident before the build (includes torch's own memory for backward, the profiler of the kernel "
           "step and the C allocator's free pages)") + ". bound: closed-form lower bound on it (vitbench.cost.memory; docs/training.md)."))
    add_columns(table, ["point", "weights", "grads", "optimizer", "activations", "peak − base", "bound"],
                text={"point"})
    for r in rows:
        if r["status"] != "ok" or r.get("mode") != "train":
            continue
        above = None if r["mem_peak_mib"] is None else r["mem_peak_mib"] - (r.get("mem_base_mib") or 0.0)
        table.add_row(escape(f"{r['model']} {_res(r)} b{r['batch']}{_training(r)}"),
                      *(format_value(c, r.get(c)) for c in ("mem_weights_mib", "mem_grads_mib", "mem_optimizer_mib",
                                                            "mem_activations_mib")),
                      format_value("mem_peak_mib", above), format_value("mem_peak_pred_mib", r.get("mem_peak_pred_mib")))
    return table
