"""Tables for `vitbench bench` and `vitbench peak`. No torch.

Times are ms per forward of the whole batch; throughput images/s; memory MiB (labelled MB); TFLOP/s are
1e12 FLOP/s with 1 MAC = 2 FLOPs.
"""

from __future__ import annotations

from rich.table import Table

from vitbench.render import fmt_pct

SPLIT_LABELS = {
    "attn_proj": "attention projections (qkv + out)", "attn_core": "attention core (QKᵀ, softmax, AV)",
    "mlp": "MLP (fc1 + GELU + fc2)", "rest": "rest (patch embed, norms, residuals, head)",
}


def fmt_ms(value: float | None) -> str:
    """Milliseconds with 3-4 significant digits."""
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.2f}" if value < 1000 else f"{value:.1f}"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _res(row: dict) -> str:
    h, w = row["res_h"], row["res_w"]
    return str(h) if h == w else f"{h}x{w}"


def _status(row: dict) -> str:
    return "[green]ok[/]" if row["status"] == "ok" else f"[red]{row['status']}[/]"


def bench_table(rows: list[dict], title: str, caption: str) -> Table:
    """One line per point: median with p10–p90, IQR, n, throughput, memory, efficiency, status."""
    cuda = any(str(r["device"]).startswith("cuda") for r in rows)
    extra = [c for c, on in (("compile", any(r["compile"] for r in rows)),
                             ("max batch", any(r["max_batch"] is not None for r in rows))) if on]
    table = Table(title=title, caption=caption)
    cols = ["model", "res", "batch", "dtype", "attn", *extra, "median ms", "p10–p90 ms", "IQR ms", "n",
            "img/s", "weights MB", "peak MB", "TFLOP/s", *(["MFU"] if cuda else []), "status"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("model", "dtype", "attn", "status") else "right")
    for r in rows:
        cells = [r["model"], _res(r), str(r["batch"]), r["dtype"], r["attn"]]
        if "compile" in extra:
            cells.append("yes" if r["compile"] else "no")
        if "max batch" in extra:
            cells.append(_num(r["max_batch"], "d"))
        spread = "-" if r["latency_ms_p10"] is None else f"{fmt_ms(r['latency_ms_p10'])}–{fmt_ms(r['latency_ms_p90'])}"
        cells += [fmt_ms(r["latency_ms_median"]), spread, fmt_ms(r["latency_ms_iqr"]), _num(r["n_iters"], "d"),
                  _num(r["throughput_ips"], ",.1f"), _num(r["mem_weights_mib"], ",.1f"),
                  _num(r["mem_peak_mib"], ",.1f"), _num(r["tflops_achieved"], ".4g")]
        if cuda:
            cells.append(fmt_pct(r["mfu"]))
        table.add_row(*cells, _status(r))
    return table


def error_lines(rows: list[dict]) -> list[str]:
    """'model res batch dtype attn: status: error' for each row that is not ok."""
    return [f"{r['model']} {_res(r)} px batch {r['batch']} {r['dtype']} {r['attn']}: {r['status']}: {r['error']}"
            for r in rows if r["status"] != "ok"]


NOISY_IQR_FRACTION = 0.10  # IQR above this fraction of the median: flag the row as noisy


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
    table = Table(title=f"Measured split — {row['model']} {_res(row)} px, batch {row['batch']}, {row['dtype']}, "
                        f"{row['attn']}",
                  caption="ms per forward of the batch, summed over blocks, medians of separate hooked iterations; "
                          "shares of the hooked forward time. MAC share: closed form (rest = patch embed + head).")
    for col in ("component", "time ms", "time share", "MAC share"):
        table.add_column(col, justify="left" if col == "component" else "right")
    macs = row.get("macs")
    mac_parts = {} if not macs else {
        "attn_proj": row["macs_attn_proj"], "attn_core": row["macs_attn_core"], "mlp": row["macs_mlp"],
        "rest": row["macs_patch_embed"] + row["macs_head"],
    }
    for c, label in SPLIT_LABELS.items():
        mac_share = mac_parts[c] / macs if macs else None
        table.add_row(label, fmt_ms(row[f"time_ms_{c}"]), fmt_pct(row[f"time_share_{c}"]), fmt_pct(mac_share))
    return table


def peak_table(rows: list[dict], title: str) -> Table:
    """`vitbench peak`: measured matmul TFLOP/s and copy GB/s beside the datasheet peak."""
    table = Table(title=title, caption="matmul: 2·n³ FLOPs per n×n @ n×n, median of the timed iterations; "
                                       "copy: bytes read + written per second (1 GB = 1e9 B). Datasheet: dense, "
                                       "no sparsity (vitbench.measure.peak).")
    for col in ("measure", "size", "measured", "unit", "datasheet", "of datasheet", "note"):
        table.add_column(col, justify="left" if col in ("measure", "unit", "note") else "right")
    for r in rows:
        table.add_row(r["measure"], r["size"], _num(r["value"], ",.2f" if r["unit"] == "GB/s" else ".4g"),
                      r["unit"], _num(r["datasheet"], ".1f"), fmt_pct(r["ratio"]), r["error"] or "")
    return table
