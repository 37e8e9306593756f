"""Same-machine A/B: a baseline and a candidate version of vitbench measured in turn on one machine. No torch.

A stored baseline moves with the machine (its load, clock and placement when it ran). An A/B run measures both
versions now, interleaved point by point and repeated, so whatever the machine does affects both sides alike:

- **Sides.** Each side is a Python interpreter and, optionally, a source tree put first on its `sys.path` (the
  working directory and PYTHONPATH of its processes): a git ref exported with `git archive` (vitbench.gittree),
  a folder, or none (the interpreter's installed vitbench; PYTHONPATH is then cleared). Each side is checked
  before anything runs: its vitbench must import from where it was meant to.
- **The interface both versions share**: `python -m vitbench sweep SUITE --shard K/N -o FILE --resume` (in every
  version since `sweep` exists): shard K of N, with N the suite's point count, is point K-1 alone; `--resume`
  appends it to the side's results file of that repeat. One process per point, side and repeat.
- **Order (ABBA).** Repeat r, point at position p: the baseline first when r + p is even, else the candidate; so
  consecutive processes run A B B A A B ..., and with an even repeat count every point is measured first and
  second equally often on each side (the second process of a pair finds warmer caches).
- **Files.** `OUT/baseline/rN.csv` and `OUT/candidate/rN.csv`: ordinary results files (raw samples and sidecar
  beside each, readable by compare and plot), one per repeat, since a results file holds one row per point;
  `OUT/baseline.log`, `OUT/candidate.log`: each process's output; `OUT/pairs.csv` (written by the command): the
  paired latency medians.
- **Verdict.** Repeat by repeat, `vitbench.compare` matches the rows (identity vs configuration, exact cost,
  status). Timings (latency, throughput, peak memory) are then judged on the R pairs: the paired t interval on
  log ratios (vitbench.twosample.paired_ratio_interval); regression when the whole interval is beyond the limit.
  Why pairs rather than all iterations pooled: a run's iterations share its process (placement, frequency,
  memory layout), so pooled iterations understate the uncertainty; R independent pairs state it (docs/ci.md
  measures both). With one repeat (a cost-only suite), the comparison is compare's own (bootstrap on the raw
  samples where there are timings).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from vitbench import gittree
from vitbench.compare import compare
from vitbench.compare_input import load_rows, load_samples
from vitbench.errors import Stopped, Terminated, VitbenchError, one_line
from vitbench.runmeta import read_run_load
from vitbench.schema import BY_NAME
from vitbench.twosample import MAX_PAIRS, paired_ratio_interval
from vitbench.verdicts import NOISY_METRICS, Comparison, Finding, judge_interval

SIDES = ("baseline", "candidate")
REPEATS = 6
MAX_REPEATS = MAX_PAIRS
PROBE = "import os, vitbench; print(os.path.dirname(os.path.abspath(vitbench.__file__))); print(vitbench.__version__)"


@dataclass(frozen=True)
class Side:
    """One version under test: `python` runs `vitbench` from `tree` (first on sys.path), or from its own install
    when `tree` is None. `what` says how it was given ('ref main (1a2b3c4d5e6f)', 'tree DIR', 'installed');
    `package` and `version`: where its vitbench imported from, and its version (set by `check`)."""

    name: str
    python: str
    tree: Optional[Path]
    what: str
    sha: Optional[str] = None
    package: str = ""
    version: str = ""

    def process(self, neutral: Path) -> tuple[dict, Path]:
        """The environment and working directory of this side's processes."""
        env = dict(os.environ)
        if self.tree is None:
            env.pop("PYTHONPATH", None)
            return env, neutral
        inherited = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(self.tree) + (os.pathsep + inherited if inherited else "")
        return env, self.tree


