"""Peak compute of a device: a datasheet table of known GPUs, and a measurement (`vitbench peak`).

Datasheet peaks are dense (no 2:4 structured sparsity: NVIDIA's "with sparsity" figures halved), in TFLOP/s
(1e12 FLOP/s, 1 MAC = 2 FLOPs). fp16/bf16 are tensor-core rates with FP32 accumulate (what PyTorch uses);
fp32 is the non-tensor FP32 rate (TF32 off); tf32 the TF32 tensor-core rate. Sources, NVIDIA datasheets:
  A100 (SXM4 and PCIe): FP32 19.5, TF32 156, BF16/FP16 312.              A100 Tensor Core GPU datasheet
  H100 SXM5: FP32 67, TF32 989*, BF16/FP16 1979* (*sparse).              H100 Tensor Core GPU datasheet
  H100 PCIe: FP32 51, TF32 756*, BF16/FP16 1513*.   H100 NVL: 60, 835*, 1671*.          (same datasheet)
  H200 SXM: FP32 67, TF32 989*, BF16/FP16 1979*.    H200 NVL: 60, 835*, 1671*.  H200 Tensor Core GPU datasheet
  L4: FP32 30.3, TF32 120*, BF16/FP16 242*.                                              L4 datasheet
  L40S: FP32 91.6, TF32 183 (366*), BF16/FP16 362.05 (733*).                           L40S datasheet
  A10: FP32 31.2, TF32 62.5, BF16/FP16 125.                                              A10 datasheet
  A10G (AWS-only part, no NVIDIA datasheet): FP32 35, TF32 35, BF16/FP16 70 (Baseten, "NVIDIA A10 vs A10G").
  V100 SXM2: FP32 15.7, FP16 tensor 125; V100 PCIe: 14, 112; V100S PCIe: 16.4, 130.  V100 datasheet (no BF16/TF32)
  T4: FP32 8.1, FP16 mixed-precision 65.                                                 T4 datasheet (no BF16/TF32)
  RTX 4090: FP32 82.6, TF32 82.6, FP16/BF16 (FP32 acc.) 165.2.         Ada Lovelace architecture whitepaper
  RTX 3090: FP32 35.6, TF32 35.6, FP16/BF16 (FP32 acc.) 71.            Ampere GA102 architecture whitepaper
"""

from __future__ import annotations

import re

# (regex on torch.cuda.get_device_name(), label, {precision: dense TFLOP/s}); first match wins.
KNOWN_PEAKS: tuple[tuple[str, str, dict[str, float]], ...] = (
    (r"H100.*PCIe", "H100 PCIe", {"fp32": 51.0, "tf32": 378.0, "fp16": 756.5, "bf16": 756.5}),
    (r"H100.*NVL", "H100 NVL", {"fp32": 60.0, "tf32": 417.5, "fp16": 835.5, "bf16": 835.5}),
    (r"H200.*NVL", "H200 NVL", {"fp32": 60.0, "tf32": 417.5, "fp16": 835.5, "bf16": 835.5}),
    (r"H100", "H100 SXM", {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4}),
    (r"H200", "H200 SXM", {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4}),
    (r"A100", "A100", {"fp32": 19.5, "tf32": 156.0, "fp16": 312.0, "bf16": 312.0}),
    (r"\bA10G\b", "A10G", {"fp32": 35.0, "tf32": 35.0, "fp16": 70.0, "bf16": 70.0}),
    (r"\bA10\b", "A10", {"fp32": 31.2, "tf32": 62.5, "fp16": 125.0, "bf16": 125.0}),
    (r"\bL40S\b", "L40S", {"fp32": 91.6, "tf32": 183.0, "fp16": 362.05, "bf16": 362.05}),
    (r"\bL4\b", "L4", {"fp32": 30.3, "tf32": 60.0, "fp16": 121.0, "bf16": 121.0}),
    (r"V100S", "V100S PCIe", {"fp32": 16.4, "fp16": 130.0}),
    (r"V100.*PCIE", "V100 PCIe", {"fp32": 14.0, "fp16": 112.0}),
    (r"V100", "V100 SXM2", {"fp32": 15.7, "fp16": 125.0}),
    (r"\bT4\b", "T4", {"fp32": 8.1, "fp16": 65.0}),
    (r"RTX 4090", "RTX 4090", {"fp32": 82.6, "tf32": 82.6, "fp16": 165.2, "bf16": 165.2}),
    (r"RTX 3090(?! Ti)", "RTX 3090", {"fp32": 35.6, "tf32": 35.6, "fp16": 71.0, "bf16": 71.0}),
)
# Which datasheet rate a bench dtype runs at.
PRECISION_OF_DTYPE = {"fp32": "fp32", "tf32": "tf32", "fp16": "fp16", "amp-fp16": "fp16", "bf16": "bf16",
                      "amp-bf16": "bf16"}


