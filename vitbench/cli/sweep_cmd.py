"""`vitbench sweep SUITE.yaml` (run a YAML grid into one CSV, with progress, resume and shards) and
`vitbench merge` (join shard CSVs). Torch is imported only by points that measure latency or memory."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.errors import VitbenchError
from vitbench.render import console

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _stamp() -> str:
    import datetime as dt

    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _resume_command(suite: Path, path: Path, shard: Optional[str], device: Optional[str], isolate: bool,
                    skip_invalid: bool) -> str:
    extra = (f" --shard {shard}" if shard else "") + (f" --device {device}" if device else "")
    extra += (" --isolate" if isolate else "") + (" --skip-invalid" if skip_invalid else "")
    return f"vitbench sweep {suite} --resume -o {path}{extra}"


def _load_meta(path: Path) -> dict:
    from vitbench.storage import sidecar_path

    try:
        meta = json.loads(sidecar_path(path).read_text())
        return meta if isinstance(meta, dict) else {}
    except (OSError, ValueError):
        return {}


def _choose_output(ls, output: Optional[Path], resume: bool, results_dir: Path, device_label: str,
                   shard: Optional[tuple[int, int]], out) -> Path:
    from vitbench.results_io import default_output, latest_output

    if output is not None:
        if output.suffix != ".csv":
            raise VitbenchError(f"-o {output}: sweep results are CSV; use a path ending in .csv")
        if resume and not output.exists():
            out.print(f"[yellow]note:[/] {output} does not exist yet; starting it (nothing to resume)")
        return output
    if resume:
        latest = latest_output(results_dir, ls.suite.name, device_label, shard)
        if latest is None:
            raise VitbenchError(f"--resume: no earlier result for suite {ls.suite.name!r} on {device_label} in "
                                f"{results_dir / ls.suite.name}; give the file with -o PATH")
        return latest
    return default_output(results_dir, ls.suite.name, device_label, shard, _stamp())


@app.command()
def sweep(
    suite: Annotated[Path, typer.Argument(help="Suite YAML (see suites/*.yaml and docs/sweep.md).",
                                          show_default=False)],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Result CSV. Default: <results-dir>/<suite>/<timestamp>_<device>.csv.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue -o PATH (or the latest result of this suite): skip points already in it.")] = False,
    shard: Annotated[Optional[str], typer.Option(
        help="Run shard K of N (1-based): the points whose index % N == K-1. For Slurm arrays / CI matrices.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the expanded points and exit.")] = False,
    device: Annotated[Optional[str], typer.Option(
        help="Override the suite's device: auto | cpu | cuda | cuda:N.")] = None,
    isolate: Annotated[bool, typer.Option("--isolate", help="Measure each point in a child process.")] = False,
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Record impossible points as rows with status 'invalid' instead of failing.")] = False,
    results_dir: Annotated[Path, typer.Option(help="Root folder of default output paths.")] = Path("results"),
) -> None:
    """Run a YAML suite: every point becomes one CSV row, appended as it finishes (Ctrl-C keeps them)."""
    from vitbench.render.sweep import cpu_note, points_table
    from vitbench.results_io import file_keys
    from vitbench.runner import parse_shard, point_row_key, resolve_device, select_shard
    from vitbench.suite import check_invalid, expand, load_suite

    if device is not None and not _DEVICE.match(device):
        raise VitbenchError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N")
    ls = load_suite(suite)
    shard_kn = parse_shard(shard)
    # A dry run plans without checking that this machine has the device (plan a GPU sweep on a login node).
    resolver = (lambda d: resolve_device(d) if d == "auto" else d) if dry_run else resolve_device
    points = expand(ls, resolver, device=device, isolate=isolate)
    if not skip_invalid:
        check_invalid(ls, points)
    selected = select_shard(points, shard_kn)
    devices = sorted({p.spec.device for p in selected}) or ["none"]
    out = console()
    path = _choose_output(ls, output, resume, results_dir, "+".join(devices).replace(":", ""), shard_kn, out)
    done = file_keys(path) if resume else set()
    note = cpu_note(selected, ls.suite.cpu.set_values(), ls.suite.cpu.max_gmacs)
    shard_text = f", shard {shard} has {len(selected)}" if shard_kn else ""
    if dry_run:
        out.print(f"[bold]{ls.suite.name}[/]: {len(points)} points{shard_text} (dry run; output would be {path})")
        out.print(points_table(selected, (lambda p: point_row_key(p) in done) if done else None))
        if note:
            out.print(note)
        return
    _run(ls, points, selected, path, resume, done, note, out,
         _resume_command(suite, path, shard, device, isolate, skip_invalid), shard)


def _sweep_meta(ls, points, selected, path: Path, previous: dict, run_info: dict) -> dict:
    """The `.meta.json` sidecar: suite text and hash, shard, cpu overrides, environment, one entry per run."""
    from vitbench.render.sweep import point_label

    return {
        "kind": "vitbench sweep", "output": str(path),
        "suite": {"name": ls.suite.name, "description": ls.suite.description, "path": str(ls.path),
                  "sha256": ls.sha256, "text": ls.text},
        "shard": run_info["shard"], "points_in_suite": len(points), "points_selected": len(selected),
        "devices": sorted({p.spec.device for p in selected}),
        "cpu_overrides": {
            "applied": any(p.cpu_overrides for p in selected), "values": ls.suite.cpu.set_values(),
            "max_gmacs": ls.suite.cpu.max_gmacs,
            "cost_only_points": [point_label(p) for p in selected if p.plan == "cpu-cost"],
        },
        "environment": run_info["environment"], "start": previous.get("start") or run_info["start"], "end": None,
        "runs": previous.get("runs", []) + [run_info],
    }


def _run(ls, points, selected, path: Path, resume: bool, done: set, note, out, resume_cmd: str,
         shard: Optional[str]) -> None:
    from vitbench.environment import environment, now_iso
    from vitbench.render.sweep import SweepProgress
    from vitbench.results_io import CsvAppender
    from vitbench.runner import pending, run
    from vitbench.storage import write_metadata

    todo = pending(selected, done)
    with CsvAppender(path, resume=resume) as writer:  # refuses an existing file without --resume
        previous = _load_meta(path) if resume else {}
        if previous.get("suite", {}).get("sha256") not in (None, ls.sha256):
            out.print(f"[yellow]note:[/] {ls.path} changed since {path} was started (sha256 differs); points "
                      f"are matched by config key")
        run_info = {"start": now_iso(), "end": None, "status": "running", "argv": sys.argv[1:], "shard": shard,
                    "suite_sha256": ls.sha256, "points_to_run": len(todo),
                    "environment": environment(with_torch=any(p.plan == "measure" for p in todo))}
        meta = _sweep_meta(ls, points, selected, path, previous, run_info)
        write_metadata(path, meta)

        def finish(status: str, result=None) -> None:
            run_info.update(end=now_iso(), status=status)
            if result is not None:
                run_info.update(rows_written=result.written, skipped=result.skipped, statuses=result.statuses)
            meta["end"] = run_info["end"]
            write_metadata(path, meta)

        header = f"[bold]{ls.suite.name}[/]: {len(points)} points"
        header += f", shard {shard}: {len(selected)}" if shard else ""
        header += f"; {len(selected) - len(todo)} already in {path}" if resume else ""
        out.print(f"{header}; running {len(todo)} → {path}")
        if note:
            out.print(note)
        if writer.repaired_bytes:
            out.print(f"[yellow]note:[/] cut an incomplete last line ({writer.repaired_bytes} bytes) from {path}")
        try:
            with SweepProgress(out, todo, len(selected), len(selected) - len(todo)) as progress:
                result = run(selected, writer.append, done, progress)
        except KeyboardInterrupt:
            finish("interrupted")
            typer.echo(f"interrupted: {path} keeps every finished row ({writer.rows_written} from this run, "
                       f"{len(done) + writer.rows_written} of {len(selected)} points). Resume with:\n  {resume_cmd}",
                       err=True)
            raise typer.Exit(130)
        except BaseException:
            finish("failed")
            raise
        finish("complete", result)
    _summary(ls, selected, path, result, out)


def _summary(ls, selected, path: Path, result, out) -> None:
    from vitbench.render.sweep import summary_tables
    from vitbench.results_io import load_results, row_key
    from vitbench.runner import point_row_key
    from vitbench.storage import sidecar_path

    by_key = {row_key(r): r for r in load_results(path).to_dict("records")}
    devices = ", ".join(sorted({p.spec.device for p in selected}))
    title = f"{ls.suite.name} ({devices})" + (f" — {ls.suite.description}" if ls.suite.description else "")
    for table in summary_tables(selected, lambda p: by_key.get(point_row_key(p)),
                                ls.grid_keys + ls.zip_keys, ls.grid_keys, title):
        out.print(table)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items())) or "none"
    out.print(f"{result.written} row(s) written ({counts}), {result.skipped} already in the file; "
              f"results: {path} (metadata: {sidecar_path(path)})")


@app.command()
def merge(
    inputs: Annotated[list[Path], typer.Argument(help="Result CSVs to join (e.g. the shards of one sweep).",
                                                 show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The merged CSV.", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Join result CSVs: identical rows dropped; rows with the same config key must agree on exact columns."""
    from vitbench.environment import now_iso
    from vitbench.results_io import merge_files
    from vitbench.storage import sidecar_path, write_metadata

    report = merge_files(inputs, output, force=force)
    write_metadata(output, {"kind": "vitbench merge", "time": now_iso(), "output": str(output),
                            "inputs": {str(p): _load_meta(p) or None for p in inputs}})
    console().print(
        f"merged {report.files} file(s): {report.rows_in} rows in, {report.exact_duplicates} identical "
        f"duplicate(s) dropped, {report.remeasured} re-measured duplicate(s) dropped (kept the ok / first one); "
        f"wrote {report.rows_out} rows to {output} and {sidecar_path(output)}")