def this_tree() -> Optional[Path]:
    """The source checkout this vitbench runs from (None when it is an installed package)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def make_side(name: str, scratch: Path, *, ref: Optional[str] = None, tree: Optional[Path] = None,
              python: Optional[str] = None, default_tree: Optional[Path] = None) -> Side:
    """A side from the options given for it (--NAME-ref / --NAME-tree / --NAME-python); a ref is exported into
    `scratch`/NAME. Without a ref or tree the side runs `default_tree`, or the interpreter's installed vitbench."""
    if ref is not None and tree is not None:
        raise VitbenchError(f"give --{name}-ref or --{name}-tree, not both")
    exe = python or sys.executable
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        raise VitbenchError(f"--{name}-python {exe}: not an executable file")
    if ref is not None:
        sha = gittree.resolve(ref, f"--{name}-ref")
        named = not (len(ref) >= 7 and sha.startswith(ref.lower()))  # a branch or tag, not the sha itself
        what = f"ref {ref} ({sha[:12]})" if named else f"commit {sha[:12]}"
        return Side(name, exe, gittree.export(sha, scratch / name, f"--{name}-ref"), what, sha)
    if tree is not None:
        tree = Path(tree).resolve()
        if not (tree / "vitbench" / "__init__.py").is_file():
            raise VitbenchError(f"--{name}-tree {tree}: no vitbench package there (vitbench/__init__.py)")
        return Side(name, exe, tree, f"tree {tree}")
    if default_tree is not None:
        return Side(name, exe, default_tree, f"tree {default_tree}")
    return Side(name, exe, None, f"installed ({exe})")


def sides(scratch: Path, baseline: dict, candidate: dict) -> tuple[Side, Side]:
    """Both sides from their options ({'ref', 'tree', 'python'}, None when not given), checked. The candidate
    defaults to this checkout (or this install); the baseline must be given."""
    if not any(v is not None for v in baseline.values()):
        raise VitbenchError("vitbench ab needs a baseline: --baseline-ref REF, --baseline-tree DIR or "
                            "--baseline-python PATH")
    base = make_side("baseline", scratch, **baseline)
    cand = make_side("candidate", scratch, **candidate, default_tree=this_tree())
    return check(base, scratch), check(cand, scratch)


