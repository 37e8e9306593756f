"""The result-row schema: every column vitbench writes, in order, in one place. No torch.

Conventions: MAC columns are per image (one multiply-accumulate = 2 FLOPs); time in milliseconds per forward
of the whole batch; memory in MiB (2**20 bytes, labelled `mb`); throughput in images per second.
"""

from __future__ import annotations

from vitbench.cost.analytic import macs, params
from vitbench.cost.breakdown import ELEMENTWISE_COMPONENTS, MATMUL_COMPONENTS, Breakdown
from vitbench.zoo import ViTConfig

# The model and input: with the runtime keys below, these identify a point (resume, merge, compare join on them).
CONFIG_COLUMNS = (
    "model", "patch", "res_h", "res_w", "dim", "depth", "heads", "mlp_ratio", "classes", "pool",
    "registers", "distill", "tokens",
)
RUNTIME_KEY_COLUMNS = ("batch", "device", "dtype", "attn", "compile")
CONFIG_KEY = tuple(c for c in CONFIG_COLUMNS if c != "tokens") + RUNTIME_KEY_COLUMNS

# Exact cost: params (integers) and MACs per image by component, from the closed form.
COST_COLUMNS = (
    "params", "macs", "macs_patch_embed", "macs_attn_proj", "macs_attn_core", "macs_mlp", "macs_head",
    "attn_core_share",
)
# Measured time, memory and efficiency (bench); filled by vitbench.measure.
TIME_COLUMNS = (
    "latency_ms_median", "latency_ms_p10", "latency_ms_p90", "latency_ms_iqr", "latency_ms_mean",
    "latency_ms_std", "n_iters", "throughput_ips",
)
# mem_base_mb: what was resident before the model was built (CPU: the measuring child's RSS after importing
# torch, included in its peak RSS; CUDA: memory_allocated before the build, normally 0).
MEMORY_COLUMNS = ("mem_weights_mb", "mem_peak_mb", "mem_base_mb")
EFFICIENCY_COLUMNS = ("tflops_achieved", "mfu")
SPLIT_COLUMNS = (
    "time_ms_attn_proj", "time_ms_attn_core", "time_ms_mlp", "time_ms_rest",
    "time_share_attn_proj", "time_share_attn_core", "time_share_mlp", "time_share_rest",
)
CONTEXT_COLUMNS = ("device_name", "threads", "max_batch", "status", "error")

ALL_COLUMNS = (
    CONFIG_COLUMNS + RUNTIME_KEY_COLUMNS + COST_COLUMNS + TIME_COLUMNS + MEMORY_COLUMNS
    + EFFICIENCY_COLUMNS + SPLIT_COLUMNS + CONTEXT_COLUMNS
)
# `vitbench flops --csv/--json`: one row per counter; MACs per image, `flops` = 2 · `macs`, element-ops apart.
FLOPS_COLUMNS = (
    CONFIG_COLUMNS + ("counter", "count_device", "batch", "params", "macs", "flops")
    + tuple(f"macs_{c}" for c in MATMUL_COMPONENTS) + tuple(f"ops_{c}" for c in ELEMENTWISE_COMPONENTS)
    + ("attn_core_share",)
)
# Columns compared exactly by `vitbench compare` (a change is deliberate or a bug).
EXACT_COLUMNS = ("tokens",) + tuple(c for c in COST_COLUMNS if c != "attn_core_share")
STATUSES = ("ok", "oom", "unsupported", "error", "invalid")


def config_fields(cfg: ViTConfig) -> dict:
    """The config columns of one row."""
    return {
        "model": cfg.name, "patch": cfg.patch, "res_h": cfg.img_size[0], "res_w": cfg.img_size[1],
        "dim": cfg.dim, "depth": cfg.depth, "heads": cfg.heads, "mlp_ratio": cfg.mlp_ratio,
        "classes": cfg.num_classes, "pool": cfg.pool, "registers": cfg.registers,
        "distill": cfg.distill, "tokens": cfg.tokens,
    }


def cost_fields(cfg: ViTConfig) -> dict:
    """The exact cost columns of one row (closed form; equal to the counters', see tests)."""
    m = macs(cfg)
    return {
        "params": params(cfg).total, "macs": m.total, "macs_patch_embed": m.patch_embed,
        "macs_attn_proj": m.attn_proj, "macs_attn_core": m.attn_core, "macs_mlp": m.mlp,
        "macs_head": m.head, "attn_core_share": round(m.share("attn_core"), 6),
    }


def make_row(**values) -> dict:
    """A full row in schema order; unknown columns or statuses are a programming error, missing ones empty."""
    unknown = set(values) - set(ALL_COLUMNS)
    if unknown:
        raise KeyError(f"not in the result schema: {', '.join(sorted(unknown))}")
    if values.get("status") not in STATUSES + (None,):
        raise ValueError(f"status {values['status']!r} is not one of {', '.join(STATUSES)}")
    return {column: values.get(column) for column in ALL_COLUMNS}


def flops_row(cfg: ViTConfig, counted: Breakdown, batch: int, count_device: str) -> dict:
    """One counter's breakdown as a `FLOPS_COLUMNS` row (per image; `batch` is what the counter traced)."""
    return {
        **config_fields(cfg), "counter": counted.counter, "count_device": count_device, "batch": batch,
        "params": params(cfg).total, "macs": counted.total, "flops": 2 * counted.total,
        **{f"macs_{c}": getattr(counted, c) for c in MATMUL_COMPONENTS},
        **{f"ops_{c}": getattr(counted, c) for c in ELEMENTWISE_COMPONENTS},
        "attn_core_share": round(counted.share("attn_core"), 6),
    }
