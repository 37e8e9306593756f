"""Plan a run (a suite, or a `bench` grid), name its output, and run it through a `Session`. No torch at import.

`sweep`, `bench` and `baseline update` are thin adapters over this module: a `Plan` holds the points (in suite
order, shard applied), `output_path` names the results file, `execute` runs the points not already in it and
returns an `Outcome`. An interrupted run raises `errors.Stopped` with the `--resume` command (exit 130 for
SIGINT, 143 for SIGTERM); every finished row is on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from vitbench import devices
from vitbench.errors import Stopped, VitbenchError
from vitbench.expansion import Point
from vitbench.measure.spec import BenchSpec
from vitbench.runner import Listener, RunResult, parse_shard, pending, run, select_shard
from vitbench.errors import Terminated
from vitbench.session import Session
from vitbench.suite import LoadedSuite


@dataclass(frozen=True)
class Plan:
    """What a run will do. `kind`: 'sweep' or 'bench'; `points`: every point of the suite (or grid); `selected`:
    this shard's; `suite`: the loaded suite (None for bench); `settings`: what the sidecar records about how the
    run was asked for; `resume_args`: the options that `--resume` must repeat."""

    kind: str
    name: str
    points: tuple[Point, ...]
    selected: tuple[Point, ...]
    suite: Optional[LoadedSuite] = None
    shard: Optional[tuple[int, int]] = None
    settings: dict = field(default_factory=dict)
    resume_args: tuple[str, ...] = ()

    @property
    def devices(self) -> list[str]:
        return sorted({p.spec.device for p in self.selected})

    @property
    def measures_anything(self) -> bool:
        return any(p.plan == "measure" for p in self.selected)


# ---------------------------------------------------------------------------------------------- planning

def dry_run_device(name: str) -> str:
    """'auto' without importing torch (a dry run, a cost-only suite): cuda where an NVIDIA driver is loaded,
    else cpu. Other devices are taken as given (plan a GPU sweep on a login node)."""
    if name != "auto":
        return devices.parse(name)
    gpus = Path("/proc/driver/nvidia/gpus")
    return "cuda" if gpus.is_dir() and any(gpus.iterdir()) else "cpu"


def plan_suite(path: str | Path, *, device: Optional[str] = None, isolate: bool = False,
               shard: Optional[str] = None, skip_invalid: bool = False, dry_run: bool = False,
               max_points: Optional[int] = None, workers: Optional[Sequence[str]] = None,
               resolve_device: Optional[Callable[[str], str]] = None, points: Optional[str] = None) -> Plan:
    """Load, validate and expand a suite (see vitbench.suite, vitbench.expansion); shard K/N keeps the points with index % N = K-1,
    `points` ('0,3,5' or '2-4': indices as `--dry-run` numbers them) only those; with both, the points in both.
    A suite that runs the model with more than `max_points` points is refused before it is expanded.
    `workers` (sweep --devices): the points run on those devices' workers, so their device is the workers'
    kind (cuda or cpu), as `--device` would set it. `resolve_device` replaces devices.resolve (planning for
    another machine: vitbench.cluster)."""
    from vitbench.measure.spec import DEFAULT_MAX_POINTS
    from vitbench.expansion import check_invalid, check_point_count, expand, runs_model
    from vitbench.suite import load_suite

    if workers and device is not None:
        raise VitbenchError("--device and --devices both given; --devices sets the device (its kind) itself")
    override = devices.kind(workers[0]) if workers else device
    if override is not None:
        devices.parse(override)
    ls = load_suite(path)
    if runs_model(ls) and not dry_run:
        check_point_count(ls, DEFAULT_MAX_POINTS if max_points is None else max_points)
    shard_kn = parse_shard(shard)
    # 'auto' needs torch only where the model runs; a dry run or a cost-only suite resolves it without torch
    resolver = dry_run_device if dry_run else resolve_device or (devices.resolve if runs_model(ls) else
                                                                  dry_run_device)
    expanded = expand(ls, resolver, device=override, isolate=isolate)
    if not skip_invalid:
        check_invalid(ls, expanded)
    chosen = parse_points(points, len(expanded))
    args = tuple(a for a, on in ((f"--shard {shard}", shard), (f"--points {points}", points),
                                 (f"--device {device}", device),
                                 (f"--devices {','.join(workers or ())}", workers),
                                 ("--isolate", isolate), ("--skip-invalid", skip_invalid)) if on)
    selected = [p for p in select_shard(expanded, shard_kn) if chosen is None or p.index in chosen]
    settings = {"suite": {"name": ls.suite.name, "description": ls.suite.description, "path": str(ls.path),
                          "sha256": ls.sha256, "text": ls.text},
                "shard": shard, "points": sorted(chosen) if chosen is not None else None,
                "points_in_suite": len(expanded), "points_selected": len(selected),
                **({"devices": list(workers)} if workers else {}),
                "cpu_overrides": _cpu_overrides(ls, selected)}
    return Plan("sweep", ls.suite.name, tuple(expanded), tuple(selected), ls, shard_kn, settings, args)


def parse_points(text: Optional[str], count: int) -> Optional[frozenset[int]]:
    """'0,3,5' or '2-4' (or both: '0,2-4') -> the point indices, each checked against the suite's `count` points;
    None -> None (every point)."""
    if text is None:
        return None
    chosen = set()
    for part in (p.strip() for p in text.split(",")):
        first, dash, last = part.partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise VitbenchError(f"--points takes point indices like 0,3,5 or 2-4, got {text!r}") from None
        if not 0 <= low <= high < count:
            raise VitbenchError(f"--points {part}: the suite has {count} point(s), numbered 0 to {count - 1} "
                                f"(see --dry-run)")
        chosen.update(range(low, high + 1))
    return frozenset(chosen)


def _cpu_overrides(ls: LoadedSuite, selected: Sequence[Point]) -> dict:
    """What the suite's `cpu:` block changed: the values, and the points it made cost-only (cpu.max_gmacs)."""
    from vitbench.render.sweep import point_label

    return {"applied": any(p.cpu_overrides for p in selected), "values": ls.suite.cpu.set_values(),
            "max_gmacs": ls.suite.cpu.max_gmacs,
            "cost_only_points": [point_label(p) for p in selected if p.plan == "cpu-cost"]}


