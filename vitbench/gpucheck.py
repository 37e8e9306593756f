"""`make gpu-check` (`python -m vitbench.gpucheck`): first contact with a GPU in one command.

Runs on the current CUDA device and writes everything under `results/devices/<gpu-name>/`:
1. timing: CUDA events around every iteration of a GPU-bound loop (ViT-B/16, 224 px, batch 32, bf16 or fp16)
   against the wall clock of the same loop (perf_counter before the first launch, after the final synchronize):
   the events' sum must be within [98 %, 100.1 %] of the wall clock. The wall clock also holds the first
   launch's latency, the final synchronize and the gaps between back-to-back iterations, microseconds each
   against a loop of >= 1 s; more than 2 % apart means the events do not time what the loop runs.
2. backends: every attention backend × fp32 / fp16 / bf16 on ViT-B/16 (224 px, depth 2, batch 8), eager and
   one profiled forward: the status and the kernel that ran must be what vitbench.measure.expectations says
   for this compute capability (an explicit table, not "ok or unsupported").
3. compiled pins: `math` and `flash` under torch.compile (vitbench.measure.compiled) must run their own kernel.
4. suites: every shipped suite, swept on CUDA by the CLI into this directory; every measured row's status (and
   `attn_kernel`, where the rows carry it) must match the table, and every `mfu` must lie in (0, 1] (and be
   present where the datasheet peak of the GPU is known). Except fp32 rows whose attention runs the efficient
   kernel on sm80+ (`mixed_mfu`): it computes QKᵀ and AV on tensor cores (3xTF32) while the linear layers
   run on FP32 cores, so their MFU against the FP32 peak is mixed and may exceed 1; only > 0 is required.
5. tests: `pytest -m gpu` (JUnit XML beside the results).
Prints one line per check and a verdict; exit 0 when every check passes, 1 otherwise, 2 without a CUDA device
(one line) or on bad arguments. `gpucheck.json` holds the checks and the environment.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
TIMING_AGREEMENT = (0.98, 1.001)  # events' sum / wall clock of the same loop
DTYPES = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Check:
    """One verdict line: name, passed, and what was seen."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def slug(name: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3' (a directory name)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "gpu"


def timing_agreement(events_ms: Sequence[float], wall_ms: float) -> Check:
    """Events' sum vs the wall clock of the same loop (see the module docstring for the bounds)."""
    total = sum(events_ms)
    ratio = total / wall_ms if wall_ms > 0 else math.nan
    lo, hi = TIMING_AGREEMENT
    ok = lo <= ratio <= hi
    return Check("timing", ok, f"CUDA events sum {total:.1f} ms vs wall clock {wall_ms:.1f} ms for the same "
                              f"{len(events_ms)} iterations ({100 * ratio:.2f} %; pass: {100 * lo:.0f}–"
                              f"{100 * hi:.1f} %)")


def mixed_mfu(capability: tuple[int, int], dtype: str, attn: str) -> bool:
    """fp32 rows whose attention core runs on tensor cores: PyTorch's mem-efficient kernel on sm80+ uses
    cutlass OpClassTensorOp with OpMultiplyAddFastF32 (3xTF32) for fp32 (gemm_kernel_utils.h, DefaultGemmType),
    whatever the TF32 flags say. Their MFU over the FP32 (non-tensor) peak is not bounded by 1."""
    return dtype == "fp32" and attn in ("sdpa", "efficient") and tuple(capability) >= (8, 0)


def _value(row: dict, key: str):
    v = row.get(key)
    return None if v in (None, "") else v


