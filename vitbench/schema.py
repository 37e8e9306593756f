"""Every column vitbench writes, defined once: name, kind, unit, table label, meaning, formatter, which
direction is better and whether it is compared exactly. No torch.

Tables, CSV headers, `compare`, plots and reports read this registry; adding a column touches this file only.

Conventions: MAC columns are per image (1 MAC = 1 multiply-add = 2 FLOPs); time in milliseconds per iteration of
the whole batch (an inference forward, or a training step); memory in MiB (2**20 bytes, hence `_mib`); throughput
in images per second; shares are fractions (0..1). Train rows (mode 'train') count FLOP/s and MFU with the training
MACs (`macs_train`: forward + backward, no recomputation), infer rows with the forward MACs (`macs`).

Kinds:
  config    the model and its input (with the runtime key: the row's key for resume and merge)
  runtime   how the point ran: batch, device, dtype, attention backend, compile, mode (and, training: optimizer,
            gradient checkpointing)
  cost      from the closed form: exact counts (equal to both counters, see README) and the memory model's bound
  measured  timings, memory and efficiency taken by running the model
  context   what the measurement ran on or found out (device name, threads, the attention kernel that ran)
  status    `ok`, `oom`, `unsupported`, `error` or `invalid`, and one line saying why
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vitbench.components import ELEMENTWISE, MATMUL, PARAM_LABELS, PARAM_PARTS, TIMED

KINDS = ("config", "runtime", "cost", "measured", "context", "status")
STATUSES = ("ok", "oom", "unsupported", "error", "invalid")
FORMATS = ("text", "int", "float", "ms", "mib", "pct", "bool", "s")


@dataclass(frozen=True)
class Column:
    """One result column. `unit` is what a table header shows; `better` is 'lower', 'higher' or None (not a
    figure of merit); `exact` columns are compared to the unit by `compare` (a change is a bug or a decision)."""

    name: str
    kind: str
    unit: str
    label: str
    doc: str
    fmt: str = "text"
    better: str | None = None
    exact: bool = False

    def __post_init__(self) -> None:
        assert self.kind in KINDS and self.fmt in FORMATS and self.better in (None, "lower", "higher"), self


def _c(name, kind, unit, label, doc, fmt="text", better=None, exact=False) -> Column:
    return Column(name, kind, unit, label, doc, fmt, better, exact)


_COMPONENT_DOC = {"patch_embed": "patch embedding (conv)", "attn_proj": "attention projections (qkv + out)",
                  "attn_core": "attention core (QKᵀ and AV)", "mlp": "MLP (fc1 + fc2)", "head": "classifier head",
                  "other": "modules no component covers (external models; 0 for the zoo)"}

COLUMNS: tuple[Column, ...] = (
    # -- config: the model and its input
    _c("model", "config", "", "model", "zoo name, or timm:NAME / torchvision:NAME"),
    _c("patch", "config", "px", "patch", "patch size", "int"),
    _c("res_h", "config", "px", "height", "input height", "int"),
    _c("res_w", "config", "px", "width", "input width", "int"),
    _c("dim", "config", "", "D", "width D", "int"),
    _c("depth", "config", "", "L", "blocks L", "int"),
    _c("heads", "config", "", "heads", "attention heads", "int"),
    _c("mlp_ratio", "config", "", "MLP ratio", "MLP hidden width / D", "float"),
    _c("classes", "config", "", "classes", "classifier outputs (0 = no head)", "int"),
    _c("pool", "config", "", "pool", "cls or gap"),
    _c("registers", "config", "", "registers", "register tokens", "int"),
    _c("distill", "config", "", "distill", "DeiT distillation token and second head", "bool"),
    _c("tokens", "config", "", "tokens", "sequence length N seen by every block", "int", exact=True),
    # -- runtime key
    _c("batch", "runtime", "", "batch", "images per iteration", "int"),
    _c("device", "runtime", "", "device", "cpu, cuda or cuda:N (resolved: never auto)"),
    _c("dtype", "runtime", "", "dtype", "fp32, tf32, fp16, bf16, amp-fp16 or amp-bf16"),
    _c("attn", "runtime", "", "attn", "sdpa (torch picks), flash / efficient / cudnn / math (pinned), manual"),
    _c("compile", "runtime", "", "compiled", "torch.compile'd (static shapes, compiled per point)", "bool"),
    _c("mode", "runtime", "", "mode", "infer (forward) or train (forward + loss + backward + optimizer step)"),
    _c("optimizer", "runtime", "", "optimizer", "train rows: adamw (torch defaults) or sgd (momentum 0.9); "
       "empty for infer"),
    _c("grad_checkpoint", "runtime", "", "ckpt", "train rows: per-block activation checkpointing "
       "(torch.utils.checkpoint); false for infer", "bool"),
    # -- exact cost, per image
    _c("params", "cost", "params", "params", "trainable parameters, exact", "int", "lower", True),
    _c("macs", "cost", "MACs/image", "MACs", "forward MACs per image, all matmul components", "int", "lower", True),
    *(_c(f"macs_{c}", "cost", "MACs/image", f"{c} MACs", f"forward MACs per image in the {_COMPONENT_DOC[c]}",
         "int", "lower", True) for c in MATMUL),
    _c("attn_core_share", "cost", "fraction", "attn core", "attention-core MACs / total MACs", "pct"),
    _c("macs_train", "cost", "MACs/image", "train MACs", "train rows: MACs per image of a training step, forward "
       "+ backward without recomputation (vitbench.cost.training; the MFU numerator)", "int", "lower", True),
    _c("mem_peak_pred_mib", "cost", "MiB", "bound MiB", "closed-form lower bound on mem_peak_mib − mem_base_mib "
       "(vitbench.cost.memory): train: weights + optimizer state + inputs + saved activations (+ one block's "
       "recompute when checkpointing); infer: weights + the largest set of live activations; zoo models only",
       "mib"),
    # -- measured: time
    _c("latency_ms_median", "measured", "ms", "median ms", "median time per iteration of the batch", "ms", "lower"),
    _c("latency_ms_p10", "measured", "ms", "p10 ms", "10th percentile of the timed iterations", "ms"),
    _c("latency_ms_p90", "measured", "ms", "p90 ms", "90th percentile of the timed iterations", "ms"),
    _c("latency_ms_iqr", "measured", "ms", "IQR ms", "interquartile range p75 − p25", "ms"),
    _c("latency_ms_mean", "measured", "ms", "mean ms", "mean of the timed iterations", "ms"),
    _c("latency_ms_std", "measured", "ms", "std ms", "sample standard deviation (ddof 1)", "ms"),
    _c("n_iters", "measured", "", "n", "timed iterations behind the statistics", "int"),
    _c("throughput_ips", "measured", "img/s", "img/s", "batch / median latency", "float", "higher"),
    _c("warmup_iters", "measured", "", "warm-up", "warm-up iterations run before timing", "int"),
    _c("warmup_s", "measured", "s", "warm-up s", "seconds spent warming up (after compiling)", "s"),
    _c("compile_s", "measured", "s", "compile s", "seconds the compiling call took (compiled rows only)", "s"),
    _c("setup_s", "measured", "s", "setup s", "seconds building the model and its input and running the probe "
       "forward", "s"),
    _c("timing_s", "measured", "s", "timing s", "wall seconds of the timed iterations (their samples plus the "
       "timing loop's own cost)", "s"),
    _c("point_s", "measured", "s", "point s", "wall seconds of the whole point where it ran: setup, compile, "
       "warm-up, timing, the profiled iteration, split, memory release, and the child's start-up when isolated",
       "s"),
    _c("compile_graphs", "context", "", "graphs", "graphs Dynamo compiled for the point (>= 1; compiled rows)",
       "int"),
    _c("compile_cache", "context", "", "compile cache", "inductor FX-graph cache: hit, miss, mixed, bypass, off"),
    # -- measured: memory
    _c("mem_weights_mib", "measured", "MiB", "weights MiB", "parameter and buffer bytes", "mib"),
    _c("mem_peak_mib", "measured", "MiB", "peak MiB",
       "CUDA: max_memory_allocated over the timed iterations; CPU: peak RSS of the measuring child process",
       "mib", "lower"),
    _c("mem_base_mib", "measured", "MiB", "base MiB",
       "resident before the model was built (CPU: python + torch, part of the peak)", "mib"),
    _c("mem_grads_mib", "measured", "MiB", "grads MiB", "train rows: parameter gradient bytes (after backward)",
       "mib"),
    _c("mem_optimizer_mib", "measured", "MiB", "optimizer MiB", "train rows: optimizer state bytes on the "
       "parameters' device (AdamW: exp_avg, exp_avg_sq and, on CPU, step counters; SGD: momentum_buffer)", "mib"),
    _c("mem_activations_mib", "measured", "MiB", "activations MiB", "train rows, eager: bytes autograd saved for "
       "the backward in forward + loss (unique storages, saved_tensors_hooks; autocast's weight copies included)",
       "mib"),
    # -- measured: efficiency
    _c("tflops_achieved", "measured", "TFLOP/s", "TFLOP/s", "2 · macs · batch / median (train rows: macs_train), "
       "in 1e12 FLOP/s", "float", "higher"),
    _c("mfu", "measured", "fraction", "MFU", "tflops_achieved / peak_tflops", "pct", "higher"),
    _c("peak_tflops", "context", "TFLOP/s", "peak TFLOP/s", "the device's dense datasheet peak for the dtype "
       "(vitbench.hardware; MIG slices scaled by SMs); empty where the table cannot vouch for the part", "float"),
    # -- measured: time per component (--split)
    *(_c(f"time_ms_{c}", "measured", "ms", f"{c} ms", f"--split: time in {c}, summed over blocks", "ms")
      for c in TIMED),
    *(_c(f"time_share_{c}", "measured", "fraction", f"{c} share", f"--split: share of the iteration in {c}",
         "pct") for c in TIMED),
    _c("time_ms_split_total", "measured", "ms", "split total ms", "--split: the iterations' total the parts add "
       "up to (interquartile mean over the split iterations)", "ms"),
    _c("split_method", "context", "", "split method", "--split: hooks (perf_counter in forward hooks, CPU) or "
       "profiler (CUDA kernel durations by component range)"),
    _c("split_iters", "context", "", "split n", "--split: iterations taken", "int"),
    _c("split_gpu_busy", "measured", "fraction", "GPU busy", "--split on CUDA: kernel time / median latency; "
       "below 0.8 the point is launch-bound", "pct"),
    # -- context
    _c("attn_kernel", "context", "", "kernel",
       "attention op that ran in a profiled iteration (aten op name, or math when QKᵀ/softmax/AV ran apart)"),
    _c("device_name", "context", "", "device name", "GPU or CPU model"),
    _c("threads", "context", "", "threads", "torch intra-op threads", "int"),
    _c("host", "context", "", "host", "machine (hostname) the point ran on"),
    _c("worker_device", "context", "", "worker", "sweep --devices: the device of the worker that ran the point, "
       "in the numbering of the process that started the workers (cuda:1, cpu); empty without workers"),
    _c("max_batch", "context", "", "max batch", "--find-max-batch: largest batch that fits", "int"),
    # -- status
    _c("status", "status", "", "status", " | ".join(STATUSES)),
    _c("error", "status", "", "error", "one line saying why the status is not ok"),
)

# Columns of the cost commands' --csv/--json rows (flops: one row per counter, MACs per image; params; split).
COUNTER_COLUMNS: tuple[Column, ...] = (
    *(_c(f"params_{p}", "cost", "params", PARAM_LABELS[p], f"trainable parameters in the {PARAM_LABELS[p]}",
         "int", "lower", True) for p in PARAM_PARTS),
    _c("crossover_mlp_tokens", "cost", "", "core > MLP at N >", "the attention core exceeds the MLP above this "
       "many tokens (N > F)", "int"),
    _c("crossover_mlp_res", "cost", "px", "core > MLP from", "first square resolution (at this patch) where "
       "it does", "int"),
    _c("crossover_dense_tokens", "cost", "", "core > dense at N >", "the attention core exceeds all dense layers "
       "(qkv + out + MLP) above this many tokens (N > 2D + F)", "int"),
    _c("crossover_dense_res", "cost", "px", "core > dense from", "first square resolution where it does", "int"),
    _c("counter", "context", "", "counter", "analytic (closed form), fvcore or torch (FlopCounterMode)"),
    _c("count_device", "context", "", "traced on", "where the counter traced: meta, cpu, cuda (closed-form: none)"),
    _c("flops", "cost", "FLOPs/image", "FLOPs", "2 × macs", "int", "lower", True),
    *(_c(f"ops_{c}", "cost", "element-ops/image", f"{c} ops",
         f"{c} element-ops per image (LayerNorm 5 per element; softmax, GELU 1); empty where the counter "
         f"does not see them", "int") for c in ELEMENTWISE),
    # flops --mode train
    _c("macs_recompute", "cost", "MACs/image", "recompute MACs", "flops --mode train: MACs per image the device "
       "runs again: fused attention's QKᵀ in its backward, checkpointed blocks up to fc1", "int", "lower", True),
    _c("macs_step", "cost", "MACs/image", "step MACs", "flops --mode train: MACs per image of the whole step as "
       "the counter saw it: macs_train + macs_recompute (closed form) or what FlopCounterMode counted", "int",
       "lower", True),
    # memory (closed form; the mem_* columns of result rows hold the same quantities, measured)
    _c("mem_inputs_mib", "cost", "MiB", "inputs MiB", "memory: the batch's images and int64 labels", "mib"),
    _c("mem_recompute_mib", "cost", "MiB", "recompute MiB", "memory --grad-checkpoint: one block's saved set, "
       "alive again while that block is back-propagated", "mib"),
    # train-cost
    _c("convention", "context", "", "convention", "train-cost: model (forward + backward) or 3x-forward MACs "
       "per image"),
    _c("images", "config", "", "images", "train-cost: images seen (dataset size × epochs)", "int"),
    _c("macs_total", "cost", "MACs", "MACs", "train-cost: MACs per image (by the convention) × images", "int"),
    _c("flops_total", "cost", "FLOPs", "FLOPs", "train-cost: 2 × macs_total", "int"),
    _c("hardware", "context", "", "hardware", "train-cost: the device unit (vitbench.hardware key)"),
    _c("device_hours", "cost", "device-hours", "device-hours", "train-cost: FLOPs / (MFU × peak) / 3600, "
       "hours of one device unit", "float"),
    _c("device_days", "cost", "device-days", "device-days", "train-cost: device_hours / 24", "float"),
    _c("price_per_hour", "context", "per device-hour", "price", "train-cost: --price", "float"),
    _c("cost", "cost", "", "cost", "train-cost: device_hours × price_per_hour (the price's currency)",
       "float"),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS + COUNTER_COLUMNS}
ALL_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS)


def names(*kinds: str) -> tuple[str, ...]:
    """Column names of the given kinds, in schema order."""
    return tuple(c.name for c in COLUMNS if c.kind in kinds)


CONFIG_COLUMNS = names("config")
RUNTIME_KEY_COLUMNS = names("runtime")
# The key resume and merge join on: the whole config (tokens follows from it) and the runtime key.
CONFIG_KEY = tuple(c for c in CONFIG_COLUMNS if c != "tokens") + RUNTIME_KEY_COLUMNS
# The value a runtime-key column takes in result files written before it existed (their rows ran that way: forward
# passes, so no optimizer and no checkpointing).
KEY_DEFAULTS = {"mode": "infer", "optimizer": "", "grad_checkpoint": "False"}
COST_COLUMNS = names("cost")
EXACT_COLUMNS = tuple(c.name for c in COLUMNS if c.exact)
MEASURED_COLUMNS = names("measured")
LATENCY_COLUMNS = tuple(c for c in MEASURED_COLUMNS if c.startswith("latency_ms_")) + ("n_iters",)
SPLIT_COLUMNS = tuple(c for c in MEASURED_COLUMNS if c.startswith(("time_ms_", "time_share_")))
PARAMS_COLUMNS = CONFIG_COLUMNS + ("params",) + tuple(f"params_{p}" for p in PARAM_PARTS)
# The closed-form columns of a model config alone (what `models` and `split` write); the rest depend on the point.
POINT_COST_COLUMNS = ("macs_train", "mem_peak_pred_mib")
CONFIG_COST_COLUMNS = tuple(c for c in COST_COLUMNS if c not in POINT_COST_COLUMNS)
COST_ROW_COLUMNS = CONFIG_COLUMNS + CONFIG_COST_COLUMNS
SPLIT_COST_COLUMNS = COST_ROW_COLUMNS + ("crossover_mlp_tokens", "crossover_mlp_res",
                                                      "crossover_dense_tokens", "crossover_dense_res")
FLOPS_COLUMNS = CONFIG_COLUMNS + ("counter", "count_device", "batch", "params", "macs", "flops") + tuple(
    f"macs_{c}" for c in MATMUL) + tuple(f"ops_{c}" for c in ELEMENTWISE) + ("attn_core_share",)
TRAIN_FLOPS_COLUMNS = CONFIG_COLUMNS + ("mode", "attn", "grad_checkpoint", "counter", "count_device", "batch",
                                        "params", "macs", "macs_train", "macs_recompute", "macs_step") + tuple(
    f"macs_{c}" for c in MATMUL)
MEMORY_COLUMNS = CONFIG_COLUMNS + ("batch", "device", "dtype", "attn", "mode", "optimizer", "grad_checkpoint",
                                   "params", "mem_weights_mib", "mem_grads_mib", "mem_optimizer_mib",
                                   "mem_inputs_mib", "mem_activations_mib", "mem_recompute_mib", "mem_peak_pred_mib")
TRAIN_COST_COLUMNS = CONFIG_COLUMNS + ("convention", "images", "macs_train", "macs_total", "flops_total", "hardware",
                                       "dtype", "peak_tflops", "mfu", "device_hours", "device_days", "price_per_hour",
                                       "cost")


def make_row(**values) -> dict:
    """A full result row in schema order; unknown columns or statuses are a programming error, missing ones
    empty (None)."""
    unknown = set(values) - set(BY_NAME)
    if unknown:
        raise KeyError(f"not in the result schema: {', '.join(sorted(unknown))}")
    if values.get("status") not in STATUSES + (None,):
        raise ValueError(f"status {values['status']!r} is not one of {', '.join(STATUSES)}")
    return {column: values.get(column) for column in ALL_COLUMNS}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def train_label(mode, optimizer, grad_checkpoint) -> str:
    """'train adamw' / 'train sgd ckpt' for a training step (how tables and reports name it), '' otherwise.
    Values as rows hold them (grad_checkpoint True/False or its text)."""
    if mode != "train":
        return ""
    ckpt = str(grad_checkpoint).strip().lower() == "true"
    return " ".join(filter(None, ("train", optimizer if isinstance(optimizer, str) else "", "ckpt" if ckpt else "")))


def format_value(name: str, value) -> str:
    """A cell as a table shows it, by the column's formatter: exact integers with separators, ms to 3-4
    significant digits, MiB to 0.1, fractions as percentages. '-' when missing."""
    if _missing(value):
        return "-"
    kind = BY_NAME[name].fmt if name in BY_NAME else "text"
    try:
        if kind == "int":
            return f"{int(float(value)):,}"
        if kind == "ms":
            return fmt_ms(float(value))
        if kind == "mib":
            return f"{float(value):,.1f}"
        if kind == "pct":
            return f"{100 * float(value):.1f}%"
        if kind == "s":
            return f"{float(value):.2f}"
        if kind == "float":
            return f"{float(value):,.4g}" if abs(float(value)) < 1000 else f"{float(value):,.0f}"
        if kind == "bool":
            return "yes" if str(value).strip().lower() in ("true", "1", "1.0", "yes") else "no"
    except (TypeError, ValueError):
        return str(value)
    return str(value)


def fmt_ms(value: float) -> str:
    """Milliseconds with 3-4 significant digits: 0.0123, 1.234, 12.34, 123.4, 1,234."""
    if value < 1:
        return f"{value:.3g}"
    if value < 10:
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 100 else f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def header(name: str) -> str:
    """A column's table header: its label, with the unit where the label does not already carry it."""
    col = BY_NAME[name]
    unit = "" if not col.unit or col.unit in col.label or col.unit in ("fraction", "px") else f" ({col.unit})"
    return col.label + unit