def plan_bench(cfgs: Sequence, batches: Sequence[int], spec: BenchSpec, measures: Sequence[str],
               argv: Sequence[str]) -> Plan:
    """The points of `vitbench bench`: one per config (resolution) × batch, in that order, all measured."""
    import dataclasses

    points = tuple(Point(i, {"model": cfg.name, "res": cfg.res_label, "batch": b}, cfg,
                         dataclasses.replace(spec, batch=b), tuple(measures), "measure", None, False, None)
                   for i, (cfg, b) in enumerate((c, b) for c in cfgs for b in batches))
    settings = {"spec": dataclasses.asdict(spec), "measures": list(measures), "argv": list(argv)}
    return Plan("bench", "bench", points, points, settings=settings)


# ---------------------------------------------------------------------------------------------- naming

def _stamp() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def device_label(plan: Plan) -> str:
    return "+".join(plan.devices or ["none"]).replace(":", "")


def shard_suffix(shard: Optional[tuple[int, int]]) -> str:
    return f"_shard{shard[0]}of{shard[1]}" if shard else ""


def default_output(root: Path, name: str, device: str, shard: Optional[tuple[int, int]], stamp: str) -> Path:
    """root/<name>/<stamp>_<device>[_shardKofN].csv, with .2, .3 ... added to the stamp if it exists."""
    folder, n = root / name, 1
    while True:
        candidate = folder / f"{stamp}{'' if n == 1 else f'.{n}'}_{device}{shard_suffix(shard)}.csv"
        if not candidate.exists():
            return candidate
        n += 1


