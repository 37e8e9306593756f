"""Closed-form memory of a ViT forward (inference lower bound) and of a training step (exact tensor bytes). No torch.

Units: bytes; `MIB` = 2**20 (result columns end in `_mib`). Dtypes are vitbench's (spec.DTYPES):
fp32 / tf32 (fp32 everywhere), bf16 / fp16 (weights and inputs cast: activations in the low precision),
amp-bf16 / amp-fp16 (fp32 weights, torch.autocast: matmul inputs and outputs in the low precision).

Training dtypes: fp32, tf32, bf16 (weights, gradients and optimizer state all bf16; no fp32 master copy, so an
update smaller than bf16's resolution of the weight is lost), amp-bf16 (autocast; fp32 weights are the master
weights) and amp-fp16 (autocast + torch.amp.GradScaler). fp16 with cast weights is not trainable here:
GradScaler refuses fp16 gradients, and fp16 without loss scaling underflows.

Weights, gradients, optimizer state: parameters × bytes of the weight dtype (4; 2 for bf16). Gradients exist
for the parameters the loss reaches (a distilled model with GAP never uses `head_dist`). AdamW keeps two
states per parameter (exp_avg, exp_avg_sq) in the parameter's dtype, plus a 0-dim fp32 `step` per parameter
tensor (on the host for CUDA parameters unless `capturable`/`fused`, so counted on CPU only); SGD with momentum
keeps one (momentum_buffer).

Activations: the tensors autograd saves for the backward pass of `vitbench.model.VisionTransformer`, as
measured with `torch.autograd.graph.saved_tensors_hooks` (unique storages; tests/test_memory.py), per image:

  per block, fused attention (sdpa / flash / efficient / cudnn):
    norm1: its input x (residual stream) and mean + rstd (2 per token);   qkv: norm1's output (D)
    SDPA: q, k, v (views of the qkv output, one 3D storage), its output (D; the proj input is a view of
      it: the kernel writes (B, N, h, d) and transposes), logsumexp (h per token, fp32)
    norm2: its input (residual stream, D) and mean + rstd;   fc1: norm2's output (D)
    GELU: its input, fc1's output (F);   fc2: GELU's output (F)
    = 8·D + 2·F elements per token + 4 LayerNorm statistics + h fp32
  per block, materialised attention (math, manual): instead of the SDPA terms
    q·scale, kᵀ and v, each copied by matmul's reshape for bmm (3·D), softmax(QKᵀ) (h·N per token), the
    attention output's transposed copy = proj input (D)          = 9·D + 2·F + h·N per token + 4 statistics
    (SDPA's math backend upcasts fp16/bf16 inputs to fp32 first: its q, k, v copies and P are fp32)
  with per-block checkpointing: each block's input x only (D per token)
  outside the blocks: final norm input + statistics; the head's input (cls: a view of the final norm's whole
    output, N·D; gap: the pooled mean, D); log_softmax's output (K) and the loss's total_weight (1 per step).
    The image is saved by the patch-embed conv but is an input, counted under `inputs` (with the int64 labels).

Dtype of each saved tensor: fp32 and tf32: 4 bytes. bf16 / fp16: 2; LayerNorm statistics 2 on CPU, 4 on CUDA
(its accumulate type); logsumexp 4. amp-*: the residual stream (block inputs and norm2 inputs), LayerNorm
statistics, log_softmax and the loss stay fp32; everything a matmul saves is a low-precision copy (2 bytes):
norm outputs cast for qkv and fc1, the head input, the image cast for the conv, and the matmul weights
(`amp_weight_copies`: autocast's cached casts of conv / Linear weights, saved by the ops; biases are not
saved). Under CUDA autocast softmax runs in fp32 (torch's CUDA autocast op list), so manual attention saves
P in fp32 and its bf16 copy for P·V (6 bytes per score); CPU autocast keeps P in bf16 (2). The memory-efficient
CUDA kernel pads its logsumexp to a multiple of 32 tokens (torch's kAlignLSE). The CUDA rules are read from
torch's sources and op lists, not measured here (no GPU on this machine).

Checkpointed recomputation: while block l is back-propagated, its full saved set (above) exists again on top
of the checkpointed inputs: `recompute`, part of the peak lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from vitbench.cost.analytic import params
from vitbench.dtypes import DTYPES
from vitbench.dtypes import TRAIN_NAMES as TRAIN_DTYPES
from vitbench.errors import VitbenchError
from vitbench.zoo import ViTConfig

MIB = 2**20
OPTIMIZERS = ("adamw", "sgd")
MEMORY_DEVICES = ("cpu", "cuda")
MATERIALISED_ATTN = ("math", "manual")
LABEL_BYTES = 8  # int64 class indices

# (weight bytes, activation bytes) per element by dtype (vitbench.dtypes); amp keeps fp32 weights.
BYTES = {name: (d.weight_bytes, d.activation_bytes) for name, d in DTYPES.items()}


def inference_lower_bound_bytes(cfg: ViTConfig, params_count: int, batch: int, dtype: str, attn: str) -> int | None:
    """A lower bound on the peak bytes of one inference forward: weights + the tensors that must be live at
    once — in the MLP: residual stream, its LayerNorm output and the hidden layer, B·N·(2D + F); with a
    materialised attention matrix (manual, math): residual, qkv and the scores, B·(4·N·D + h·N²). None for
    an unknown dtype."""
    if dtype not in BYTES:
        return None
    w_bytes, a_bytes = BYTES[dtype]
    n, d = cfg.tokens, cfg.dim
    live = n * (2 * d + cfg.mlp_hidden)
    if attn in MATERIALISED_ATTN:
        live = max(live, 4 * n * d + cfg.heads * n * n)
    return params_count * w_bytes + batch * live * a_bytes


@dataclass(frozen=True)
class Saved:
    """One tensor autograd saves: `elements` per image (per step when `per_step`), of `nbytes` bytes each."""

    where: str  # "block" (once per block), "stem", "head", "loss", "weights"
    what: str
    elements: int
    nbytes: int
    per_step: bool = False

    def bytes_for(self, batch: int) -> int:
        return self.elements * self.nbytes * (1 if self.per_step else batch)


@dataclass(frozen=True)
class _Precision:
    weight: int  # parameters, gradients, optimizer moments
    residual: int  # block inputs and norm2 inputs (the residual stream)
    matmul_in: int  # what a matmul saves (its input activations)
    stats: int  # LayerNorm mean / rstd
    loss: int  # log_softmax output and the loss scalar
    probs: tuple[int, ...]  # manual attention: bytes of each saved copy of softmax(QKᵀ)
    amp: bool


def _precision(dtype: str, device: str) -> _Precision:
    if dtype not in TRAIN_DTYPES:
        raise VitbenchError(f"dtype {dtype!r} is not trained here; valid: {', '.join(TRAIN_DTYPES)} "
                         "(fp16 weights: GradScaler refuses fp16 gradients; use amp-fp16)")
    if device not in MEMORY_DEVICES:
        raise VitbenchError(f"device must be one of {', '.join(MEMORY_DEVICES)}, got {device!r}")
    if dtype in ("fp32", "tf32"):
        return _Precision(4, 4, 4, 4, 4, (4,), False)
    if dtype == "bf16":
        return _Precision(2, 2, 2, 4 if device == "cuda" else 2, 2, (2,), False)
    return _Precision(4, 4, 2, 4, 4, (4, 2) if device == "cuda" else (2,), True)


def _block_terms(cfg: ViTConfig, attn: str, p: _Precision) -> list[Saved]:
    n, d, f, h = cfg.tokens, cfg.dim, cfg.mlp_hidden, cfg.heads
    terms = [Saved("block", "norm1 input (residual stream)", n * d, p.residual),
             Saved("block", "norm1 mean + rstd", 2 * n, p.stats),
             Saved("block", "qkv input (norm1 output)", n * d, p.matmul_in)]
    if attn in MATERIALISED_ATTN:
        # SDPA's math backend upcasts fp16/bf16 q, k, v to fp32 (torch's default
        # allow_fp16_bf16_reduction_math_sdp(False)): its copies and P are fp32, one P copy.
        upcast = attn == "math"
        terms += [Saved("block", "q·scale, kᵀ, v copied for bmm", 3 * n * d, 4 if upcast else p.matmul_in)]
        terms += [Saved("block", f"softmax(QKᵀ) ({b} B)", h * n * n, b) for b in ((4,) if upcast else p.probs)]
        terms += [Saved("block", "attention output, transposed copy (proj input)", n * d, p.matmul_in)]
    else:
        lse = h * (-(-n // 32) * 32 if attn == "efficient" else n)
        terms += [Saved("block", "q, k, v (one qkv storage)", 3 * n * d, p.matmul_in),
                  Saved("block", "SDPA output (= proj input)", n * d, p.matmul_in),
                  Saved("block", "SDPA logsumexp", lse, 4)]
    terms += [Saved("block", "norm2 input (residual stream)", n * d, p.residual),
              Saved("block", "norm2 mean + rstd", 2 * n, p.stats),
              Saved("block", "fc1 input (norm2 output)", n * d, p.matmul_in),
              Saved("block", "GELU input (fc1 output)", n * f, p.matmul_in),
              Saved("block", "fc2 input (GELU output)", n * f, p.matmul_in)]
    return terms


def _uses_head_dist(cfg: ViTConfig) -> bool:
    return cfg.distill and cfg.pool == "cls" and cfg.num_classes > 0


def _outer_terms(cfg: ViTConfig, p: _Precision) -> list[Saved]:
    n, d, k = cfg.tokens, cfg.dim, cfg.num_classes
    terms = []
    if p.amp:
        terms.append(Saved("stem", "image cast for the conv", cfg.in_chans * cfg.img_size[0] * cfg.img_size[1], 2))
    terms += [Saved("head", "final norm input (residual stream)", n * d, p.residual),
              Saved("head", "final norm mean + rstd", 2 * n, p.stats)]
    heads = 2 if _uses_head_dist(cfg) else 1
    if p.amp:
        terms.append(Saved("head", "head input cast (per head)", heads * d, 2))
    elif cfg.pool == "gap":
        terms.append(Saved("head", "head input (pooled mean)", d, p.matmul_in))
    else:
        terms.append(Saved("head", "head input: a view of the final norm output (all tokens)", n * d, p.matmul_in))
    terms += [Saved("loss", "log_softmax output", k, p.loss), Saved("loss", "loss total_weight", 1, p.loss, True)]
    return terms


def matmul_weight_elements(cfg: ViTConfig, include_blocks: bool = True) -> int:
    """Elements of the conv and Linear weight matrices (not biases) the forward multiplies by."""
    d, f = cfg.dim, cfg.mlp_hidden
    heads = 2 if _uses_head_dist(cfg) else 1
    blocks = cfg.depth * (4 * d * d + 2 * d * f) if include_blocks else 0
    return cfg.in_chans * cfg.patch**2 * d + blocks + heads * d * cfg.num_classes


def saved_tensors(cfg: ViTConfig, dtype: str = "fp32", attn: str = "sdpa", grad_checkpoint: bool = False,
                  device: str = "cuda") -> list[Saved]:
    """Every tensor autograd saves in one training forward (module docstring), with the amp weight copies.

    Block terms appear once and count `cfg.depth` times (`activation_bytes` multiplies them)."""
    if cfg.num_classes <= 0:
        raise VitbenchError("training needs a classification head (classes > 0)")
    p = _precision(dtype, device)
    if grad_checkpoint:
        block = [Saved("block", "checkpointed block input (residual stream)", cfg.tokens * cfg.dim, p.residual)]
    else:
        block = _block_terms(cfg, attn, p)
    weights = []
    if p.amp:
        weights = [Saved("weights", "autocast weight copies saved by conv / Linear",
                         matmul_weight_elements(cfg, include_blocks=not grad_checkpoint), 2, per_step=True)]
    return block + _outer_terms(cfg, p) + weights


def activation_bytes(terms: list[Saved], depth: int, batch: int) -> int:
    """Bytes of the saved tensors for a batch: block terms × depth, the rest once."""
    return sum(t.bytes_for(batch) * (depth if t.where == "block" else 1) for t in terms)


@dataclass(frozen=True)
class StepTensors:
    """Bytes of one training step's tensors by kind, for a batch: what the closed form predicts
    (`TrainingMemory`) and what a measured step holds (`vitbench.measure.train.MeasuredTrainMemory`) alike."""

    weights: int
    gradients: int
    optimizer_state: int
    optimizer_steps: int
    inputs: int
    activations: int
    amp_weight_copies: int


@dataclass(frozen=True)
class TrainingMemory(StepTensors):
    """The closed form of one training step's tensors (module docstring), plus the recompute of checkpointing.

    held_end_of_forward: all of it at the end of the forward pass (gradients do not exist yet: they are set to
    None at the end of each step). peak_lower_bound: that, plus (checkpointing) one block's recomputed saved
    set. Allocator rounding, workspaces, the forward's temporaries and gradients alive during the backward come
    on top: the measured peak is higher."""

    recompute: int

    @property
    def held_end_of_forward(self) -> int:
        return (self.weights + self.optimizer_state + self.optimizer_steps + self.inputs + self.activations
                + self.amp_weight_copies)

    @property
    def peak_lower_bound(self) -> int:
        return self.held_end_of_forward + self.recompute


def by_kind_mib(mem: StepTensors) -> dict:
    """The memory-by-kind columns of a train row (vitbench.schema, MiB): gradients; optimizer state with its step
    counters; saved activations with the autocast weight copies; closed form or measured."""
    return {"mem_grads_mib": mem.gradients / MIB,
            "mem_optimizer_mib": (mem.optimizer_state + mem.optimizer_steps) / MIB,
            "mem_activations_mib": (mem.activations + mem.amp_weight_copies) / MIB}


def trained_params(cfg: ViTConfig) -> int:
    """Parameters that receive a gradient (all but `head_dist` when a distilled model pools with GAP)."""
    total = params(cfg).total
    unused = cfg.distill and cfg.pool == "gap" and cfg.num_classes > 0
    return total - (cfg.dim * cfg.num_classes + cfg.num_classes if unused else 0)


def param_tensors(cfg: ViTConfig) -> int:
    """Parameter tensors that receive a gradient (AdamW keeps one `step` per tensor)."""
    per_block = 2 + (2 if cfg.qkv_bias else 1) + 2 + 2 + 2 + 2  # norm1, qkv, proj, norm2, fc1, fc2
    tokens = 1 + int(cfg.distill) + int(cfg.registers > 0) + 1  # cls, dist, registers, pos_embed
    heads = (2 if _uses_head_dist(cfg) else 1) * 2 if cfg.num_classes else 0
    return 2 + tokens + cfg.depth * per_block + 2 + heads


def training_memory(cfg: ViTConfig, batch: int, dtype: str = "fp32", attn: str = "sdpa", optimizer: str = "adamw",
                    grad_checkpoint: bool = False, device: str = "cuda") -> TrainingMemory:
    """Bytes of a training step of `cfg` at `batch` (module docstring); device 'cpu' or 'cuda' picks the rules
    that differ (LayerNorm statistics of bf16, autocast softmax, where AdamW's step counters live)."""
    if optimizer not in OPTIMIZERS:
        raise VitbenchError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    p = _precision(dtype, device)
    terms = saved_tensors(cfg, dtype, attn, grad_checkpoint, device)
    weight_copies = sum(t.bytes_for(batch) for t in terms if t.where == "weights")
    activations = activation_bytes([t for t in terms if t.where != "weights"], cfg.depth, batch)
    recompute = 0
    if grad_checkpoint:
        full = _block_terms(cfg, attn, p)
        recompute = sum(t.bytes_for(batch) for t in full)
        if p.amp:
            recompute += 2 * (4 * cfg.dim**2 + 2 * cfg.dim * cfg.mlp_hidden)  # the block's weight copies
    trained = trained_params(cfg)
    moments = {"adamw": 2, "sgd": 1}[optimizer]
    steps = 4 * param_tensors(cfg) if optimizer == "adamw" and device == "cpu" else 0
    image = cfg.in_chans * cfg.img_size[0] * cfg.img_size[1] * (2 if dtype == "bf16" else 4)
    return TrainingMemory(weights=params(cfg).total * p.weight, gradients=trained * p.weight,
                          optimizer_state=moments * trained * p.weight, optimizer_steps=steps,
                          inputs=batch * (image + LABEL_BYTES), activations=activations,
                          amp_weight_copies=weight_copies, recompute=recompute)


def peak_lower_bound_bytes(cfg: ViTConfig, batch: int, dtype: str, attn: str = "sdpa", mode: str = "infer",
                           optimizer: str | None = "adamw", grad_checkpoint: bool = False, device: str = "cuda",
                           params_count: int | None = None) -> int | None:
    """The closed-form lower bound on the peak bytes of one measured point (a result row's `mem_peak_pred_mib`
    × MIB): train: `training_memory(...).peak_lower_bound`; infer: `inference_lower_bound_bytes` (with
    `params_count`, e.g. a row's own count, else the closed form's). `device` is the kind, 'cpu' or 'cuda'
    (cuda:N counts as cuda). None where the model gives none: a dtype it does not train or know, a model
    without a head in training."""
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    if mode != "train":
        count = params(cfg).total if params_count is None else params_count
        return inference_lower_bound_bytes(cfg, count, batch, dtype, attn)
    if dtype not in TRAIN_DTYPES or cfg.num_classes <= 0:
        return None
    return training_memory(cfg, batch, dtype, attn, optimizer or "adamw", grad_checkpoint, kind).peak_lower_bound
