"""`vitbench compare` and `vitbench baseline update` through the CLI; the committed baselines; the CI workflow."""

import csv
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from synthetic_runs import TINY_CONFIGS, row
from vitbench import samples as samples_io
from vitbench.cli import app
from vitbench.cost.analytic import cost_row
from vitbench.schema import CONFIG_KEY, make_row
from vitbench.results_io import load_text, row_key
from vitbench.session import Session
from vitbench.storage import write_metadata, write_rows
from vitbench.zoo import PRESETS, preset, resolve

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def timed(cfg, median, iqr_rel=0.05, **extra):
    return row(cfg, latency_ms_median=median, latency_ms_iqr=iqr_rel * median, throughput_ips=1e3 / median,
               **extra)


@pytest.fixture
def files(tmp_path):
    base = write_rows([timed(cfg, 10.0) for cfg in TINY_CONFIGS], tmp_path / "base.csv")
    same = write_rows([timed(cfg, 10.2) for cfg in TINY_CONFIGS], tmp_path / "same.csv")
    slow = write_rows([timed(TINY_CONFIGS[0], 15.0)] + [timed(cfg, 10.0) for cfg in TINY_CONFIGS[1:]],
                      tmp_path / "slow.csv")
    return base, same, slow


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def test_same_code_passes_with_exit_0(files):
    base, same, _ = files
    result = invoke("compare", base, same)
    assert result.exit_code == 0, result.output
    assert "PASS: 0 regression(s)" in result.output
    assert "latency " in result.output and "+2.0%" in result.output and "limits: latency 10%" in result.output


def test_regression_exits_1_and_still_writes_the_reports(files, tmp_path):
    base, _, slow = files
    md, js = tmp_path / "out" / "report.md", tmp_path / "out" / "report.json"
    result = invoke("compare", base, slow, "--markdown", md, "--json", js)
    assert result.exit_code == 1, result.output
    assert "FAIL: 2 regression(s)" in result.output  # latency and throughput of the slowed point
    text = md.read_text()
    assert text.startswith("### vitbench compare: FAIL: 2 regression(s)")
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0] == "| point | metric | baseline | candidate | change | verdict |"
    # σ = IQR / 1.349 = 0.5 / 1.349 and 0.75 / 1.349 of medians 10 and 15: s = 3.71 % each, √2·s = 5.2 %
    assert "| vit_ti16 32 | latency | 10.00 ms | 15.00 ms | +50.0% ±5.2% spread | **regression** |" in table[1:3]
    assert table[1].endswith("**regression** |") and table[2].endswith("**regression** |")
    data = json.loads(js.read_text())
    assert data["passed"] is False and data["findings"][0]["verdict"] == "regression"


def test_threshold_option_relaxes_one_metric(files):
    base, _, slow = files
    result = invoke("compare", base, slow, "--threshold", "latency_ms_median=60%", "--metrics", "latency_ms_median")
    assert result.exit_code == 0, result.output
    result = invoke("compare", base, slow, "--max-slowdown", "60%")
    assert result.exit_code == 0, result.output


def test_exact_decrease_passes_but_fails_when_strict(tmp_path):
    cfg = TINY_CONFIGS[0]
    base = write_rows([row(cfg)], tmp_path / "b.csv")
    changed = row(cfg)
    changed["macs_mlp"] -= 1
    cand = write_rows([changed], tmp_path / "c.csv")
    ok = invoke("compare", base, cand)
    assert ok.exit_code == 0 and re.search(r"macs_mlp .* -1 +improved *\n +\(<0\.01%\)", ok.output)
    strict = invoke("compare", base, cand, "--strict")
    assert strict.exit_code == 1 and "regression (decreased:" in strict.output and "(--strict))" in strict.output


def test_status_change_and_all_listing(tmp_path):
    cfg = TINY_CONFIGS[0]
    base = write_rows([timed(cfg, 10.0)], tmp_path / "b.csv")
    oom = write_rows([timed(cfg, 10.0, status="oom")], tmp_path / "c.csv")
    result = invoke("compare", base, oom, "--markdown", tmp_path / "r.md")
    assert result.exit_code == 1
    assert "| vit_ti16 32 | status | ok | oom | - | **regression (status ok -> oom)** |" \
        in (tmp_path / "r.md").read_text()
    assert "params" not in invoke("compare", base, base).output  # unchanged exact metrics are only counted
    listed = invoke("compare", base, base, "--all")
    assert listed.exit_code == 0 and f"{row(cfg)['params']:,}" in listed.output


