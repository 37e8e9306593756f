""".github/workflows/perf.yml: pinned torch, the GPU-bound gate suite, skipped with a notice without a baseline."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def load():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "perf.yml").read_text())
    return workflow, next(iter(workflow["jobs"].values()))["steps"]


def test_torch_is_pinned_and_checked():
    workflow, steps = load()
    spec = workflow["env"]["TORCH_SPEC"]
    assert spec.startswith("torch==") and spec.count(".") == 2
    install = next(s["run"] for s in steps if "TORCH_SPEC" in s.get("run", ""))
    assert 'pip install "$TORCH_SPEC"' in install and "torch.__version__" in install


def test_the_gate_is_the_gpu_bound_suite():
    workflow, _ = load()
    assert workflow["env"]["SUITE"] == "gpu_gate" and (ROOT / "suites" / "gpu_gate.yaml").exists()
    assert workflow["env"]["BASELINE"] == "results/baselines/gpu_gate-cuda.csv"


def test_without_a_baseline_the_timing_gate_is_skipped_with_a_notice():
    _, steps = load()
    check = next(s for s in steps if s.get("id") == "baseline")
    assert '::notice::' in check["run"] and 'present=false' in check["run"] and 'present=true' in check["run"]
    for name in ("Run the gate suite on the GPU", "Compare with the baseline"):
        step = next(s for s in steps if s.get("name") == name)
        assert "steps.baseline.outputs.present == 'true'" in step["if"]
    assert "exit 2" not in "\n".join(s.get("run", "") for s in steps)  # a missing baseline no longer fails