def check_rows(rows: Iterable[dict], capability: tuple[int, int], cudnn_version: int | None = None,
               cuda_major: int | None = None) -> list[Check]:
    """Status, kernel and MFU checks of measured CUDA result rows (CSV dicts) against the expectation table."""
    from vitbench.measure.expectations import NoExpectation, expect
    from vitbench.measure.kernels import pin_mismatch
    from vitbench.measure.peak import known_peak_tflops

    status_bad, kernel_bad, mfu_bad = [], [], []
    n_rows = n_kernels = n_mfu = n_mixed = 0
    for row in rows:
        if not str(row.get("device", "")).startswith("cuda"):
            continue
        n_rows += 1
        where = f"{row.get('model')} {row.get('res_h')} px b{row.get('batch')} {row.get('dtype')} {row.get('attn')}"
        try:
            head_dim = int(float(row["dim"])) // int(float(row["heads"]))
            exp = expect(capability, row["dtype"], row["attn"], head_dim, cudnn_version, cuda_major)
        except (NoExpectation, KeyError, ValueError) as e:
            status_bad.append(f"{where}: {e}")
            continue
        if row.get("status") != exp.status:
            status_bad.append(f"{where}: expected {exp.status}, got {row.get('status')} ({row.get('error')})")
            continue
        label = _value(row, "attn_kernel")
        if row.get("status") == "ok" and "attn_kernel" in row:
            n_kernels += 1
            why = pin_mismatch(row["attn"], label)
            if why or (exp.kernel is not None and label != exp.kernel):
                kernel_bad.append(f"{where}: expected {exp.kernel}, ran {label}" + (f" ({why})" if why else ""))
        if row.get("status") == "ok" and _value(row, "latency_ms_median") is not None:
            mfu = _value(row, "mfu")
            if mfu is None:
                if known_peak_tflops(row.get("device_name"), row["dtype"]) is not None:
                    mfu_bad.append(f"{where}: mfu empty for a GPU whose datasheet peak is known")
                continue
            n_mfu += 1
            if mixed_mfu(capability, row["dtype"], row["attn"]):
                n_mixed += 1
                if not float(mfu) > 0:
                    mfu_bad.append(f"{where}: mfu {float(mfu):.3f} not > 0")
            elif not 0 < float(mfu) <= 1:
                mfu_bad.append(f"{where}: mfu {float(mfu):.3f} outside (0, 1]")
    return [
        _summary("suite statuses", status_bad, f"{n_rows} CUDA rows have the table's status"),
        _summary("suite kernels", kernel_bad, f"{n_kernels} ok rows ran the table's kernel"
                 if n_kernels else "no attn_kernel column in the rows yet (checked by 'backends' instead)"),
        _summary("MFU", mfu_bad, f"{n_mfu} rows with mfu in (0, 1]" + (
            f" ({n_mixed} fp32 rows with tensor-core attention: > 0 only)" if n_mixed else "")),
    ]


def _summary(name: str, bad: list[str], good: str) -> Check:
    if not bad:
        return Check(name, True, good)
    more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
    return Check(name, False, "; ".join(bad[:3]) + more)


def read_rows(paths: Iterable[Path]) -> list[dict]:
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            rows += list(csv.DictReader(f))
    return rows


# ---- on the device -------------------------------------------------------------------------------------------

def _model(attn: str, dtype: str, device: str, depth: int | None = None):
    import torch

    from vitbench.measure import backends
    from vitbench.model import build_model
    from vitbench.zoo import resolve

    cfg = resolve("vit_b16", res=224, **({"depth": depth} if depth else {}))
    wdtype = backends.weight_dtype(dtype)
    model = build_model(cfg, device, attn_impl=backends.attn_impl(attn),
                        dtype=None if wdtype == torch.float32 else wdtype)
    return cfg, model, wdtype


def run_timing(device: str, min_s: float = 1.0) -> Check:
    """The timing check on a GPU-bound loop (see the module docstring)."""
    import torch

    from vitbench.measure import backends, timer
    from vitbench.model import example_input

    dtype = "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"
    cfg, model, wdtype = _model("sdpa", dtype, device)
    x = example_input(cfg, 32, device, wdtype)
    with backends.precision(dtype), backends.forward_context(dtype, "sdpa", device):
        n_warm, warm_s = timer.warm_up(lambda: model(x), device, 10, min_s)
        n = max(20, math.ceil(min_s / (warm_s / n_warm)))
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for s, e in zip(starts, ends):
            s.record()
            model(x)
            e.record()
        torch.cuda.synchronize()
        wall_ms = (time.perf_counter() - t0) * 1e3
    return timing_agreement([s.elapsed_time(e) for s, e in zip(starts, ends)], wall_ms)


def observe_backend(attn: str, dtype: str, device: str, compiled: bool = False) -> tuple[str, str | None, str | None]:
    """(status, attn_kernel label, reason) of one ViT-B/16 forward (depth 2, batch 8) with this backend."""
    from vitbench.measure import backends, kernels
    from vitbench.model import example_input

    try:
        backends.check_supported(dtype, device)
        cfg, model, wdtype = _model(attn, dtype, device, depth=2)
        x = example_input(cfg, 8, device, wdtype)
        with backends.precision(dtype), backends.forward_context(dtype, attn, device):
            backends.probe(lambda: model(x), attn, dtype)
            if compiled:
                from vitbench.measure.compiled import compiled_point

                with compiled_point(model, x, device) as point:
                    record = kernels.observe(point.call, device)
            else:
                record = kernels.observe(lambda: model(x), device)
        kernels.check_pin(attn, record)
        return "ok", record.label, None
    except Exception as e:  # noqa: BLE001 - every failure is a status to compare with the table
        status, why = backends.describe_error(e, attn)
        return status, None, why