@pytest.mark.parametrize("args, message", [
    (["missing.csv", "{base}"], "not found"),
    (["{base}", "{base}", "--max-slowdown", "ten"], "--max-slowdown must be a non-negative percentage"),
    (["{base}", "{base}", "--threshold", "latency_ms_median"], "--threshold takes NAME=PCT"),
    (["{base}", "{base}", "--threshold", "params=1%"], "exact metrics take no threshold"),
    (["{base}", "{base}", "--metrics", "speed"], "unknown metric(s) speed"),
    (["{base}", "{other}"], "no rows in common"),
    (["{base}", "{nomodel}"], "missing column(s) model"),
    (["{base}", "{costonly}", "--metrics", "latency_ms_median"], "has no values for metric latency_ms_median"),
    (["{base}", "{costonly}"], "schema mismatch"),
])
def test_bad_input_is_one_line_and_exit_2(files, tmp_path, args, message):
    base = files[0]
    paths = {
        "base": base,
        "other": write_rows([timed(preset("vit_b16"), 1.0)], tmp_path / "other.csv"),
        "nomodel": write_rows([{"name": "x", "params": 1}], tmp_path / "nomodel.csv"),
        "costonly": write_rows([row(cfg) for cfg in TINY_CONFIGS], tmp_path / "cost.csv"),
    }
    result = invoke("compare", *[a.format(**paths) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output


def _copy_csv(src: Path, dst: Path, edit) -> Path:
    """Copy a result CSV, passing each row (a dict of text) through `edit` (None drops the row)."""
    with src.open() as f:
        reader = csv.DictReader(f)
        rows = [r for r in (edit(dict(r)) for r in reader) if r is not None]
        columns = reader.fieldnames
    with dst.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return dst


ZOO_COST = ROOT / "results" / "baselines" / "zoo_cost.csv"
CI_SMOKE = ROOT / "results" / "baselines" / "ci_smoke.csv"


def _deeper_vit_b16(r: dict) -> dict:
    """vit_b16 at 224 px with 13 blocks instead of 12, its cost columns recomputed by the closed form."""
    if r["model"] == "vit_b16" and r["res_h"] == "224":
        cfg = resolve("vit_b16", res=224, depth=13)
        r.update({k: str(v) for k, v in {**cfg.to_row(), **cost_row(cfg)}.items() if k != "model"})
    return r


def test_a_deeper_vit_b16_fails_naming_depth(tmp_path):
    cand = _copy_csv(ZOO_COST, tmp_path / "deeper.csv", _deeper_vit_b16)
    result = invoke("compare", ZOO_COST, cand, "--markdown", tmp_path / "r.md")
    assert result.exit_code == 1, result.output
    assert "config changed: vit_b16 224: depth 12 → 13" in result.output
    assert "FAIL: 6 regression(s)" in result.output and "0 missing, 0 new" in result.output
    assert "**Config changed** (regression): vit_b16 224: depth 12 → 13" in (tmp_path / "r.md").read_text()
    accepted = invoke("compare", ZOO_COST, cand, "--accept-config-change")
    assert accepted.exit_code == 0, accepted.output
    assert "PASS: 0 regression(s), 0 improved, 6 changed" in accepted.output


def test_a_missing_row_fails_unless_allowed(tmp_path):
    cand = _copy_csv(ZOO_COST, tmp_path / "fewer.csv",
                     lambda r: None if (r["model"], r["res_h"]) == ("deit_b16", "384") else r)
    result = invoke("compare", ZOO_COST, cand)
    assert result.exit_code == 1, result.output
    assert "missing (in baseline, not in candidate): deit_b16 384" in result.output
    assert "FAIL: 0 regression(s)" in result.output
    allowed = invoke("compare", ZOO_COST, cand, "--allow-missing")
    assert allowed.exit_code == 0 and "1 missing (allowed)" in allowed.output


@pytest.mark.parametrize("column, value, message", [
    ("params", "inf", "'inf' is not a finite whole number >= 0"),
    ("params", "-86567656", "'-86567656' is not a finite whole number >= 0"),
    ("macs", "17563828224.5", "'17563828224.5' is not a finite whole number >= 0"),
])
def test_bad_cost_values_are_exit_2_naming_file_line_and_column(tmp_path, column, value, message):
    cand = _copy_csv(ZOO_COST, tmp_path / "bad.csv",
                     lambda r: {**r, column: value} if (r["model"], r["res_h"]) == ("vit_b16", "224") else r)
    result = invoke("compare", ZOO_COST, cand)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: {cand} line 10 (vit_b16), column {column}: {message}"


@pytest.mark.parametrize("value, message", [("0", "'0' is not a finite number > 0"),
                                            ("-0.3", "'-0.3' is not a finite number > 0")])
def test_bad_latency_is_exit_2(tmp_path, value, message):
    cand = _copy_csv(CI_SMOKE, tmp_path / "bad.csv", lambda r: {**r, "latency_ms_median": value})
    result = invoke("compare", CI_SMOKE, cand)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: {cand} line 2 (vit_s16), column latency_ms_median: {message}"


def test_the_readme_example_on_another_thread_count_says_why_in_one_line(tmp_path):
    # README's `vitbench compare results/baselines/ci_smoke.csv new.csv`, new.csv from a default 2-thread sweep
    cand = _copy_csv(CI_SMOKE, tmp_path / "new.csv", lambda r: {**r, "threads": "2"})
    result = invoke("compare", CI_SMOKE, cand)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: timings are not comparable: threads differs on 4 ")
    assert "OMP_NUM_THREADS=1" in lines[0] and "--allow-env-change" in lines[0]
    assert invoke("compare", CI_SMOKE, cand, "--allow-env-change").exit_code == 0
    assert invoke("compare", CI_SMOKE, cand, "--metrics", "params,macs").exit_code == 0


def _with_samples(path: Path, times: dict[str, list[float]]) -> Path:
    """Write `path`'s samples file: per model-and-resolution label, the latency samples of that row."""
    from vitbench.results_io import load_text

    data = samples_io.HEADER.encode()
    for r in load_text(path).to_dict("records"):
        data += samples_io.lines(samples_io.digest(row_key(r)), samples_io.LATENCY, times[r["res_h"]])
    samples_io.path_for(path).write_bytes(data)
    return path


def _sampled_files(tmp_path, slow: float) -> tuple[Path, Path]:
    from vitbench.measure.stats import summarize

    rng = np.random.default_rng(0)
    files = []
    for name, factor in (("base", 1.0), ("cand", slow)):
        times = {str(cfg.img_size[0]): list(factor * rng.lognormal(np.log(2.0), 0.05, 200))
                 for cfg in TINY_CONFIGS[:2]}
        rows = [row(cfg, np.asarray(times[str(cfg.img_size[0])])) for cfg in TINY_CONFIGS[:2]]
        files.append(_with_samples(write_rows(rows, tmp_path / f"{name}.csv"), times))
    assert summarize(times["32"]).n == 200
    return files[0], files[1]


def test_raw_samples_give_an_interval_and_the_table_fits_80_columns(tmp_path):
    base, cand = _sampled_files(tmp_path, 1.25)
    result = invoke("compare", base, cand, "--markdown", tmp_path / "r.md", env={"COLUMNS": "80"})
    assert result.exit_code == 1, result.output
    assert re.search(r"\+2\d\.\d% +regression", result.output)
    assert re.search(r"\[\+2\d\.\d, \+2\d\.\d\]", result.output)  # the 95 % interval under the change
    lines = [ln for ln in result.output.splitlines() if not ln.startswith("wrote ")]  # a path is kept whole
    assert max(len(line) for line in lines) <= 80 and "…" not in result.output
    md = (tmp_path / "r.md").read_text()
    assert re.search(r"\| vit_ti16 32 \| latency \| 2\.\d+ ms \| 2\.\d+ ms \| \+2\d\.\d% \[\+2\d\.\d, \+2\d\.\d\] "
                     r"95% CI \| \*\*regression\*\* \|", md)
    prose = [line for line in md.splitlines() if not line.startswith(("|", "###"))]
    # a path is kept whole (never broken), so only lines without one must fit: pytest's tmp_path differs by machine
    assert max(len(line) for line in prose if str(tmp_path) not in line) <= 80
    assert all(len(line) - len(str(tmp_path)) <= 80 for line in prose)


def test_every_table_fits_80_columns_without_cutting_numbers(tmp_path):
    cand = _copy_csv(ZOO_COST, tmp_path / "deeper.csv", lambda r: _deeper_vit_b16(
        {**r, "params": str(int(r["params"]) + 1)} if r["model"] == "vit_h14" else r))
    result = invoke("compare", ZOO_COST, cand, "--all", env={"COLUMNS": "80"})
    assert result.exit_code == 1
    assert max(len(line) for line in result.output.splitlines()) <= 80 and "…" not in result.output
    assert "544,951,797,760" in result.output  # vit_h14 392 px: the widest exact value of the zoo
    assert re.search(r"632,045,800 +\+1 +regression *\n +→ 632,045,801 +\(<0\.01%\)", result.output)


def test_an_overloaded_run_is_inconclusive_with_exit_3_when_asked(tmp_path):
    base, cand = _sampled_files(tmp_path, 1.25)
    write_metadata(cand, {"environment": {"cpu_count": 2, "torch_threads": 1},
                          "load_average": {"start": 4.5, "end": 3.9}})
    judged = invoke("compare", base, cand)
    assert judged.exit_code == 1 and "note: noisy timings on 2 row(s)" in judged.output
    held = invoke("compare", base, cand, "--noisy", "inconclusive")
    assert held.exit_code == 3, held.output
    assert "INCONCLUSIVE: 0 regression(s), 4 inconclusive" in held.output
    bad = invoke("compare", base, cand, "--noisy", "sometimes")
    assert bad.exit_code == 2 and "--noisy must be one of judge, inconclusive" in bad.output


# ------------------------------------------------------------------------------------------ baselines

def _tiny_suite(tmp_path) -> Path:
    path = tmp_path / "tiny_cost.yaml"
    path.write_text("name: tiny_cost\ndefaults: {device: cpu}\nmeasure: [params, flops]\n"
                    "grid: {model: [vit_ti16], res: [32, 64], depth: 2}\n")
    return path


def test_baseline_update_writes_the_csv_and_its_metadata(tmp_path):
    out = tmp_path / "baselines" / "tiny_cost.csv"
    result = invoke("baseline", "update", _tiny_suite(tmp_path), "-o", out)
    assert result.exit_code == 0, result.output
    assert "baseline updated" in result.output
    rows = load_text(out)
    assert list(rows["res_h"]) == ["32", "64"] and set(rows["status"]) == {"ok"}
    meta = json.loads(out.with_name("tiny_cost.meta.json").read_text())
    assert meta["output"] == str(out) and meta["settings"]["suite"]["name"] == "tiny_cost"
    assert not list(out.parent.glob(".*"))  # the temporary file is gone
    again = invoke("baseline", "update", _tiny_suite(tmp_path), "-o", out)  # replaces an existing baseline
    assert again.exit_code == 0, again.output
    assert invoke("compare", out, out, "--strict").exit_code == 0


def test_baseline_update_keeps_the_old_baseline_when_a_point_fails(tmp_path, monkeypatch):
    import vitbench.runner

    out = tmp_path / "tiny_cost.csv"
    out.write_text("old\n")
    monkeypatch.setattr(vitbench.runner, "execute", lambda point: vitbench.runner.Result(
        vitbench.runner.cost_row(point) | {"status": "error", "error": "boom"}))
    result = invoke("baseline", "update", _tiny_suite(tmp_path), "-o", out)
    assert result.exit_code == 2
    assert "2 point(s) did not run ok ({'error': 2}); " in result.output and "left unchanged" in result.output
    assert out.read_text() == "old\n"


def test_baseline_update_bad_suite_is_exit_2(tmp_path):
    result = invoke("baseline", "update", tmp_path / "nope.yaml")
    assert result.exit_code == 2 and "not found" in result.output


def _fresh_rows(suite: str) -> list[dict]:
    """The suite's points as closed-form rows (as `vitbench sweep` writes them), without torch."""
    from vitbench.runner import cost_row
    from vitbench.expansion import expand
    from vitbench.suite import load_suite

    points = expand(load_suite(ROOT / "suites" / suite), resolve_device=lambda d: "cpu")
    return [cost_row(p) for p in points]


def test_committed_zoo_cost_baseline_equals_a_fresh_computation(tmp_path):
    """A change to the cost model (or the zoo) must come with `vitbench baseline update suites/zoo_cost.yaml`."""
    fresh = tmp_path / "zoo_cost.csv"
    with Session(fresh, kind="test") as writer:
        for r in _fresh_rows("zoo_cost.yaml"):
            writer.append(r)
    assert fresh.read_bytes() == (ROOT / "results" / "baselines" / "zoo_cost.csv").read_bytes()


def test_zoo_cost_suite_covers_every_preset_at_224_and_384():
    got = {(r["model"], r["res_h"]) for r in _fresh_rows("zoo_cost.yaml")}
    want = set()
    for name in PRESETS:
        patch = preset(name).patch
        want |= {(name, 224), (name, 384 if 384 % patch == 0 else 392)}
    assert got == want


def test_zoo_cost_gate_through_the_cli(tmp_path):
    fresh = tmp_path / "zoo_cost.csv"
    swept = invoke("sweep", ROOT / "suites" / "zoo_cost.yaml", "-o", fresh)
    assert swept.exit_code == 0, swept.output
    result = invoke("compare", ROOT / "results" / "baselines" / "zoo_cost.csv", fresh, "--strict")
    assert result.exit_code == 0, result.output
    # 26 rows x 9 exact metrics (tokens, params, macs, the 6 components incl. other; macs_train: train rows only)
    assert "PASS: 0 regression(s), 0 improved, 0 changed, 0 within noise, 234 unchanged (26 common rows" in \
        result.output


def test_committed_ci_smoke_baseline_matches_the_suite():
    """Every point of suites/ci_smoke.yaml (on cpu) has an ok row in the baseline, with measured latency."""
    from vitbench.runner import point_row_key
    from vitbench.expansion import expand
    from vitbench.suite import load_suite

    rows = load_text(ROOT / "results" / "baselines" / "ci_smoke.csv")
    points = expand(load_suite(ROOT / "suites" / "ci_smoke.yaml"), resolve_device=lambda d: "cpu")
    assert {row_key(r) for r in rows.to_dict("records")} == {point_row_key(p) for p in points}
    assert set(rows["status"]) == {"ok"} and (rows["latency_ms_median"] != "").all()
    assert (rows["latency_ms_iqr"] != "").all() and (rows["mem_peak_mib"] != "").all()


# ------------------------------------------------------------------------------------------- workflow

def _vitbench_commands(text: str) -> list[list[str]]:
    """The `vitbench ...` invocations in shell text (split at && || ; | and line ends)."""
    commands = []
    for line in text.splitlines():
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part.strip())
            except ValueError:
                continue
            if words and words[0] == "vitbench":
                commands.append(words[1:])
    return commands


def test_perf_workflow_is_valid_yaml_and_uses_existing_commands():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "perf.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert "pull_request" in triggers and "workflow_dispatch" in triggers
    job = next(iter(workflow["jobs"].values()))
    assert job["runs-on"] == ["self-hosted", "gpu"]
    steps = job["steps"]
    uses = [s.get("uses", "") for s in steps]
    for action in ("actions/checkout@", "actions/setup-python@", "actions/upload-artifact@"):
        assert any(u.startswith(action) for u in uses), action
    script = "\n".join(s.get("run", "") for s in steps)
    assert "pip install -e '.[dev]'" in script
    commands = _vitbench_commands(script)
    assert [c[0] for c in commands] == ["sweep", "compare", "baseline", "sweep", "compare"]
    for words in commands:
        path = words[:2] if words[0] == "baseline" else words[:1]
        result = runner.invoke(app, path + ["--help"])
        assert result.exit_code == 0, (words, result.output)
        for option in (w for w in words if w.startswith("-")):
            assert option in result.output, (option, words)
    for path in re.findall(r"(suites/[\w.-]+\.yaml|results/baselines/[\w.-]+\.csv)", script):
        assert (ROOT / path).exists(), path


def test_committed_baselines_carry_the_config_key():
    for name in ("zoo_cost.csv", "ci_smoke.csv"):
        assert set(CONFIG_KEY) <= set(load_text(ROOT / "results" / "baselines" / name).columns)


def test_a_candidate_whose_every_row_failed_is_a_status_regression_not_bad_input(tmp_path):
    import pandas as pd

    from vitbench.schema import MEASURED_COLUMNS

    base = ROOT / "results" / "baselines" / "ci_smoke.csv"
    df = pd.read_csv(base, dtype=str, keep_default_na=False)
    df[[c for c in MEASURED_COLUMNS if c in df.columns]] = ""
    df["status"], df["error"] = "error", "RuntimeError: boom"
    df.to_csv(tmp_path / "failed.csv", index=False)
    result = invoke("compare", base, tmp_path / "failed.csv", "--allow-env-change")
    assert result.exit_code == 1, result.output
    assert result.output.count("regression (status ok -> error)") == 4 and "schema mismatch" not in result.output
