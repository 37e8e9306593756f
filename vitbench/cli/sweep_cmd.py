"""`vitbench sweep SUITE.yaml` (a YAML grid into one CSV through vitbench.runs, with progress, resume and
shards) and `vitbench merge` (join shard CSVs). Torch is imported only by points that measure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.measure.spec import DEFAULT_MAX_POINTS
from vitbench.render import console

OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", show_default=False, help="Result CSV. "
                      "[default: <results-dir>/<suite>/<timestamp>_<device>.csv]")]


@app.command()
def sweep(
    suite: Annotated[Path, typer.Argument(help="Suite YAML (see suites/*.yaml and docs/sweep.md).",
                                          show_default=False)],
    output: OutputOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue -o PATH (or the latest result of this suite): "
                                         "skip points already in it.")] = False,
    shard: Annotated[Optional[str], typer.Option(show_default=False, help="Run shard K of N (1-based): the points "
                                                 "whose index % N == K-1. For Slurm arrays / CI matrices.")] = None,
    points: Annotated[Optional[str], typer.Option(show_default=False, help="Run only these points: indices as "
                                                  "--dry-run numbers them, e.g. 0,3,5 or 2-4.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the expanded points and exit (no torch).")
                       ] = False,
    device: Annotated[Optional[str], typer.Option(show_default=False, help="Override the suite's device: auto | "
                                                  "cpu | cuda | cuda:N.")] = None,
    isolate: Annotated[bool, typer.Option("--isolate", help="Measure each point in a child process.")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Record impossible points as rows with "
                                               "status 'invalid' instead of failing.")] = False,
    results_dir: Annotated[Path, typer.Option(help="Root folder of default output paths.")] = Path("results"),
    max_points: Annotated[int, typer.Option(min=1, help="Refuse a sweep that runs the model at more points than "
                                            "this (counted before expanding).")] = DEFAULT_MAX_POINTS,
) -> None:
    """Run a YAML suite: every point becomes one CSV row, appended as it finishes (Ctrl-C keeps them)."""
    from vitbench import runs
    from vitbench.render.sweep import SweepProgress, cpu_note, points_table

    plan = runs.plan_suite(suite, device=device, isolate=isolate, shard=shard, skip_invalid=skip_invalid,
                           dry_run=dry_run, max_points=max_points, points=points)
    path = runs.output_path(plan, output, resume, results_dir)
    out, note = console(), cpu_note(plan.selected, plan.suite.suite.cpu.set_values(), plan.suite.suite.cpu.max_gmacs)
    if dry_run:
        return _dry_run(plan, path, resume, note, out, points_table)
    if resume and not path.exists():
        out.print(f"[yellow]note:[/] {path} does not exist yet; starting it (nothing to resume)")

    def on_start(header: str, notes: tuple) -> None:
        out.print(f"[bold]{header}[/]")
        for line in ([note] if note else []) + [f"[yellow]note:[/] {n}" for n in notes]:
            out.print(line)

    outcome = runs.execute(plan, path, resume=resume and path.exists(), on_start=on_start,
                           listener_for=lambda todo, n, skip: SweepProgress(out, todo, n, skip))
    _summary(plan, outcome, out)


def _dry_run(plan, path: Path, resume: bool, note, out, points_table) -> None:
    from vitbench.runner import point_row_key
    from vitbench.session import read_keys

    done = read_keys(path) if resume and path.exists() else set()
    shard = f", shard {plan.shard[0]}/{plan.shard[1]} has {len(plan.selected)}" if plan.shard else ""
    shard += f", --points selects {len(plan.selected)}" if plan.settings.get("points") is not None else ""
    out.print(f"[bold]{plan.name}[/]: {len(plan.points)} points{shard} (dry run; output would be {path})")
    out.print(points_table(plan.selected, (lambda p: point_row_key(p) in done) if done else None))
    if note:
        out.print(note)


def _summary(plan, outcome, out) -> None:
    from vitbench.render.sweep import summary_tables
    from vitbench.results_io import load_results, row_key
    from vitbench.runner import point_row_key
    from vitbench.storage import sidecar_path

    by_key = {row_key(r): r for r in load_results(outcome.path).to_dict("records")}
    ls = plan.suite
    title = f"{ls.suite.name} ({', '.join(plan.devices)})" + (f" — {ls.suite.description}"
                                                              if ls.suite.description else "")
    for table in summary_tables(plan.selected, lambda p: by_key.get(point_row_key(p)), ls.grid_keys + ls.zip_keys,
                                ls.grid_keys, title):
        out.print(table)
    result = outcome.result
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items())) or "none"
    out.print(f"{result.written} row(s) written ({counts}), {result.skipped} already in the file; "
              f"results: {outcome.path} (metadata: {sidecar_path(outcome.path)})")


@app.command()
def merge(
    inputs: Annotated[list[Path], typer.Argument(help="Result CSVs to join (e.g. the shards of one sweep).",
                                                 show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The merged CSV.", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Join result CSVs: identical rows dropped; rows with the same config key must agree on exact columns."""
    from vitbench.environment import environment, now_iso
    from vitbench.results_io import merge_files
    from vitbench.storage import metadata, read_metadata, sidecar_path, write_metadata

    start = now_iso()
    report = merge_files(inputs, output, force=force)
    write_metadata(output, metadata("merge", output, settings={"inputs": [str(p) for p in inputs]},
                                    environment=environment(with_torch=False), start=start, end=now_iso(),
                                    status="complete", inputs={str(p): read_metadata(p) for p in inputs}))
    console().print(
        f"merged {report.files} file(s): {report.rows_in} rows in, {report.exact_duplicates} identical "
        f"duplicate(s) dropped, {report.remeasured} re-measured duplicate(s) dropped (kept the ok / first one); "
        f"wrote {report.rows_out} rows to {output} and {sidecar_path(output)}")
