"""False alarms and catch rates of the CPU timing gate (`vitbench ab`, as `make gate` runs it) under a CPU hog.

    .venv/bin/python benchmarks/ab_gate_rates.py [--same 10] [--slow 1.5:5 --slow 2.0:5] [--hog 2]
                                                 [--repeats 6] [--max-slowdown 25%] [-o results/gate_rates]

Each run is one `vitbench ab suites/ci_gate.yaml --baseline-ref REF --candidate-tree TREE` exactly as the gate
runs it (OMP_NUM_THREADS=1), while `--hog` busy-loop processes (pure Python, each ends by itself after
`--hog-seconds`, and is killed when its run ends) keep the cores busy. REF is results/baselines/gate_ref (or
--baseline-ref). Candidate trees are copies of this checkout's vitbench/: unchanged ("same code", f = 1.0), or
with a forward that runs the transformer blocks f times (`--slow F:RUNS`: after all blocks, the first
round((f − 1) · depth) blocks again, one by one; depth 2 -> 1.5× = 3 block passes, 2× = 4). The kinds of run are shuffled
(seeded), so each kind sees the same spread of machine conditions.

Outputs in -o: one folder per run (the ab output, its JSON report), runs.jsonl (exit code, load, per-point
change and interval, seconds), and summary.md: the gate's verdicts, then the same runs re-judged offline with
other limits, fewer repeats, and the pooled-iteration bootstrap (all raw samples of a side's repeats pooled,
vitbench.twosample.ratio_interval) instead of the paired interval; and how far a hogged run drifts from a quiet
stored run of the same code (the stored-baseline method).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vitbench import samples as samples_io  # noqa: E402
from vitbench.compare_limits import parse_pct  # noqa: E402
from vitbench.results_io import load_results, row_key  # noqa: E402
from vitbench.twosample import paired_ratio_interval, ratio_interval  # noqa: E402

SUITE = ROOT / "suites" / "ci_gate.yaml"
HOG = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
BLOCKS = "            return self.blocks(x)\n"
SLOWER = """\
            x = self.blocks(x)
            for i in range(round(({factor!r} - 1) * len(self.blocks))):  # injected: blocks run {factor}x
                x = self.blocks[i](x)
            return x
"""


def candidate_tree(dest: Path, factor: float) -> Path:
    """A copy of this checkout's vitbench/ whose forward runs the blocks `factor` times (1.0: unchanged)."""
    shutil.copytree(ROOT / "vitbench", dest / "vitbench", ignore=shutil.ignore_patterns("__pycache__"))
    if factor != 1.0:
        model = dest / "vitbench" / "model.py"
        text = model.read_text()
        assert text.count(BLOCKS) == 1, "model.py changed: update the slowdown injection"
        model.write_text(text.replace(BLOCKS, SLOWER.format(factor=factor)))
    return dest


def start_hog(n: int, seconds: float) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", HOG, str(seconds)]) for _ in range(n)]


