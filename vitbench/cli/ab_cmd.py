"""`vitbench ab SUITE --baseline-ref REF`: baseline and candidate measured on one machine, interleaved and
repeated (vitbench.ab), then judged like `compare`. No torch in this process.

Exit codes: 0 no regression, 1 regression (or a config change, a missing row), 2 bad input (one line on stderr),
130 interrupted.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from vitbench.cli import gate
from vitbench.cli.app import app
from vitbench.cli.gate import (AcceptConfigChangeOpt, AllowMissingOpt, JsonReportOpt, MarkdownOpt,
                               MaxSlowdownOpt, MetricsOpt, ShowAllOpt, StrictOpt, ThresholdOpt)
from vitbench.render import console
from vitbench.storage import write_atomic

Python = Annotated[Optional[str], typer.Option(show_default=False, help="This side's interpreter (default: the "
                                                                        "one running vitbench ab).")]


@app.command()
def ab(
    suite: Annotated[Path, typer.Argument(help="Suite YAML both sides run.", show_default=False)],
    baseline_ref: Annotated[Optional[str], typer.Option(show_default=False, help="Baseline: a git commit, branch "
                                                        "or tag of this repository (exported with git archive).")
                            ] = None,
    baseline_tree: Annotated[Optional[Path], typer.Option(show_default=False, help="Baseline: a source tree "
                                                          "(a folder with vitbench/).")] = None,
    baseline_python: Python = None,
    candidate_ref: Annotated[Optional[str], typer.Option(show_default=False, help="Candidate: a git ref (default: this "
                                                         "checkout).")] = None,
    candidate_tree: Annotated[Optional[Path], typer.Option(show_default=False, help="Candidate: a source tree.")
                              ] = None,
    candidate_python: Python = None,
    repeats: Annotated[int, typer.Option(help="Pairs per point (even: each side goes first equally often).")] = 6,
    points: Annotated[Optional[str], typer.Option(show_default=False, help="Only these points, e.g. 0,3 or 1-2.")
                      ] = None,
    device: Annotated[Optional[str], typer.Option(show_default=False, help="Override the suite's device.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", show_default=False, help="New folder for "
                      "both sides' results (default: RESULTS-DIR/ab/SUITE/TIME).")] = None,
    results_dir: Annotated[Path, typer.Option(help="Root of the default output folder.")] = Path("results"),
    max_slowdown: MaxSlowdownOpt = "10%",
    threshold: ThresholdOpt = None,
    metrics: MetricsOpt = None,
    strict: StrictOpt = False,
    allow_missing: AllowMissingOpt = False,
    accept_config_change: AcceptConfigChangeOpt = False,
    markdown: MarkdownOpt = None,
    json_path: JsonReportOpt = None,
    show_all: ShowAllOpt = False,
) -> None:
    """Same-machine A/B: run a suite with a baseline and a candidate version in turn.

    One process per point, side and repeat, in ABBA order, so load and clock
    affect both sides alike; timings judged on the paired repeats.
    Exit 0 pass; 1 fail; 2 bad input; 130 / 143 interrupted / terminated. See docs/ci.md."""
    from vitbench import ab as abm

    abm.check_repeats(repeats)
    options = dict(**gate.limits(max_slowdown, threshold, metrics), strict=strict, allow_missing=allow_missing,
                   accept_config_change=accept_config_change)
    out, con = _folder(output, results_dir, suite), console()
    with tempfile.TemporaryDirectory(prefix="vitbench-ab-") as scratch:
        base, cand = abm.sides(Path(scratch), dict(ref=baseline_ref, tree=baseline_tree, python=baseline_python),
                               dict(ref=candidate_ref, tree=candidate_tree, python=candidate_python))
        for side in (base, cand):
            con.print(f"{side.name}: {side.what}: vitbench {side.version} from {side.package}", markup=False)
        run = abm.run(suite, base, cand, out, repeats=repeats, points=points, device=device,
                      progress=lambda i, n, r, label, order: con.print(
                          f"[{i + 1}/{n}] repeat {r + 1}, {label}: {order[0]} first", markup=False))
    result, pairs = abm.comparison(run, **options)
    write_atomic(out / "pairs.csv", abm.pairs_csv(pairs))
    gate.report(result, con, show_all, markdown, json_path, {"ab": abm.describe(run), "pairs": pairs})
    con.print(f"results: {out} (baseline/, candidate/, pairs.csv, logs)", markup=False)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _folder(output: Optional[Path], results_dir: Path, suite: Path) -> Path:
    """-o (a new or empty folder) or results/ab/<suite>/<timestamp>."""
    from vitbench.errors import VitbenchError

    out = output or results_dir / "ab" / suite.stem / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise VitbenchError(f"-o {out}: exists and is not an empty folder; give a new one")
    return out.resolve()