def latest_output(root: Path, name: str, device: str, shard: Optional[tuple[int, int]]) -> Optional[Path]:
    """The most recently modified default-named result of this suite, device and shard, if any."""
    candidates = [p for p in (root / name).glob(f"*_{device}{shard_suffix(shard)}.csv")
                  if shard or "_shard" not in p.name]
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name)) if candidates else None


def output_path(plan: Plan, output: Optional[Path], resume: bool, results_dir: Path) -> Path:
    """-o when given; with --resume and no -o, the latest default-named result; else a new default name."""
    if output is not None:
        if output.suffix != ".csv":
            raise VitbenchError(f"-o {output}: results are written as CSV; use a path ending in .csv")
        return output
    if resume:
        latest = latest_output(results_dir, plan.name, device_label(plan), plan.shard)
        if latest is None:
            raise VitbenchError(f"--resume: no earlier result for {plan.name!r} on {device_label(plan)} in "
                                f"{results_dir / plan.name}; give the file with -o PATH")
        return latest
    return default_output(results_dir, plan.name, device_label(plan), plan.shard, _stamp())


def resume_command(plan: Plan, path: Path) -> str:
    target = str(plan.suite.path) if plan.suite else "..."
    return " ".join(["vitbench", plan.kind, target, "--resume", "-o", str(path), *plan.resume_args])


# ---------------------------------------------------------------------------------------------- running

@dataclass(frozen=True)
class Outcome:
    """A finished run: where it wrote (None: nowhere), what it did, the rows of this run, and notes worth
    printing (repairs, a changed suite)."""

    path: Optional[Path]
    result: RunResult
    rows: tuple[dict, ...] = ()
    notes: tuple[str, ...] = ()


def execute(plan: Plan, path: Optional[Path], *, resume: bool = False, listener_for: Optional[Callable] = None,
            on_start: Optional[Callable[[str, tuple], None]] = None, sink: Optional[Callable] = None,
            argv: Optional[Sequence[str]] = None, execute_point=None, pool=None) -> Outcome:
    """Run the plan's selected points not already in `path` through a Session (no file when `path` is None).

    `listener_for(todo, total, skipped)` makes the progress listener (a context manager); `on_start(header,
    notes)` is told what will run once the file is open, before the first point; `sink(rows so far)` is called
    after each row is written (bench --json rewrites its file there). `pool` (a vitbench.workers.pool.Pool) runs the
    measured points on its workers, in parallel; the sidecar's run lists them. Ctrl-C / SIGTERM ->
    errors.Stopped."""
    from vitbench.environment import environment

    argv = list(sys.argv[1:] if argv is None else argv)
    measured = [p for p in plan.selected if p.plan == "measure"]
    env = environment(with_torch=bool(measured), device=measured[0].spec.device if measured else None,
                      with_compile=any(p.spec.compile for p in measured))
    session = (Session(path, kind=plan.kind, resume=resume, settings=plan.settings, argv=argv, environment=env)
               if path is not None else None)
    rows: list[dict] = []
    with session if session is not None else contextlib.nullcontext():
        done_keys = session.done_keys if session else set()
        todo = pending(plan.selected, done_keys)
        if on_start:
            skipped = len(plan.selected) - len(todo)
            where = f" → {path}" if path else ""
            on_start(f"{plan.name}: {len(plan.points)} points"
                     + (f", shard {plan.shard[0]}/{plan.shard[1]}: {len(plan.selected)}" if plan.shard else "")
                     + (f"; {skipped} already in {path}" if resume else "") + f"; running {len(todo)}{where}",
                     _notes(plan, session) if session else ())

        def write(done) -> None:
            if session is not None:
                session.write_result(done)
            rows.append(done.row)
            if sink is not None:
                sink(rows)

        listener = listener_for(todo, len(plan.selected), len(plan.selected) - len(todo)) if listener_for else None
        extra = (lambda: {"workers": [r.as_dict() for r in pool.records]}) if pool else dict
        try:
            with listener if listener is not None else contextlib.nullcontext():
                if pool is not None:
                    result = pool.run(plan.selected, write, done_keys, listener)
                else:
                    result = run(plan.selected, write, done_keys, listener,
                                 **({"execute_point": execute_point} if execute_point else {}))
        except KeyboardInterrupt as e:
            raise _stopped(plan, path, session, e, len(rows), extra()) from None
        except BaseException:
            if session is not None and pool is not None:  # the sidecar lists the workers of a failed run too
                with contextlib.suppress(VitbenchError):
                    session.finish("failed", **extra())
            raise
        if session is not None:
            session.finish("complete", skipped=result.skipped, **extra())
    return Outcome(path, result, tuple(rows), _notes(plan, session) if session else ())