def stop_hog(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()


def one_run(out: Path, ref: str, tree: Path, args) -> dict:
    """One gate run under the hog: exit code, seconds, load, per-point latency change and interval."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "vitbench", "ab", str(SUITE), "--baseline-ref", ref, "--candidate-tree", str(tree),
           "--repeats", str(args.repeats), "--max-slowdown", args.max_slowdown, "-o", str(out / "ab"),
           "--json", str(out / "ab.json")]
    hog = start_hog(args.hog, args.hog_seconds)
    start = time.monotonic()
    try:
        with open(out / "ab.out", "w") as log:
            code = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    finally:
        stop_hog(hog)
    seconds = time.monotonic() - start
    report = json.loads((out / "ab.json").read_text()) if (out / "ab.json").exists() else {}
    points = {f["label"]: {"change": f["change"], "interval": f["interval"], "verdict": f["verdict"]}
              for f in report.get("findings", []) if f["metric"] == "latency_ms_median"}
    return {"exit": code, "seconds": round(seconds, 1), "load": os.getloadavg()[0], "points": points}


# ---------------------------------------------------------------------------------------------- offline

def side_data(ab: Path, side: str, repeats: int) -> dict:
    """{point key digest: ([median per repeat], [pooled samples])} of one side's first `repeats` repeats."""
    out: dict = {}
    for r in range(1, repeats + 1):
        path = ab / side / f"r{r}.csv"
        medians = {samples_io.digest(row_key(row)): row["latency_ms_median"]
                   for row in load_results(path).to_dict("records")}
        samples = samples_io.by_key(samples_io.path_for(path))
        for key, median in medians.items():
            entry = out.setdefault(key, ([], []))
            entry[0].append(float(median))
            entry[1].extend(samples.get(key, []))
    return out


def verdicts(ab: Path, repeats: int, limit: float) -> dict:
    """Whether each rule flags any point of one run: paired t interval, pooled-iteration bootstrap."""
    base, cand = side_data(ab, "baseline", repeats), side_data(ab, "candidate", repeats)
    flagged = {"paired": False, "pooled": False}
    for key in base.keys() & cand.keys():
        flagged["paired"] |= paired_ratio_interval(base[key][0], cand[key][0]).low > 1 + limit
        flagged["pooled"] |= ratio_interval(base[key][1], cand[key][1]).low > 1 + limit
    return flagged


def stored_drift(ab: Path, stored: Path) -> list[float]:
    """Latency ratios of this run's candidate repeats (hogged) over a quiet stored run of the same points."""
    quiet = {row_key(r): float(r["latency_ms_median"]) for r in load_results(stored).to_dict("records")}
    ratios = []
    for path in sorted(p for p in (ab / "candidate").glob("r*.csv") if not p.name.endswith(samples_io.SUFFIX)):
        for row in load_results(path).to_dict("records"):
            if row_key(row) in quiet:
                ratios.append(float(row["latency_ms_median"]) / quiet[row_key(row)])
    return ratios


def summary(records: list[dict], out: Path, args, stored: Path) -> str:
    kinds = sorted({r["factor"] for r in records})
    lines = [f"{len(records)} gate runs ({args.repeats} repeats, limit {args.max_slowdown}, {args.hog} hog "
             f"process(es)); load average at the end of a run: {min(r['load'] for r in records):.1f}-"
             f"{max(r['load'] for r in records):.1f}; seconds per run: {min(r['seconds'] for r in records):.0f}-"
             f"{max(r['seconds'] for r in records):.0f}", "",
             "| candidate | runs | gate failed (exit 1) | other exits | latency change per point (min - max) |",
             "|---|--:|--:|--:|---|"]
    for f in kinds:
        rs = [r for r in records if r["factor"] == f]
        changes = [p["change"] for r in rs for p in r["points"].values()]
        lines.append(f"| {'same code' if f == 1.0 else f'{f}x blocks'} | {len(rs)} | "
                     f"{sum(r['exit'] == 1 for r in rs)} | {sum(r['exit'] not in (0, 1) for r in rs)} | "
                     f"{100 * min(changes):+.1f}% .. {100 * max(changes):+.1f}% |" if changes else "| - |")
    lines += ["", "Re-judged offline (a run is flagged when any point is): flagged / runs",  "",
              "| rule | repeats | limit | " + " | ".join('same code' if f == 1.0 else f'{f}x' for f in kinds) + " |",
              "|---|--:|--:|" + "--:|" * len(kinds)]
    for rule, counts in (("paired", (2, 4, args.repeats)), ("pooled", (args.repeats,))):
        for repeats in sorted({n for n in counts if n <= args.repeats}):
            for limit in (0.10, 0.25, 0.50):
                cells = []
                for f in kinds:
                    rs = [r for r in records if r["factor"] == f and r["exit"] in (0, 1)]
                    hits = sum(verdicts(out / r["name"] / "ab", repeats, limit)[rule] for r in rs)
                    cells.append(f"{hits}/{len(rs)}")
                lines.append(f"| {rule} | {repeats} | {limit:.0%} | " + " | ".join(cells) + " |")
    drift = [x for r in records if r["factor"] == 1.0 for x in stored_drift(out / r["name"] / "ab", stored)]
    if drift:
        lines += ["", f"Same-code hogged runs over a quiet stored run ({stored.name}): latency ratio "
                      f"{min(drift):.2f}-{max(drift):.2f} (median {sorted(drift)[len(drift) // 2]:.2f}, "
                      f"{len(drift)} point runs)"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--same", type=int, default=10, help="same-code runs")
    parser.add_argument("--slow", action="append", default=None, help="FACTOR:RUNS, e.g. 2.0:5 (repeatable)")
    parser.add_argument("--hog", type=int, default=os.cpu_count(), help="busy-loop processes (default: one per CPU)")
    parser.add_argument("--hog-seconds", type=float, default=900.0, help="each hog ends by itself after this")
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--max-slowdown", default="25%")
    parser.add_argument("--baseline-ref", default=None, help="default: results/baselines/gate_ref")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "results" / "gate_rates")
    parser.add_argument("--summary-only", action="store_true", help="re-read runs.jsonl and rewrite summary.md")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the hog
    parse_pct(args.max_slowdown)
    out = args.output.resolve()
    stored = out / "stored" / "quiet.csv"
    if args.summary_only:
        records = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
        print(summary(records, out, args, stored), end="")
        return
    ref = args.baseline_ref or (ROOT / "results" / "baselines" / "gate_ref").read_text().strip()
    slow = [(float(f), int(n)) for f, n in (s.split(":") for s in (args.slow or ["1.5:5", "2.0:5"]))]
    kinds = [1.0] * args.same + [f for f, n in slow for _ in range(n)]
    random.Random(args.seed).shuffle(kinds)
    out.mkdir(parents=True, exist_ok=False)
    trees = {f: candidate_tree(out / "trees" / f"x{f}", f) for f in sorted(set(kinds))}
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "vitbench", "sweep", str(SUITE), "-o", str(stored)], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    records = []
    for i, f in enumerate(kinds):
        name = f"run{i:02d}_x{f}"
        (out / name).mkdir()
        record = {"name": name, "factor": f, **one_run(out / name, ref, trees[f], args)}
        records.append(record)
        with open(out / "runs.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        print(f"{name}: exit {record['exit']}, {record['seconds']} s, load {record['load']:.1f}, "
              + ", ".join(f"{k} {100 * v['change']:+.1f}%" for k, v in record["points"].items()), flush=True)
    text = summary(records, out, args, stored)
    (out / "summary.md").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