def run_backends(device: str, capability, cudnn_version, cuda_major, compiled_pins=("math", "flash")) -> list[Check]:
    from vitbench.measure.expectations import BACKENDS, expect

    bad, n = [], 0
    for dtype in DTYPES:
        for attn in BACKENDS:
            exp = expect(capability, dtype, attn, 64, cudnn_version, cuda_major)
            status, label, why = observe_backend(attn, dtype, device)
            n += 1
            if status != exp.status or (status == "ok" and exp.kernel is not None and label != exp.kernel):
                bad.append(f"{attn} {dtype}: expected {exp.status} {exp.kernel or ''}, got {status} "
                           f"{label or why or ''}".strip())
    checks = [_summary("backends", bad, f"{n} backend × dtype forwards match the table")]
    low = "bf16" if capability[0] >= 8 else "fp16"
    cbad = []
    for attn in compiled_pins:
        exp = expect(capability, low, attn, 64, cudnn_version, cuda_major)
        status, label, why = observe_backend(attn, low, device, compiled=True)
        if status != "ok" or label != exp.kernel:
            cbad.append(f"compiled {attn} {low}: expected {exp.kernel}, got {status} {label or why}")
    checks.append(_summary("compiled pins", cbad, f"compiled {', '.join(compiled_pins)} ({low}) ran their kernels"))
    return checks


def run_suites(suites: Sequence[Path], out_dir: Path) -> tuple[list[Path], list[str]]:
    """Sweep each suite on CUDA into out_dir/<suite>.csv with the CLI; (written CSVs, failures)."""
    written, failed = [], []
    for suite in suites:
        out = out_dir / f"{suite.stem}.csv"
        for stale in (out, out.with_suffix(".meta.json")):
            stale.unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-m", "vitbench", "sweep", str(suite), "--device", "cuda",
                               "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
        (out_dir / f"{suite.stem}.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode == 0 and out.exists():
            written.append(out)
        else:
            last = next((ln for ln in reversed((proc.stderr or proc.stdout).splitlines()) if ln.strip()), "")
            failed.append(f"{suite.stem}: exit {proc.returncode}: {last}")
    return written, failed


def run_gpu_tests(out_dir: Path) -> Check:
    if not (ROOT / "tests").is_dir():
        return Check("gpu tests", False, f"no tests directory under {ROOT}")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider",
                           f"--junitxml={out_dir / 'gpu-tests.xml'}", "tests"], cwd=ROOT, capture_output=True,
                          text=True)
    (out_dir / "gpu-tests.log").write_text(proc.stdout + proc.stderr)
    last = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.strip()), "")
    return Check("gpu tests", proc.returncode == 0, last or f"pytest exit {proc.returncode}")


def no_cuda_line() -> str | None:
    """The one line gpu-check stops with when there is no CUDA device; None when there is one."""
    import torch

    if torch.cuda.is_available():
        return None
    why = ("this torch is a CPU-only build" if torch.version.cuda is None
           else f"torch (CUDA {torch.version.cuda}) sees no GPU")
    return f"gpu-check: no CUDA device ({why}); nothing to check"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vitbench.gpucheck", description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda or cuda:N (default: cuda)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "devices",
                   help="parent directory; results go to OUT/<gpu-name>/")
    p.add_argument("--suite", action="append", type=Path, default=None,
                   help="suite YAML to sweep (repeatable; default: every suites/*.yaml)")
    p.add_argument("--no-suites", action="store_true", help="skip the suite sweeps")
    p.add_argument("--no-tests", action="store_true", help="skip pytest -m gpu")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    line = no_cuda_line()
    if line:
        print(line)
        return 2
    import torch

    from vitbench.environment import environment

    device = args.device
    if not re.fullmatch(r"cuda(:\d+)?", device) or (torch.device(device).index or 0) >= torch.cuda.device_count():
        print(f"error: --device {device!r}: valid: cuda, cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
        return 2
    torch.cuda.set_device(device)
    capability = torch.cuda.get_device_capability(device)
    name = torch.cuda.get_device_name(device)
    cudnn_version = torch.backends.cudnn.version()
    cuda_major = int(torch.version.cuda.split(".")[0]) if torch.version.cuda else None
    out_dir = args.out / slug(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"gpu-check: {name} (sm{capability[0]}{capability[1]}, {device}), torch {torch.__version__}, "
          f"cuDNN {cudnn_version} -> {out_dir}", flush=True)

    checks: list[Check] = []

    def report(new: Iterable[Check]) -> None:
        for check in new:
            checks.append(check)
            print(check.line(), flush=True)

    report([run_timing(device)])
    report(run_backends(device, capability, cudnn_version, cuda_major))
    if not args.no_suites:
        suites = args.suite or sorted((ROOT / "suites").glob("*.yaml"))
        written, failed = run_suites(suites, out_dir)
        report([_summary("suites ran", failed, f"{len(written)} suites swept on CUDA")])
        report(check_rows(read_rows(written), capability, cudnn_version, cuda_major))
    if not args.no_tests:
        report([run_gpu_tests(out_dir)])
    passed = sum(c.ok for c in checks)
    verdict = "PASS" if passed == len(checks) else "FAIL"
    summary = f"verdict: {verdict} ({passed}/{len(checks)} checks passed)"
    print(summary)
    (out_dir / "gpucheck.json").write_text(json.dumps({
        "verdict": verdict, "checks": [asdict(c) for c in checks],
        "environment": environment(device=device, with_compile=True),
    }, indent=2, default=str))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