def known_gpu(device_name: str | None) -> tuple[str, dict[str, float]] | None:
    """(label, peaks) of the first table entry matching the device name, or None."""
    for pattern, label, peaks in KNOWN_PEAKS:
        if device_name and re.search(pattern, device_name, flags=re.IGNORECASE):
            return label, peaks
    return None


def known_peak_tflops(device_name: str | None, dtype: str) -> float | None:
    """Datasheet dense peak (TFLOP/s) of a GPU for a bench dtype; None when unknown or not offered."""
    gpu = known_gpu(device_name)
    return gpu[1].get(PRECISION_OF_DTYPE.get(dtype, dtype)) if gpu else None


def default_sizes(device: str) -> tuple[int, int]:
    """(square matmul side, copy buffer MiB): large on CUDA, small enough to be quick on CPU."""
    return (8192, 1024) if device.startswith("cuda") else (1024, 64)


def _timed_median_ms(fn, device: str, iters: int, budget_s: float) -> float:
    """Median ms of `fn` after one untimed call; fewer iterations (>= 3) when one call is slow."""
    import time

    from vitbench.measure.stats import summarize
    from vitbench.measure.timer import synchronize, time_fn

    start = time.perf_counter()
    fn()
    synchronize(device)
    first_s = time.perf_counter() - start
    iters = max(3, min(iters, int(budget_s / max(first_s, 1e-9))))
    timing = time_fn(fn, device, warmup=2 if first_s < 0.1 else 0, min_warmup_s=0.0, iters=iters)
    return summarize(timing.samples_ms).median


def measure_matmul_tflops(device: str, precision: str, n: int, iters: int = 20, budget_s: float = 2.0) -> float:
    """Median achieved TFLOP/s of an n×n @ n×n matmul (2·n³ FLOPs) in fp32 / tf32 / fp16 / bf16.

    Iterations drop (to >= 3) when one call would take the measurement past `budget_s` (e.g. fp16 on CPU)."""
    import torch

    from vitbench.measure.backends import precision as tf32_flags

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    with tf32_flags(precision), torch.inference_mode():
        median_ms = _timed_median_ms(lambda: torch.mm(a, b), device, iters, budget_s)
    return 2 * n**3 / (median_ms / 1e3) / 1e12


def measure_copy_gbps(device: str, mib: int, iters: int = 20, budget_s: float = 2.0) -> float:
    """Median device-memory copy bandwidth in GB/s (1e9 B/s), counting the read and the write (2 × bytes)."""
    import torch

    src = torch.empty(mib * 2**20, dtype=torch.uint8, device=device).random_(0, 255)
    dst = torch.empty_like(src)
    median_ms = _timed_median_ms(lambda: dst.copy_(src), device, iters, budget_s)
    return 2 * src.numel() / (median_ms / 1e3) / 1e9


def measure_peaks(device: str, n: int | None = None, mib: int | None = None, iters: int = 20) -> list[dict]:
    """One row per measurement: what, size, measured value and unit, datasheet peak (CUDA), ratio.

    A precision the device cannot run gives a row whose `error` says why."""
    from vitbench.measure.backends import check_supported, one_line
    from vitbench.devices import device_name

    d_n, d_mib = default_sizes(device)
    n, mib = n or d_n, mib or d_mib
    name = device_name(device)
    rows = []
    for prec in ("fp32", "tf32", "fp16", "bf16"):
        row = {"measure": f"matmul {prec}", "size": f"{n}x{n}", "unit": "TFLOP/s", "value": None,
               "datasheet": known_peak_tflops(name, prec) if device.startswith("cuda") else None, "error": None}
        try:
            check_supported(prec, device)
            row["value"] = measure_matmul_tflops(device, prec, n, iters)
        except Exception as e:  # noqa: BLE001 - an unsupported precision is a row, not a crash
            row["error"] = one_line(str(e) or type(e).__name__)
        rows.append(row)
    rows.append({"measure": "copy", "size": f"{mib} MiB", "unit": "GB/s", "value": measure_copy_gbps(device, mib, iters),
                 "datasheet": None, "error": None})
    for row in rows:
        row["ratio"] = row["value"] / row["datasheet"] if row["value"] and row["datasheet"] else None
    return rows
