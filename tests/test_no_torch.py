"""Commands that need no tensors work where torch cannot even be imported (issue 9): the analysis of saved
results (compare, plot, report, merge), sweep --dry-run of a `device: auto` suite, and the cost commands."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"

BLOCK_TORCH = textwrap.dedent("""
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"torch is blocked in this test ({name})")
            return None
    sys.meta_path.insert(0, _NoTorch())
    from vitbench.cli import main
    sys.argv = ["vitbench", *sys.argv[1:]]
    main()
""")


def vitbench_without_torch(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_the_blocker_blocks(tmp_path):
    run = vitbench_without_torch("bench", "-m", "vit_ti16", "--device", "cpu", cwd=tmp_path)
    assert run.returncode == 2 and "cannot import torch" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("args", [
    ["compare", FIXTURES / "ci_smoke.csv", FIXTURES / "ci_smoke.csv", "--allow-env-change"],
    ["plot", FIXTURES / "patch_sizes.csv", "-o", "{tmp}/plots"],
    ["report", FIXTURES / "resolutions.csv", "-o", "{tmp}/report.md"],
    ["merge", FIXTURES / "zoo.csv", FIXTURES / "patch_sizes.csv", "-o", "{tmp}/merged.csv"],
    ["sweep", ROOT / "suites" / "patch_sizes.yaml", "--dry-run"],
    ["sweep", ROOT / "suites" / "zoo_cost.yaml", "-o", "{tmp}/zoo_cost.csv"],
    ["flops", "-m", "vit_b16", "--res", "384", "--json", "{tmp}/f.json"],
    ["split", "-m", "vit_l16", "--res", "224", "--res", "1024"],
    ["params", "-m", "vit_h14"],
    ["models"],
])
def test_runs_without_torch(tmp_path, args):
    args = [str(a).replace("{tmp}", str(tmp_path)) for a in args]
    run = vitbench_without_torch(*args, cwd=tmp_path)
    assert run.returncode == 0, run.stderr + run.stdout
