"""`vitbench report`: one markdown file from a results CSV — environment, findings computed from the rows,
summary tables, and the figures of vitbench.figures written next to it (<report stem>_files/). No torch.

Units as in the rows: MACs per image (1 MAC = 2 FLOPs), latency in ms per iteration of the whole batch
(a forward or a training step; median, p10–p90 over the timed iterations), throughput in images/s, memory in MiB (2**20 bytes).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vitbench.cost import analytic
from vitbench.errors import VitbenchError
from vitbench.figures.output import PlotResult, plot_results
from vitbench.figures.rows import Skip, common_context, cost_rows, describe, measured_rows, series
from vitbench.results_frame import load_results, with_patch
from vitbench.schema import train_label
from vitbench.storage import read_metadata, write_atomic
from vitbench.zoo import ViTConfig

CONVENTIONS = ("MACs are per image (1 MAC = 1 multiply-add = 2 FLOPs) from the closed form; latency is ms per "
               "iteration of the whole batch: a forward, or on train rows a training step (median, p10–p90 over "
               "the timed iterations); throughput = batch / "
               "median; memory in MiB. Measured values come only from rows with status `ok`.")
MAX_FINDINGS_PER_KIND = 6


@dataclass(frozen=True)
class Report:
    path: Path
    plots: PlotResult


def md_table(headers: list[str], rows: list[list], right: set[int] | None = None) -> str:
    """A GitHub-flavoured markdown table; columns in `right` (default: all but the first) right-aligned."""
    right = set(range(1, len(headers))) if right is None else right
    cell = lambda v: "-" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).replace("|", "\\|")
    rule = "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"
    out = ["| " + " | ".join(headers) + " |", rule]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def _res(row) -> str:
    return f"{int(row['res_h'])}" if row["res_h"] == row["res_w"] else f"{int(row['res_h'])}x{int(row['res_w'])}"


def _g(macs: float) -> str:
    return num(macs / 1e9)


def macs_text(macs: float) -> str:
    """MACs with a readable prefix: '0.715 GMACs', '74 kMACs' (G from 0.1 G, M from 0.1 M, k from 0.1 k)."""
    for unit, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if macs >= unit / 10:
            return f"{num(macs / unit)} {prefix}MACs"
    return f"{num(macs)} MACs"


def num(value: float) -> str:
    """3 significant digits without exponents: 0.0461, 17.6, 354, 1,610."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _cost_rows(df: pd.DataFrame, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per config with MACs (all statuses), sorted by model and tokens; empty when there are none."""
    rows = cost_rows(df, ["macs", "macs_attn_core", "macs_mlp", *extra])
    return df.iloc[:0] if isinstance(rows, Skip) else rows.sort_values(["arch", "tokens"])


