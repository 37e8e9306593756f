"""`vitbench sweep SUITE.yaml` (a YAML grid into one CSV through vitbench.runs, with progress, resume and
shards; in parallel on several devices with --devices, or as submitit jobs with --executor) and `vitbench merge`
(join shard CSVs and their raw samples). Torch is imported only by points that measure."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli.app import app
from vitbench.measure.spec import DEFAULT_MAX_POINTS
from vitbench.render import console

OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", show_default=False, help="Result CSV. "
                      "[default: <results-dir>/<suite>/<timestamp>_<device>.csv]")]
Executor = enum.Enum("Executor", {"local": "local", "slurm": "slurm"}, type=str)
SCALE = "Scale out (docs/sweep.md)"
DevicesOpt = Annotated[Optional[str], typer.Option(
    show_default=False, rich_help_panel=SCALE, help="Measure in parallel, one worker process per device: "
    "cuda:0,cuda:1 | all (every visible GPU) | cpu,cpu (CPU workers sharing the cores). Rows keep the device "
    "of a plain run (cuda or cpu); worker_device says which worker ran each.")]
ExecutorOpt = Annotated[Optional[Executor], typer.Option(
    show_default=False, rich_help_panel=SCALE, help="Run the sweep as --jobs submitit jobs and merge their "
    "rows into -o: slurm (a job array) or local (subprocesses here). Needs pip install 'vitbench\\[cluster]'.")]
JobsOpt = Annotated[int, typer.Option(min=1, rich_help_panel=SCALE, help="--executor: jobs to split the "
                                      "points into (job k of N runs --shard k/N).")]
PartitionOpt = Annotated[Optional[str], typer.Option(show_default=False, rich_help_panel=SCALE,
                                                     help="Slurm partition (sbatch --partition).")]
GpusOpt = Annotated[Optional[int], typer.Option(show_default=False, min=0, rich_help_panel=SCALE, help="GPUs "
                    "per Slurm job (sbatch --gpus-per-node; > 1: one worker per GPU). \\[default: 1]")]
TimeOpt = Annotated[Optional[int], typer.Option(min=1, show_default=False, rich_help_panel=SCALE, help="Time "
                    "limit per job in minutes (sbatch --time; the local executor's timeout). \\[default: 60 on Slurm, "
                    "a week locally]")]
SetupOpt = Annotated[Optional[list[str]], typer.Option(show_default=False, rich_help_panel=SCALE, help="A shell "
                     "line to run before each Slurm job (e.g. 'module load cuda'); repeat for several.")]
NoWaitOpt = Annotated[bool, typer.Option("--no-wait", rich_help_panel=SCALE, help="--executor: submit, print "
                                         "the merge command and return.")]


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
    devices: DevicesOpt = None,
    executor: ExecutorOpt = None,
    jobs: JobsOpt = 1,
    slurm_partition: PartitionOpt = None,
    slurm_gpus_per_job: GpusOpt = None,
    slurm_time: TimeOpt = None,
    slurm_setup: SetupOpt = None,
    no_wait: NoWaitOpt = False,
) -> None:
    """Run a YAML suite: every point becomes one CSV row, appended as it finishes (Ctrl-C keeps them)."""
    from vitbench import runs
    from vitbench.render.sweep import cpu_note, points_table
    from vitbench.workers.device_list import parse_devices

    names = parse_devices(devices) if devices else None
    if executor is not None:
        from vitbench.cluster.options import ClusterOptions

        opts = ClusterOptions(executor.value, jobs, slurm_partition, slurm_gpus_per_job, slurm_time,
                              tuple(slurm_setup or ()), not no_wait)
        return _sweep_jobs(suite, output, opts, names, shard, points, dry_run, device, isolate, skip_invalid,
                           results_dir, max_points)
    plan = runs.plan_suite(suite, device=device, isolate=isolate, shard=shard, skip_invalid=skip_invalid,
                           dry_run=dry_run, max_points=max_points, workers=names, points=points)
    path = runs.output_path(plan, output, resume, results_dir)
    out, note = console(), cpu_note(plan.selected, plan.suite.suite.cpu.set_values(), plan.suite.suite.cpu.max_gmacs)
    if dry_run:
        return _dry_run(plan, path, resume, note, out, points_table)
    if resume and not path.exists():
        out.print(f"[yellow]note:[/] {path} does not exist yet; starting it (nothing to resume)")
    _run_here(plan, path, resume and path.exists(), names, note, out)


def _run_here(plan, path: Path, resume: bool, names, note, out) -> None:
    """Run the plan in this process (or on the --devices workers), with a progress bar, then the summary."""
    from vitbench import runs
    from vitbench.render.sweep import SweepProgress
    from vitbench.workers.device_list import check_devices
    from vitbench.workers.pool import Pool

    def on_start(header: str, notes: tuple) -> None:
        out.print(f"[bold]{header}[/]" + (f" on {len(names)} workers ({', '.join(names)})" if names else ""))
        for line in ([note] if note else []) + [f"[yellow]note:[/] {n}" for n in notes]:
            out.print(line)

    if names:
        check_devices(names)
    outcome = runs.execute(plan, path, resume=resume, on_start=on_start,
                           listener_for=lambda todo, n, skip: SweepProgress(out, todo, n, skip),
                           pool=Pool(names) if names else None)
    _summary(plan, outcome, out)


def _sweep_jobs(suite, output, opts, names, shard, points, dry_run, device, isolate, skip_invalid, results_dir,
                max_points) -> None:
    """sweep --executor: submit (or re-attach to) the jobs, wait with a progress bar, merge into -o."""
    from vitbench import runs
    from vitbench.cluster.merge import merge
    from vitbench.cluster.options import auto_device, job_workers, resolver
    from vitbench.cluster.state import default_output
    from vitbench.cluster.submit import submit
    from vitbench.errors import VitbenchError
    from vitbench.render.cluster import merged_lines, submitted_lines

    refused = "--shard" if shard else "--dry-run" if dry_run else "--points" if points is not None else None
    if refused:
        raise VitbenchError(f"{refused} and --executor do not combine: the executor shards the suite into --jobs "
                            f"itself" + (" (run --dry-run without --executor)" if dry_run else ""))
    opts.check()
    plan = runs.plan_suite(suite, device=device, isolate=isolate, skip_invalid=skip_invalid,
                           max_points=max_points, workers=job_workers(opts, names),
                           resolve_device=resolver(auto_device(opts)))
    path = output or default_output(plan, results_dir)
    if path.suffix != ".csv":
        raise VitbenchError(f"-o {path}: results are written as CSV; use a path ending in .csv")
    sub = submit(plan, path, opts, device=device, workers=names, isolate=isolate,
                 skip_invalid=skip_invalid, max_points=max_points)
    out = console()
    for line in submitted_lines(sub, path, opts):
        out.print(line)
    if sub.new or sub.waiting_for:
        if not opts.wait:
            return
        _wait_for_jobs(sub, out)
    merged = merge(sub, plan, path)
    for line in merged_lines(merged, sub):
        out.print(line)
    if merged.rows:
        _summary(plan, runs.Outcome(path, _counts(path)), out, cluster=True)
    if merged.missing:
        raise typer.Exit(1)


def _wait_for_jobs(sub, out) -> None:
    """A progress bar over the jobs' finished points; Ctrl-C / SIGTERM cancels the jobs and keeps their rows."""
    from vitbench.cluster.submit import wait
    from vitbench.errors import Stopped, Terminated
    from vitbench.render.cluster import JobsProgress

    try:
        with JobsProgress(out, sub.total) as progress:
            wait(sub, progress.tick)
    except KeyboardInterrupt as e:
        terminated = isinstance(e, Terminated)
        raise Stopped(f"{'terminated' if terminated else 'interrupted'}: cancelled the running jobs; their "
                      f"finished rows stay in {sub.folder}. Re-run the same command to submit the missing points "
                      f"and merge.", 143 if terminated else 130) from None


def _counts(path: Path):
    from vitbench.results_io import load_text
    from vitbench.runner import RunResult

    statuses = load_text(path)["status"].value_counts().to_dict()
    return RunResult(written=sum(statuses.values()), statuses=statuses)


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


def _summary(plan, outcome, out, cluster: bool = False) -> None:
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
    done = f"{result.written} row(s) merged ({counts})" if cluster else \
        f"{result.written} row(s) written ({counts}), {result.skipped} already in the file"
    out.print(f"{done}; results: {outcome.path} (metadata: {sidecar_path(outcome.path)})")


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
    from vitbench.samples import path_for

    console().print(
        f"merged {report.files} file(s): {report.rows_in} rows in, {report.exact_duplicates} identical "
        f"duplicate(s) dropped, {report.remeasured} re-measured duplicate(s) dropped (kept the ok / first one); "
        f"wrote {report.rows_out} rows to {output} and {sidecar_path(output)}"
        + (f", raw samples of {report.samples} row(s) to {path_for(output)}" if report.samples else ""))
