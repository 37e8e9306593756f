"""Datasheet figures of accelerators: dense peak TFLOP/s per precision, memory bandwidth, SMs, memory. No torch.

Conventions. TFLOP/s = 1e12 FLOP/s, 1 MAC = 2 FLOPs. Peaks are **dense**: NVIDIA's "with sparsity" (2:4
structured) figures are halved. fp16/bf16 are tensor-core rates with FP32 accumulate (what PyTorch uses); fp32
is the non-tensor FP32 rate (TF32 off); tf32 the TF32 tensor-core rate. Bandwidth in GB/s (1e9 B/s). Memory as
the vendor prints it: NVIDIA's "GB", Google's "GiB" (v2–v4) or "GB" (v5e, v5p), kept with its unit. `sm_count`
is the SM count of the product as sold (not of the full die), where NVIDIA publishes it.

Sources (NVIDIA datasheets unless said otherwise; * = with sparsity, halved here):
  H100 SXM5: FP32 67, TF32 989*, BF16/FP16 1979*, 80 GB HBM3 3.35 TB/s, 132 SMs.   H100 Tensor Core GPU datasheet
  H100 PCIe: FP32 51, TF32 756*, BF16/FP16 1513*, 80 GB HBM2e 2.0 TB/s, 114 SMs.   (same datasheet; SMs: H100
  H100 NVL: FP32 60, TF32 835*, BF16/FP16 1671*, 94 GB HBM3 3.9 TB/s, 132 SMs.      architecture whitepaper)
  H200 SXM: as H100 SXM, 141 GB HBM3e 4.8 TB/s; H200 NVL: as H100 NVL, 141 GB 4.8 TB/s.   H200 datasheet
  GH200: the H100 SXM rates; 96 GB HBM3 4 TB/s, or 144 GB HBM3e 4.9 TB/s.        GH200 Grace Hopper datasheet
  A100 (SXM4 and PCIe, 40 and 80 GB): FP32 19.5, TF32 156, BF16/FP16 312, 108 SMs; SXM4 40 GB 1,555 GB/s,
    SXM4 80 GB 2,039 GB/s, PCIe 40 GB 1,555 GB/s, PCIe 80 GB 1,935 GB/s.          A100 Tensor Core GPU datasheet
  A10: FP32 31.2, TF32 62.5, BF16/FP16 125, 24 GB GDDR6 600 GB/s, 72 SMs.                         A10 datasheet
  A30: FP32 10.3, TF32 82, BF16/FP16 165, 24 GB HBM2 933 GB/s, 56 SMs.                            A30 datasheet
  A40: FP32 37.4, TF32 74.8, BF16/FP16 149.7, 48 GB GDDR6 696 GB/s, 84 SMs.                       A40 datasheet
  L4: FP32 30.3, TF32 120*, BF16/FP16 242*, 24 GB GDDR6 300 GB/s, 58 SMs.                          L4 datasheet
  L40: FP32 90.5, TF32 90.5, BF16/FP16 181.05, 48 GB GDDR6 864 GB/s, 142 SMs.                     L40 datasheet
  L40S: FP32 91.6, TF32 183, BF16/FP16 362.05, 48 GB GDDR6 864 GB/s, 142 SMs.                    L40S datasheet
  V100 SXM2: FP32 15.7, FP16 tensor 125, HBM2 900 GB/s; V100 PCIe: 14, 112, 900 GB/s; V100S PCIe: 16.4, 130,
    1,134 GB/s; 80 SMs; no BF16 or TF32.                                                         V100 datasheet
  T4: FP32 8.1, FP16 mixed precision 65, 16 GB GDDR6 320 GB/s, 40 SMs; no BF16 or TF32.           T4 datasheet
  RTX 4090: FP32 82.6, TF32 82.6, FP16/BF16 (FP32 acc.) 165.2, 24 GB 1,008 GB/s, 128 SMs.  Ada Lovelace whitepaper
  RTX 3090: FP32 35.6, TF32 35.6, FP16/BF16 (FP32 acc.) 71, 24 GB 936 GB/s, 82 SMs.   Ampere GA102 whitepaper
Google Cloud TPU documentation, "TPU v2" ... "TPU v5p" pages (bf16 peak per chip; TPUs have no fp32/tf32 rows):
  v2: 45 TFLOP/s per chip (180 per 4-chip board), 2 TensorCores per chip, 16 GiB HBM, 600 GB/s.
  v3: 123 TFLOP/s per chip, 2 TensorCores per chip, 32 GiB HBM2, 900 GB/s.
  v4: 275 TFLOP/s per chip, 32 GiB HBM2, 1,200 GB/s (2 TensorCores per chip, addressed as one "megacore").
  v5e: 197 TFLOP/s per chip, 1 TensorCore, 16 GB HBM2, 819 GB/s.
  v5p: 459 TFLOP/s per chip, 95 GB HBM2e, 2,765 GB/s (2 TensorCores per chip, addressed as one "megacore").
  Google defines per-core figures only where cores are addressed one by one (v2, v3: "TPUv3-core-days" in the
  ViT paper); a core is half a chip: v2 22.5, v3 61.5 TFLOP/s, 8 / 16 GiB of HBM (each core has its own);
  Google publishes no per-core bandwidth, so the core rows leave it empty.

Not in the table, on purpose (lookup says why): MIG slices without an SM count, laptop / Max-Q parts, cut-down
"D" variants, export variants (A800, H800, H20), V100 SXM3 (DGX-2 and DGX-2H run it at different clocks),
Blackwell (B200/GB200: the peak depends on the system's power configuration), the AWS-only A10G (no NVIDIA
datasheet), and any GPU whose name does not say which product it is (a bare "H100" or "A100").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from vitbench.dtypes import DTYPES
from vitbench.errors import VitbenchError

PRECISIONS = ("fp32", "tf32", "fp16", "bf16")
# Which datasheet rate a vitbench dtype (vitbench.measure.spec.DTYPES) runs its matmuls at.
PRECISION_OF_DTYPE = {name: d.precision for name, d in DTYPES.items()}  # which datasheet rate a dtype runs at


@dataclass(frozen=True)
class DevicePeak:
    """One accelerator (or one unit of it: a GPU, a TPU chip, a TPU core).

    tflops: dense peak TFLOP/s per precision (a precision it lacks is absent). hbm_gbps: memory bandwidth,
    GB/s (1e9 B/s). memory: capacity in `memory_unit` ("GB" or "GiB", as the vendor prints it). sm_count: SMs
    of the product (NVIDIA), None for TPUs. names: regex that must match the whole normalised device name.
    """

    key: str
    label: str
    kind: str  # "gpu" | "tpu"
    unit: str  # "GPU" | "chip" | "core": what one device-hour is an hour of
    tflops: dict[str, float]
    hbm_gbps: float | None
    memory: float | None
    memory_unit: str
    sm_count: int | None
    source: str
    names: str | None = field(default=None, repr=False)

    def peak_tflops(self, precision: str) -> float | None:
        """Dense peak for a precision or vitbench dtype ('amp-bf16' -> bf16); None where not offered."""
        return self.tflops.get(PRECISION_OF_DTYPE.get(precision, precision))


def _nv(key, label, names, fp32, tf32, half, hbm, memory, sms, source, bf16=True) -> DevicePeak:
    tflops = {"fp32": fp32, "fp16": half}
    if tf32 is not None:
        tflops["tf32"] = tf32
    if bf16:
        tflops["bf16"] = half
    return DevicePeak(key, label, "gpu", "GPU", tflops, hbm, memory, "GB", sms, source, names)


_H100 = "H100 Tensor Core GPU datasheet"
_A100 = "A100 Tensor Core GPU datasheet"
GPUS: tuple[DevicePeak, ...] = (
    _nv("h100-sxm", "H100 SXM5 80GB", r"H100 (SXM5? )?80GB HBM3|H100 SXM5?( 80GB)?", 67.0, 494.7, 989.4, 3350.0,
        80, 132, _H100),
    _nv("h100-pcie", "H100 PCIe 80GB", r"H100 (80GB )?PCIe", 51.0, 378.0, 756.5, 2000.0, 80, 114, _H100),
    _nv("h100-nvl", "H100 NVL 94GB", r"H100 NVL", 60.0, 417.5, 835.5, 3900.0, 94, 132, _H100),
    _nv("h200-sxm", "H200 SXM 141GB", r"H200( SXM)?( 141GB( HBM3e)?)?", 67.0, 494.7, 989.4, 4800.0, 141, 132,
        "H200 Tensor Core GPU datasheet"),
    _nv("h200-nvl", "H200 NVL 141GB", r"H200 NVL", 60.0, 417.5, 835.5, 4800.0, 141, 132,
        "H200 Tensor Core GPU datasheet"),
    _nv("gh200-96gb", "GH200 96GB HBM3", r"GH200 480GB|GH200 96GB( HBM3)?", 67.0, 494.7, 989.4, 4000.0, 96, 132,
        "GH200 Grace Hopper Superchip datasheet"),
    _nv("gh200-144gb", "GH200 144GB HBM3e", r"GH200 144GB?( HBM3e)?", 67.0, 494.7, 989.4, 4900.0, 144, 132,
        "GH200 Grace Hopper Superchip datasheet"),
    _nv("a100-sxm4-80gb", "A100 SXM4 80GB", r"A100-SXM4?-80GB", 19.5, 156.0, 312.0, 2039.0, 80, 108, _A100),
    _nv("a100-sxm4-40gb", "A100 SXM4 40GB", r"A100-SXM4?-40GB", 19.5, 156.0, 312.0, 1555.0, 40, 108, _A100),
    _nv("a100-pcie-80gb", "A100 PCIe 80GB", r"A100 80GB PCIe|A100-PCIE-80GB", 19.5, 156.0, 312.0, 1935.0, 80, 108,
        _A100),
    _nv("a100-pcie-40gb", "A100 PCIe 40GB", r"A100-PCIE-40GB|A100 40GB PCIe", 19.5, 156.0, 312.0, 1555.0, 40, 108,
        _A100),
    _nv("a10", "A10", r"A10", 31.2, 62.5, 125.0, 600.0, 24, 72, "A10 datasheet"),
    _nv("a30", "A30", r"A30", 10.3, 82.0, 165.0, 933.0, 24, 56, "A30 datasheet"),
    _nv("a40", "A40", r"A40", 37.4, 74.8, 149.7, 696.0, 48, 84, "A40 datasheet"),
    _nv("l4", "L4", r"L4", 30.3, 60.0, 121.0, 300.0, 24, 58, "L4 datasheet"),
    _nv("l40", "L40", r"L40", 90.5, 90.5, 181.05, 864.0, 48, 142, "L40 datasheet"),
    _nv("l40s", "L40S", r"L40S", 91.6, 183.0, 362.05, 864.0, 48, 142, "L40S datasheet"),
    _nv("v100-sxm2", "V100 SXM2", r"V100-SXM2-(16|32)GB", 15.7, None, 125.0, 900.0, None, 80, "V100 datasheet",
        bf16=False),
    _nv("v100-pcie", "V100 PCIe", r"V100-PCIE-(16|32)GB", 14.0, None, 112.0, 900.0, None, 80, "V100 datasheet",
        bf16=False),
    _nv("v100s-pcie", "V100S PCIe", r"V100S-PCIE-32GB", 16.4, None, 130.0, 1134.0, 32, 80, "V100 datasheet",
        bf16=False),
    _nv("t4", "T4", r"T4", 8.1, None, 65.0, 320.0, 16, 40, "T4 datasheet", bf16=False),
    _nv("rtx-4090", "GeForce RTX 4090", r"RTX 4090", 82.6, 82.6, 165.2, 1008.0, 24, 128,
        "Ada Lovelace architecture whitepaper"),
    _nv("rtx-3090", "GeForce RTX 3090", r"RTX 3090", 35.6, 35.6, 71.0, 936.0, 24, 82,
        "Ampere GA102 architecture whitepaper"),
)


def _tpu(key, label, unit, bf16, hbm, memory, memory_unit, page) -> DevicePeak:
    return DevicePeak(key, label, "tpu", unit, {"bf16": bf16}, hbm, memory, memory_unit, None,
                      f"Google Cloud TPU documentation, {page}")


TPUS: tuple[DevicePeak, ...] = (
    _tpu("tpu-v2-chip", "TPU v2 chip", "chip", 45.0, 600.0, 16, "GiB", "TPU v2"),
    _tpu("tpu-v2-core", "TPU v2 core (1/2 chip)", "core", 22.5, None, 8, "GiB", "TPU v2"),
    _tpu("tpu-v3-chip", "TPU v3 chip", "chip", 123.0, 900.0, 32, "GiB", "TPU v3"),
    _tpu("tpu-v3-core", "TPU v3 core (1/2 chip)", "core", 61.5, None, 16, "GiB", "TPU v3"),
    _tpu("tpu-v4-chip", "TPU v4 chip", "chip", 275.0, 1200.0, 32, "GiB", "TPU v4"),
    _tpu("tpu-v5e-chip", "TPU v5e chip", "chip", 197.0, 819.0, 16, "GB", "TPU v5e"),
    _tpu("tpu-v5p-chip", "TPU v5p chip", "chip", 459.0, 2765.0, 95, "GB", "TPU v5p"),
)
DEVICES: tuple[DevicePeak, ...] = GPUS + TPUS
# Short names for `train-cost --device`: the datasheet's headline part of each family.
ALIASES = {"h100": "h100-sxm", "h200": "h200-sxm", "a100": "a100-sxm4-80gb", "gh200": "gh200-96gb",
           "v100": "v100-sxm2", "tpu-v2": "tpu-v2-chip", "tpu-v3": "tpu-v3-chip", "tpu-v4": "tpu-v4-chip",
           "tpu-v5e": "tpu-v5e-chip", "tpu-v5p": "tpu-v5p-chip"}

# Names that look like a table entry but are another product: (regex searched in the normalised name, reason).
_NOT_THE_FULL_PART: tuple[tuple[str, str], ...] = (
    (r"\b(Laptop|Mobile|Max-Q)\b", "a laptop part: lower clocks and power than the desktop card, no datasheet peak"),
    (r"\d+ D\b", "a cut-down 'D' variant: fewer SMs than the full part, no datasheet peak in the table"),
    (r"\b(A800|H800|H20)\b", "an export variant: its rates differ from the part it derives from; not in the table"),
    (r"V100-SXM3", "V100 SXM3 (DGX-2 / DGX-2H) runs at system-specific clocks; not in the table"),
    (r"\b(B100|B200|GB200|B300|GB300)\b", "Blackwell: the peak depends on the system's power configuration; "
                                          "not in the table"),
    (r"\bA10G\b", "the AWS-only A10G has no NVIDIA datasheet; not in the table"),
    (r"^(H100|A100)$", "the name does not say which product (SXM / PCIe / NVL, memory size); no peak"),
)


@dataclass(frozen=True)
class PeakLookup:
    """A lookup's answer: the matched (or MIG-scaled) entry, or None, and one line saying why."""

    peak: DevicePeak | None
    reason: str