def check(side: Side, neutral: Path) -> Side:
    """Import vitbench the way the side's processes will; refuse a side whose vitbench does not import, or
    imports from somewhere other than its tree."""
    env, cwd = side.process(neutral)
    done = subprocess.run([side.python, "-c", PROBE], env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        raise VitbenchError(f"{side.name} ({side.what}): cannot import vitbench: {one_line(last)}")
    package, version = (done.stdout.strip().splitlines() + ["", ""])[:2]
    if side.tree is not None and Path(package).resolve() != (side.tree / "vitbench").resolve():
        raise VitbenchError(f"{side.name} ({side.what}): vitbench imports from {package}, not from {side.tree}")
    return dataclasses.replace(side, package=package, version=version)


def schedule(positions: int, repeats: int) -> list[tuple[int, int, tuple[str, str]]]:
    """(repeat, position, order) in run order: every point of repeat 0, then repeat 1, ...; the baseline first when
    repeat + position is even (ABBA: consecutive processes run A B B A A B ...)."""
    return [(r, p, SIDES if (r + p) % 2 == 0 else SIDES[::-1]) for r in range(repeats) for p in range(positions)]


@dataclass
class Run:
    """A finished A/B run: its sides, the suite points it measured (indices), and each side's results file of
    each repeat."""

    out: Path
    suite: Path
    sides: dict[str, Side]
    repeats: int
    indices: list[int]
    labels: list[str]
    files: dict[str, list[Path]] = field(default_factory=dict)
    order: list[tuple[int, int, tuple[str, str]]] = field(default_factory=list)


def _sweep(side: Side, suite: Path, index: int, total: int, out_csv: Path, device: Optional[str],
           log: Path, neutral: Path) -> None:
    """One point of one side into `out_csv` (appended), its output to `log`; VitbenchError when it fails."""
    cmd = [side.python, "-m", "vitbench", "sweep", str(suite), "--shard", f"{index + 1}/{total}", "-o",
           str(out_csv), "--resume"] + (["--device", device] if device else [])
    env, cwd = side.process(neutral)
    with open(log, "a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        code = subprocess.run(cmd, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-1:]
        raise VitbenchError(f"{side.name} ({side.what}) failed on point {index} (exit {code}): "
                            f"{one_line(tail[0] if tail else '')}; log: {log}")


def check_repeats(repeats: int) -> None:
    if not 1 <= repeats <= MAX_REPEATS:
        raise VitbenchError(f"--repeats must be 1 to {MAX_REPEATS} (pairs per point), got {repeats}")


def run(suite: Path, baseline: Side, candidate: Side, out: Path, *, repeats: int = REPEATS,
        points: Optional[str] = None, device: Optional[str] = None,
        progress: Optional[Callable[[int, int, int, str, tuple[str, str]], None]] = None) -> Run:
    """Measure the suite's points (or `points`, as sweep --points takes them) on both sides, `repeats` times,
    in ABBA order (module docstring). A suite that measures nothing runs once. `progress(step, steps, repeat,
    label, order)` is told before each pair. Ctrl-C -> errors.Stopped (the finished points stay in `out`)."""
    from vitbench import runs
    from vitbench.render.sweep import point_label

    check_repeats(repeats)
    suite, out = Path(suite).resolve(), Path(out).resolve()  # the sides' processes run in their own trees
    plan = runs.plan_suite(suite, device=device, dry_run=True, points=points)
    repeats = repeats if plan.measures_anything else 1
    ab = Run(out, suite, {"baseline": baseline, "candidate": candidate}, repeats,
             [p.index for p in plan.selected], [point_label(p) for p in plan.selected])
    ab.files = {s: [out / s / f"r{r + 1}.csv" for r in range(repeats)] for s in SIDES}
    ab.order = schedule(len(ab.indices), repeats)
    try:
        for s in SIDES:
            (out / s).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VitbenchError(f"-o {out}: cannot create it: {e.strerror or e}") from None
    try:
        for step, (r, p, order) in enumerate(ab.order):
            if progress:
                progress(step, len(ab.order), r, ab.labels[p], order)
            for s in order:
                _sweep(ab.sides[s], suite, ab.indices[p], len(plan.points), ab.files[s][r], device,
                       out / f"{s}.log", out)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM as errors.Terminated
        terminated = isinstance(e, Terminated)
        raise Stopped(f"{'terminated' if terminated else 'interrupted'}: the points measured so far are in {out}",
                      143 if terminated else 130) from None
    return ab


# ---------------------------------------------------------------------------------------------- verdict

def _geomean(values: Sequence[float]) -> float:
    return float(np.exp(np.mean(np.log(values))))


def paired_finding(metric: str, base: Sequence[float], cand: Sequence[float], threshold: float, label: str,
                   key: dict) -> Finding:
    """A timing or memory finding from R paired values: baseline and candidate are each side's geometric mean,
    the change their ratio − 1 with its paired t interval; regression when the whole interval is worse than the
    limit (worse: slower latency, lower throughput, higher memory)."""
    iv = paired_ratio_interval(base, cand)
    higher = BY_NAME[metric].better == "higher"
    worse, low, high = (1 / iv.ratio, 1 / iv.high, 1 / iv.low) if higher else (iv.ratio, iv.low, iv.high)
    return Finding(label, key, metric, _geomean(base), _geomean(cand), judge_interval(worse, low, high, threshold),
                   change=iv.ratio - 1, worse=worse - 1, threshold=threshold, interval=(iv.low - 1, iv.high - 1),
                   method="paired")


def _compare_repeat(ab: Run, r: int, options: dict) -> Comparison:
    """One repeat's rows compared; its raw samples only where there is one repeat (otherwise timings are judged
    on the pairs, and a sample-based rule would only add notes about a verdict it does not give)."""
    base, cand = ab.files["baseline"][r], ab.files["candidate"][r]
    single = ab.repeats == 1
    return compare(load_rows(base), load_rows(cand), base_samples=load_samples(base) if single else None,
                   cand_samples=load_samples(cand) if single else None, baseline_path=str(base),
                   candidate_path=str(cand), noisy_spread=math.inf, **options)


def comparison(ab: Run, **options) -> tuple[Comparison, list[dict]]:
    """The verdict of an A/B run (module docstring), and the paired latencies (one dict per repeat and point:
    point, repeat (1-based), baseline_ms, candidate_ms, ratio). `options` as vitbench.compare.compare takes them
    (limits, metrics, strict, allow_missing, accept_config_change)."""
    repeats = [_compare_repeat(ab, r, options) for r in range(ab.repeats)]
    paired = [{"point": f.label, "repeat": r + 1, "baseline_ms": f.baseline, "candidate_ms": f.candidate,
               "ratio": f.candidate / f.baseline}
              for r, c in enumerate(repeats) for f in c.findings
              if f.metric == "latency_ms_median" and isinstance(f.baseline, float) and isinstance(f.candidate, float)]
    first = dataclasses.replace(repeats[0], baseline_path=f"baseline: {ab.sides['baseline'].what}",
                                candidate_path=f"candidate: {ab.sides['candidate'].what}",
                                notes=list(repeats[0].notes) + _notes(ab))
    if ab.repeats == 1:
        return first, paired
    findings = [f for f in first.findings if f.metric not in NOISY_METRICS]
    seen = {(f.label, f.metric) for f in findings}
    for f in (f for c in repeats[1:] for f in c.findings if f.metric == "status"):
        if (f.label, f.metric) not in seen:  # a status that failed in a later repeat, once
            findings.append(f)
            seen.add((f.label, f.metric))
    by_key = [{(f.label, f.metric): f for f in c.findings} for c in repeats]
    for f in first.findings:
        if f.metric not in NOISY_METRICS:
            continue
        found = [c.get((f.label, f.metric)) for c in by_key]
        if all(x is not None and isinstance(x.baseline, float) and isinstance(x.candidate, float) for x in found):
            findings.append(paired_finding(f.metric, [x.baseline for x in found], [x.candidate for x in found],
                                           f.threshold, f.label, f.key))
    return dataclasses.replace(first, findings=findings), paired


def _notes(ab: Run) -> list[str]:
    loads = [load for s in SIDES for path in ab.files[s] if (load := read_run_load(path)) is not None]
    peak = max((x.peak_load for x in loads if x.peak_load is not None), default=None)
    method = (f"A/B on one machine: {ab.repeats} repeats of {len(ab.indices)} point(s), interleaved ABBA, one "
              f"process per point, side and repeat; timings: geometric means over the repeats, [low, high]: 95% "
              f"paired t interval of the change over the {ab.repeats} pairs" if ab.repeats > 1 else
              "A/B on one machine, one repeat")
    load = (f"; load average up to {peak:.2f} on {loads[0].cpu_count or '?'} CPUs, shared by both sides"
            if peak is not None else "")
    threads = max((x.torch_threads or 0 for x in loads if x.overloaded), default=0)
    crowded = ([f"runs with {threads} torch threads on an overloaded CPU: thread oversubscription makes timings "
                f"erratic (pairs disagree, intervals widen); on a shared CPU set OMP_NUM_THREADS=1"]
               if threads > 1 else [])
    return [method + load] + crowded


def pairs_csv(rows: Sequence[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ["point", "repeat", "baseline_ms", "candidate_ms", "ratio"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def describe(ab: Run) -> dict:
    """What the run was, for the JSON report: suite, output folder, repeats, points, sides, order."""
    return {"suite": str(ab.suite), "output": str(ab.out), "repeats": ab.repeats, "points": ab.indices,
            "labels": ab.labels,
            "sides": {s: {"what": x.what, "sha": x.sha, "python": x.python, "tree": str(x.tree) if x.tree else None,
                          "package": x.package, "version": x.version} for s, x in ab.sides.items()},
            "files": {s: [str(p) for p in ab.files[s]] for s in SIDES}}