def patch_findings(df: pd.DataFrame) -> list[str]:
    """'halving the patch from 16 to 8 multiplies tokens by 3.98 and attention-core MACs by 15.9' per pair."""
    out = []
    for (arch, _, _), g in _cost_rows(df).groupby(["arch", "res_h", "res_w"]):
        by_patch = {int(r["patch"]): r for _, r in g.iterrows()}
        for p in sorted(by_patch, reverse=True):
            if p % 2 or p // 2 not in by_patch:
                continue
            a, b = by_patch[p], by_patch[p // 2]
            model = re.sub(r" \(P[\d/]+\)", "", arch)
            out.append(
                f"At {_res(a)} px, halving the patch of {model} from {p} to {p // 2} multiplies tokens by "
                f"{b['tokens'] / a['tokens']:.3g} ({a['tokens']} → {b['tokens']}), attention-core MACs by "
                f"{b['macs_attn_core'] / a['macs_attn_core']:.3g} ({macs_text(a['macs_attn_core'])} → "
                f"{macs_text(b['macs_attn_core'])}) and total MACs by {b['macs'] / a['macs']:.3g} "
                f"({macs_text(a['macs'])} → {macs_text(b['macs'])} per image).")
    return out[:MAX_FINDINGS_PER_KIND]


def resolution_findings(df: pd.DataFrame) -> list[str]:
    """How the attention-core share grows with resolution, and where the core overtakes the MLP."""
    out = []
    rows = _cost_rows(df, ("attn_core_share",))
    for (arch, patch), g in rows.groupby(["arch", "patch"]):
        if g[["res_h", "res_w"]].drop_duplicates().shape[0] < 2:
            continue
        a, b = g.iloc[0], g.iloc[-1]
        cross = analytic.crossovers(ViTConfig.from_row(a))[0]
        square = bool((g["res_h"] == g["res_w"]).all())
        where = f", i.e. from {cross.res} px for square inputs" if square else ""
        out.append(
            f"{with_patch(arch, patch)}: the attention core's share of MACs grows from "
            f"{100 * a['attn_core_share']:.1f}% at {_res(a)} px to {100 * b['attn_core_share']:.1f}% at "
            f"{_res(b)} px (tokens ×{b['tokens'] / a['tokens']:.3g}, core MACs ×"
            f"{b['macs_attn_core'] / a['macs_attn_core']:.3g}); it exceeds the MLP above N = F = "
            f"{cross.tokens} tokens{where}.")
    return out[:MAX_FINDINGS_PER_KIND]


def _faster(a, b) -> str:
    """How far a (the faster) is ahead of b, with a note when their p10–p90 ranges overlap."""
    ratio = b["latency_ms_median"] / a["latency_ms_median"]
    overlap = all(k in a and pd.notna(a[k]) for k in ("latency_ms_p90",)) and pd.notna(b.get("latency_ms_p10")) \
        and a["latency_ms_p90"] >= b["latency_ms_p10"]
    return f"{ratio:.2f}× ahead of {b['key']}" + (" (p10–p90 ranges overlap)" if overlap else "")


def fastest_tables(df: pd.DataFrame) -> list[tuple[str, str]]:
    """Per token count, the fastest attention backend (or dtype) and its margin: (heading, markdown table)."""
    ok = measured_rows(df, ["latency_ms_median"])
    if isinstance(ok, Skip):
        return []
    out = []
    for key in ("attn", "dtype"):
        if key not in ok or ok[key].nunique() < 2:
            continue
        fixed = [c for c in ("arch", "device", "dtype", "attn", "batch", "compile") if c in ok and c != key]
        for values, g in ok.groupby(fixed):
            if g[key].nunique() < 2:
                continue
            values = values if isinstance(values, tuple) else (values,)
            failed = df[(df["status"] != "ok") & (df[fixed].astype(str) == [str(v) for v in values]).all(axis=1)]
            rows = []
            for tokens, t in g.groupby("tokens"):
                t = t.assign(key=t[key].map(lambda v: describe(key, v))).sort_values("latency_ms_median")
                best, slow = t.iloc[0], t.iloc[-1]
                runner = _faster(best, t.iloc[1]) if len(t) > 1 else "-"
                lost = failed[failed["tokens"] == tokens]
                rows.append([int(tokens), best["key"], num(best["latency_ms_median"]), runner,
                             f"{slow['key']} ({slow['latency_ms_median'] / best['latency_ms_median']:.2f}×)",
                             ", ".join(f"{describe(key, r[key])} ({r['status']})" for _, r in lost.iterrows()) or "-"])
            context = " · ".join(describe(c, v) for c, v in zip(fixed, values))
            heading = f"Fastest {'attention backend' if key == 'attn' else 'dtype'} per token count — {context}"
            table = md_table(["tokens", "fastest", "median ms", "vs runner-up", "slowest (× fastest)",
                              "did not run"], rows, right={0, 2})
            out.append((heading, table))
    return out


def scaling_findings(df: pd.DataFrame) -> list[str]:
    """Per measured line: latency growth vs token and MAC growth from its first to its last point."""
    ok = measured_rows(df, ["latency_ms_median", "macs"])
    if isinstance(ok, Skip):
        return []
    title, lines = series(ok, "tokens")
    context = common_context(pd.concat([g for _, g in lines])) if lines else ""
    out = []
    for label, g in lines[:MAX_FINDINGS_PER_KIND]:
        a, b = g.iloc[0], g.iloc[-1]
        name = label if title == "model" else f"{label} ({context})"
        out.append(f"{name}: from {a['tokens']} to {b['tokens']} tokens (×{b['tokens'] / a['tokens']:.3g}, MACs "
                   f"×{b['macs'] / a['macs']:.3g}) the median latency grows ×"
                   f"{b['latency_ms_median'] / a['latency_ms_median']:.3g} ({num(a['latency_ms_median'])} → "
                   f"{num(b['latency_ms_median'])} ms).")
    return out


NOISY_SPREAD = 0.5  # (p90 - p10) / median above which a timing is flagged


def noise_findings(df: pd.DataFrame) -> list[str]:
    """Measured points whose p10–p90 range is wider than half their median: re-run them before trusting them."""
    ok = measured_rows(df, ["latency_ms_median", "latency_ms_p10", "latency_ms_p90"])
    if isinstance(ok, Skip):
        return []
    spread = (ok["latency_ms_p90"] - ok["latency_ms_p10"]) / ok["latency_ms_median"]
    noisy = ok[spread > NOISY_SPREAD]
    if noisy.empty:
        return []
    points = ", ".join(
        f"{with_patch(r['arch'], int(r['patch']))} at {_res(r)} px ({num(r['latency_ms_p10'])}–"
        f"{num(r['latency_ms_p90'])} ms around {num(r['latency_ms_median'])})" for _, r in noisy.iterrows())
    return [f"Noisy timings — p10–p90 wider than {NOISY_SPREAD:.0%} of the median: {points}. Re-run these points "
            f"(more iterations, an idle machine) before reading much into them."]


def mfu_findings(df: pd.DataFrame) -> list[str]:
    ok = measured_rows(df, ["mfu", "batch"])
    if isinstance(ok, Skip):
        return []
    title, lines = series(ok, "batch", varying=("tokens",))
    context = common_context(pd.concat([g for _, g in lines]), ("model", "tokens", "device", "dtype", "attn")) \
        if lines else ""
    out = []
    for label, g in lines[:MAX_FINDINGS_PER_KIND]:
        best = g.loc[g["mfu"].idxmax()]
        name = label if title == "model" else f"{label} ({context})"
        out.append(f"{name}: MFU rises from {100 * g.iloc[0]['mfu']:.1f}% at batch {int(g.iloc[0]['batch'])} to a "
                   f"peak of {100 * best['mfu']:.1f}% at batch {int(best['batch'])}.")
    return out


def _flatten(meta: dict, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in meta.items():
        if isinstance(v, dict):
            out += _flatten(v, f"{prefix}{k}.")
        else:
            text = " ".join((", ".join(map(str, v)) if isinstance(v, list) else str(v)).split())  # one line
            out.append((prefix + str(k), text if len(text) <= 120 else text[:117] + "..."))
    return out


def environment_section(df: pd.DataFrame, meta: dict | None, source: Path) -> str:
    from vitbench.storage import sidecar_path

    lines = []
    if meta:
        lines.append(md_table(["key", "value"], [list(kv) for kv in _flatten(meta)], right=set()))
    else:
        lines.append(f"No metadata sidecar (`{sidecar_path(source).name}`) next to the results file.")
    from_rows = [(c, sorted(df[c].dropna().astype(str).unique())) for c in ("device", "device_name", "threads")
                 if c in df and df[c].notna().any()]
    if from_rows:
        lines.append("From the rows: " + "; ".join(f"{c} = {', '.join(v)}" for c, v in from_rows) + ".")
    return "\n\n".join(lines)


def cost_table(df: pd.DataFrame) -> str | None:
    rows = _cost_rows(df)
    if rows.empty:
        return None
    body = [[r["arch"], int(r["patch"]), _res(r), int(r["tokens"]),
             f"{r['params'] / 1e6:.2f}" if "params" in r and pd.notna(r["params"]) else None,
             _g(r["macs"]), _g(r["macs_attn_core"]), _g(r["macs_mlp"]),
             f"{100 * r['macs_attn_core'] / r['macs']:.1f}%", f"{r['macs_attn_core'] / r['macs_mlp']:.3g}"]
            for _, r in rows.iterrows()]
    return md_table(["model", "patch", "res (px)", "tokens", "params (M)", "GMACs", "attn core GMACs",
                     "MLP GMACs", "core share", "core / MLP"], body)


def measured_table(df: pd.DataFrame) -> str | None:
    ok = measured_rows(df, ["latency_ms_median"])
    if isinstance(ok, Skip):
        return None
    get = lambda r, c, f: f(r[c]) if c in r and pd.notna(r[c]) else None
    train = "mode" in ok and bool((ok["mode"] == "train").any())  # a mode column only where train rows are
    body = []
    for _, r in ok.sort_values(["arch", "tokens"]).iterrows():
        spread = (f" [{num(r['latency_ms_p10'])}–{num(r['latency_ms_p90'])}]"
                  if "latency_ms_p90" in r and pd.notna(r["latency_ms_p90"]) else "")
        mode = [_mode(r)] if train else []
        body.append([r["arch"], int(r["patch"]), _res(r), int(r["tokens"]), get(r, "batch", lambda v: f"{v:.0f}"),
                     r.get("device"), r.get("dtype"), r.get("attn"), *mode, f"{num(r['latency_ms_median'])}{spread}",
                     get(r, "n_iters", lambda v: f"{v:.0f}"),
                     get(r, "throughput_ips", num), get(r, "mem_peak_mib", lambda v: f"{v:,.0f}"),
                     f"{100 * r['mfu']:.1f}%" if "mfu" in r and pd.notna(r["mfu"]) else None])
    shift = int(train)
    return md_table(["model", "patch", "res (px)", "tokens", "batch", "device", "dtype", "attn",
                     *(["mode"] if train else []), "latency ms, median [p10–p90]", "n", "images/s", "peak MiB", "MFU"],
                    body, right={1, 2, 3, 4, *(c + shift for c in (8, 9, 10, 11, 12))})


def _mode(row) -> str:
    """'infer', or 'train adamw' / 'train sgd ckpt' (the step a train row timed)."""
    return train_label(row.get("mode"), row.get("optimizer"), row.get("grad_checkpoint")) or "infer"


def failed_table(df: pd.DataFrame) -> str | None:
    bad = df[df["status"] != "ok"]
    if bad.empty:
        return None
    body = [[r["arch"], int(r["patch"]), _res(r), int(r["tokens"]),
             None if pd.isna(r.get("batch")) else describe("dtype", r["batch"]), r.get("dtype"), r.get("attn"),
             r["status"], str(r.get("error") or "")[:100]] for _, r in bad.iterrows()]
    return md_table(["model", "patch", "res (px)", "tokens", "batch", "dtype", "attn", "status", "error"], body,
                    right={1, 2, 3, 4})


def _s(value) -> str | None:
    """Seconds: 3 significant digits below 100 (0.0123, 4.56), whole seconds above (1,234)."""
    return None if value is None or pd.isna(value) else num(float(value)) if value else "0"


def time_section(df: pd.DataFrame, meta: dict | None) -> str | None:
    """Where the sweep's time went (vitbench.walltime): its wall time, the measured points' seconds by phase,
    the workers or jobs, and what that means for --jobs. None when the rows have no `point_s` and the sidecar
    lists no worker or job."""
    from statistics import median

    from vitbench import walltime

    totals, runners, wall = walltime.phases(df), walltime.runners(meta), walltime.wall_s(meta)
    if totals is None and not runners:
        return None
    parts = []
    head = f"The sweep took {_s(wall)} s of wall time" if wall is not None else "The sweep's wall time is unknown"
    if totals is not None:
        head += (f"; its {totals.points} measured point(s) took {_s(totals.total)} s of point time (`point_s`, "
                 f"summed where each ran); {totals.cost_only} row(s) are cost-only or older (no `point_s`).")
        body = [[label, _s(sec), f"{100 * sec / totals.total:.1f}%" if totals.total else "-"]
                for label, sec in totals.seconds]
        body.append(["all points (point_s)", _s(totals.total), "100%"])
        parts += [head, md_table(["phase", "seconds", "share of point time"], body)]
    else:
        parts.append(head + ".")
    if runners:
        kind = runners[0].kind
        start = "queue + start-up s" if kind == "job" else "start-up s"
        body = [[r.name, r.where, r.points, _s(r.start_s), _s(r.busy_s), _s(r.wall_s), r.ended] for r in runners]
        parts.append(md_table([kind, "host / device", "points" if kind == "worker" else "rows", start, "busy s",
                               "wall s", "ended"], body, right={2, 3, 4, 5}))
        starts = [r.start_s for r in runners if r.start_s is not None]
        if starts and totals is not None:
            per = median(starts)
            parts.append(f"Sizing `--{'jobs' if kind == 'job' else 'devices'}`: each {kind} cost about {_s(per)} s "
                         f"before its first point (median). With n of them the measured work needs at least "
                         f"{_s(totals.total)} / n s plus that; more {kind}s pay off while {_s(totals.total)} / n "
                         f"stays well above {_s(per)} s.")
    return "\n\n".join(parts)


def render(df: pd.DataFrame, meta: dict | None, plots: PlotResult, source: Path, out_dir: Path) -> str:
    """The markdown text; figure links are relative to `out_dir` (the report's folder)."""
    from vitbench.environment import now_iso

    counts = df["status"].value_counts()
    status = ", ".join(f"{n} {s}" for s, n in counts.items())
    parts = [f"# vitbench report: {source.name}",
             f"Source: `{source}` — {len(df)} rows ({status}). Written {now_iso()}.", f"_{CONVENTIONS}_",
             "## Environment", environment_section(df, meta, source)]
    findings = (patch_findings(df) + resolution_findings(df) + scaling_findings(df) + mfu_findings(df)
                + noise_findings(df))
    if findings:
        parts += ["## Findings", "\n".join(f"- {f}" for f in findings)]
    for heading, table in fastest_tables(df):
        parts += [f"### {heading}", table]
    for title, table in (("Cost per image (closed form)", cost_table(df)), ("Measurements", measured_table(df)),
                         ("Points that did not run", failed_table(df)),
                         ("Where the time went", time_section(df, meta))):
        if table:
            parts += [f"## {title}", table]
    if plots.made or plots.skipped:
        parts.append("## Figures")
    for fig in plots.made:
        link = Path(os.path.relpath(fig.path, out_dir)).as_posix()
        parts += [f"### {fig.name}", f"![{fig.caption}]({link})", f"_{fig.caption}_"]
    if plots.skipped:
        parts.append("Not drawn: " + "; ".join(f"{name} ({skip.reason})" for name, skip in plots.skipped) + ".")
    return "\n\n".join(parts) + "\n"


def write_report(results: str | Path, out: str | Path, fmt: str = "png") -> Report:
    """Read `results`, draw its figures into <out stem>_files/, write the markdown to `out`."""
    results, out = Path(results), Path(out)
    if out.suffix.lower() != ".md":
        raise VitbenchError(f"report file must end in .md, got {out.name!r}")
    df = load_results(results)
    plots = plot_results(df, out.parent / f"{out.stem}_files", fmt)
    text = render(df, read_metadata(results), plots, results, out.parent)
    write_atomic(out, text)
    return Report(out, plots)