def normalise(device_name: str) -> str:
    """'NVIDIA GeForce RTX 4090' -> 'RTX 4090'; 'Tesla V100-SXM2-16GB' -> 'V100-SXM2-16GB'."""
    name = re.sub(r"\s+", " ", device_name or "").strip()
    return re.sub(r"^((NVIDIA|Tesla|GeForce|Quadro)\s+)+", "", name, flags=re.IGNORECASE)


def _split_mig(name: str) -> tuple[str, str | None]:
    """('H100 80GB HBM3', '1g.10gb') for 'H100 80GB HBM3 MIG 1g.10gb'; (name, None) without MIG."""
    match = re.search(r"\s*\bMIG\b\s*(\S*)", name)
    if not match:
        return name, None
    return name[: match.start()].strip(), match.group(1) or "?"


def _match(name: str) -> DevicePeak | None:
    for entry in GPUS:
        if re.fullmatch(entry.names, name, flags=re.IGNORECASE):
            return entry
    return None


def scaled_to_sms(entry: DevicePeak, sm_count: int, what: str) -> DevicePeak:
    """`entry`'s compute peaks scaled by sm_count / entry.sm_count (same clocks); bandwidth unknown (None):
    a MIG slice's bandwidth follows its memory slices, not its SMs."""
    factor = sm_count / entry.sm_count
    return replace(entry, key=f"{entry.key}-" + what.lower().replace(" ", "-"),
                   label=f"{entry.label} {what} ({sm_count}/{entry.sm_count} SMs)",
                   tflops={p: v * factor for p, v in entry.tflops.items()}, hbm_gbps=None, memory=None,
                   sm_count=sm_count)