def _stopped(plan: Plan, path: Optional[Path], session: Optional[Session], e: BaseException, written: int,
             extra: Optional[dict] = None) -> Stopped:
    code, how = (143, "terminated (SIGTERM)") if isinstance(e, Terminated) else (130, "interrupted")
    if session is None:
        return Stopped(f"{how} after {written} of {len(plan.selected)} points", code)
    session.finish("terminated" if code == 143 else "interrupted", **(extra or {}))
    done = len(session.done_keys) + session.rows_written
    kept = (f"{how}: {path} keeps every finished row ({session.rows_written} from this run, {done} of "
            f"{len(plan.selected)} points)")
    return Stopped(kept + (f". Resume with:\n  {resume_command(plan, path)}" if plan.suite else ""), code)


def _notes(plan: Plan, session: Session) -> tuple[str, ...]:
    """What the session repaired or noticed when it opened the file."""
    notes = []
    if session.repaired_bytes:
        notes.append(f"cut an incomplete last line ({session.repaired_bytes} bytes) from {session.path}")
    if session.orphan_samples:
        notes.append(f"dropped {session.orphan_samples} raw-sample line(s) without a row from {session.samples_path}")
    old = session.previous.get("settings", {}).get("suite", {}).get("sha256")
    if plan.suite and old not in (None, plan.suite.sha256):
        notes.append(f"{plan.suite.path} changed since {session.path} was started (sha256 differs); points are "
                     f"matched by config key")
    return tuple(notes)



def record_baseline(suite: str | Path, target: Path, device: Optional[str] = None,
                    on_start: Optional[Callable[[str, tuple], None]] = None, listener_for=None) -> int:
    """Re-record a committed baseline on purpose: run the suite into a temporary file beside `target`, and
    replace `target` (with its sidecar and samples) only if every point ran with status ok. Returns the rows."""
    import os

    from vitbench import samples, storage

    if target.suffix != ".csv":
        raise VitbenchError(f"-o {target}: a baseline is a CSV; use a path ending in .csv")
    plan = plan_suite(suite, device=device)
    fresh = target.with_name(f".{target.stem}.new.csv")
    for stale in (fresh, storage.sidecar_path(fresh), samples.path_for(fresh)):
        stale.unlink(missing_ok=True)
    outcome = execute(plan, fresh, on_start=on_start, listener_for=listener_for)
    failed = {k: v for k, v in outcome.result.statuses.items() if k != "ok"}
    if failed:
        raise VitbenchError(f"{sum(failed.values())} point(s) did not run ok ({failed}); {target} left unchanged, "
                            f"the new rows are in {fresh}")
    meta = storage.read_metadata(fresh) or {}
    meta.update(output=str(target), baseline_of=str(suite))
    for new, old in ((samples.path_for(fresh), samples.path_for(target)), (fresh, target)):
        if new.exists():
            os.replace(new, old)
        else:
            old.unlink(missing_ok=True)
    storage.write_metadata(target, meta)
    storage.sidecar_path(fresh).unlink(missing_ok=True)
    return outcome.result.written