def lookup(device_name: str | None, sm_count: int | None = None) -> PeakLookup:
    """The datasheet entry for a `torch.cuda.get_device_name()` string, or None with the reason.

    sm_count: `torch.cuda.get_device_properties(i).multi_processor_count` of the device in hand. A MIG slice is
    scaled by its SMs when sm_count is given, and gets no peak without it. A full-name match whose SM count
    differs from the product's is another variant: no peak."""
    name = normalise(device_name or "")
    if not name:
        return PeakLookup(None, "no device name")
    base, mig = _split_mig(name)
    for pattern, reason in _NOT_THE_FULL_PART:
        if re.search(pattern, base, flags=re.IGNORECASE):
            return PeakLookup(None, f"{device_name}: {reason}")
    entry = _match(base)
    if entry is None:
        return PeakLookup(None, f"{device_name}: not in the datasheet table (vitbench.hardware)")
    if mig is not None:
        if sm_count is None:
            return PeakLookup(None, f"{device_name}: a MIG slice of the {entry.label}; its peak needs the SM count "
                                    f"of the slice (multi_processor_count)")
        if not 0 < sm_count <= entry.sm_count:
            return PeakLookup(None, f"{device_name}: reports {sm_count} SMs, more than the {entry.label}'s "
                                    f"{entry.sm_count}")
        scaled = scaled_to_sms(entry, sm_count, f"MIG {mig}")
        return PeakLookup(scaled, f"MIG {mig} slice of the {entry.label}: datasheet peak x {sm_count}/"
                                  f"{entry.sm_count} SMs")
    if sm_count is not None and sm_count != entry.sm_count:
        return PeakLookup(None, f"{device_name}: reports {sm_count} SMs, the {entry.label} has {entry.sm_count}: "
                                f"another variant, no datasheet peak")
    return PeakLookup(entry, f"datasheet: {entry.label} ({entry.source})")


def by_key(key: str) -> DevicePeak:
    """The entry for a stable key (`KEYS`) or an alias (h100 -> h100-sxm); VitbenchError names the valid ones."""
    wanted = ALIASES.get(key.strip().lower(), key.strip().lower())
    for entry in DEVICES:
        if entry.key == wanted:
            return entry
    raise VitbenchError(f"unknown device {key!r}; valid: {', '.join(KEYS)} (aliases: {', '.join(ALIASES)})")


KEYS: tuple[str, ...] = tuple(entry.key for entry in DEVICES)
