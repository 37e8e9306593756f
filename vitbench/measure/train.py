"""One training step for measurement, and what its tensors hold.

A step is: forward + cross-entropy loss (under autocast for amp-*), backward, optimizer step, then
`zero_grad(set_to_none=True)`, so no gradient outlives the step. Inputs and labels are made once, on the device,
before timing (`make_inputs`). Dtypes (vitbench.measure.spec.DTYPES) in training:

  fp32, tf32   fp32 weights, gradients and optimizer state; tf32 turns on TF32 matmuls (`train_context`).
  bf16         weights (and inputs) cast to bf16: gradients and AdamW moments are bf16 too, no fp32 master
               copy (an update smaller than a weight's bf16 resolution is lost). No autocast, no scaler.
  amp-bf16     fp32 weights (the master copy), `torch.autocast(dtype=bfloat16)` around forward + loss.
  amp-fp16     the same with float16 and a `torch.amp.GradScaler` (loss scaling, inf/NaN skip).
  fp16         refused (Unsupported): GradScaler cannot unscale fp16 gradients, and fp16 without loss scaling
               underflows; use amp-fp16.

Optimizers: AdamW (torch defaults: lr 1e-3, weight decay 1e-2; torch picks the foreach implementation on CUDA)
or SGD with momentum 0.9. The first step allocates the optimizer state; time steps after it.

Memory (`measure_train_memory`, bytes): weights, gradients (after backward), optimizer state (tensors shaped
like their parameter: AdamW's exp_avg / exp_avg_sq, SGD's momentum_buffer) and AdamW's per-tensor `step`
counters apart; inputs; activations = unique storages autograd saved during forward + loss
(`torch.autograd.graph.saved_tensors_hooks`), parameters and inputs excluded, autocast's low-precision weight
copies reported apart. CUDA also gives the allocator's view: bytes allocated at the end of the forward minus
before it, and the peak across a whole step (`max_memory_allocated` after `reset_peak_memory_stats`). CPU has
no allocator statistics: its peak is the RSS of an isolated child (vitbench.measure.isolate).
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

from vitbench.cost.memory import OPTIMIZERS, StepTensors
from vitbench.dtypes import TRAIN_NAMES as TRAIN_DTYPES
from vitbench.measure.backends import Unsupported, autocast_dtype, precision, sdpa_backend, weight_dtype


def check_trainable(dtype: str) -> None:
    """Raise Unsupported for a dtype that is not trained (fp16 cast weights), ValueError for an unknown one."""
    if dtype == "fp16":
        raise Unsupported("fp16 weights cannot be trained with a GradScaler (it refuses fp16 gradients) and "
                          "underflow without one; use amp-fp16")
    if dtype not in TRAIN_DTYPES:
        raise ValueError(f"unknown training dtype {dtype!r}; valid: {', '.join(TRAIN_DTYPES)}")


def make_inputs(cfg, batch: int, device: str | torch.device, dtype: str = "fp32",
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (batch, C, H, W) in the weight dtype, int64 labels in [0, classes)), made once on `device`."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((batch, cfg.in_chans, *cfg.img_size), generator=generator).to(device, weight_dtype(dtype))
    labels = torch.randint(0, cfg.num_classes, (batch,), generator=generator).to(device)
    return x, labels


@contextlib.contextmanager
def train_context(dtype: str, attn: str, device: str) -> Iterator[None]:
    """What a measured training step runs under (grad enabled): the current CUDA device, TF32 flags for tf32
    (off otherwise), a pinned SDPA kernel. Autocast is the step's own business (forward + loss only)."""
    with contextlib.ExitStack() as stack:
        if str(device).startswith("cuda"):
            stack.enter_context(torch.cuda.device(device))
        stack.enter_context(torch.enable_grad())
        stack.enter_context(precision(dtype))
        backend = sdpa_backend(attn)
        if backend is not None:
            from torch.nn.attention import sdpa_kernel

            stack.enter_context(sdpa_kernel(backend))
        yield


class TrainStep:
    """Call it for one full step (returns the detached loss); `forward_loss`, `backward` and `update` are its
    three phases, for measuring memory between them."""

    def __init__(self, model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, *, dtype: str = "fp32",
                 optimizer: str = "adamw", grad_checkpoint: bool = False):
        check_trainable(dtype)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        self.model, self.x, self.labels, self.dtype = model, x, labels, dtype
        model.train()
        if hasattr(model, "set_grad_checkpointing"):
            model.set_grad_checkpointing(grad_checkpoint)
        elif grad_checkpoint:
            raise Unsupported(f"{type(model).__name__} has no set_grad_checkpointing")
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = (torch.optim.AdamW(trainable) if optimizer == "adamw"
                          else torch.optim.SGD(trainable, lr=1e-3, momentum=0.9))
        self.autocast = autocast_dtype(dtype)
        self.scaler = torch.amp.GradScaler(x.device.type) if dtype == "amp-fp16" else None

    def forward_loss(self) -> torch.Tensor:
        """Forward + cross-entropy (in fp32 under autocast, as torch's autocast lists put it)."""
        if self.autocast is None:
            return F.cross_entropy(self.model(self.x), self.labels)
        with torch.autocast(device_type=self.x.device.type, dtype=self.autocast):
            return F.cross_entropy(self.model(self.x), self.labels)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def update(self) -> None:
        """Optimizer step (through the scaler for amp-fp16), then gradients set to None."""
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def with_model(self, model) -> "TrainStep":
        """The same step (optimizer, its state, scaler, inputs) calling `model` instead: a torch.compile'd
        wrapper of this step's model, whose parameters are the same tensors."""
        step = copy.copy(self)
        step.model = model
        return step

    def __call__(self) -> torch.Tensor:
        loss = self.forward_loss()
        self.backward(loss)
        self.update()
        return loss.detach()


def make_train_step(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, *, dtype: str = "fp32",
                    optimizer: str = "adamw", grad_checkpoint: bool = False) -> TrainStep:
    """A callable doing forward + cross-entropy + backward + optimizer step + zero_grad(set_to_none=True).

    The model must already be in the dtype's weight dtype (bf16 casts weights; amp-* keeps fp32)."""
    return TrainStep(model, x, labels, dtype=dtype, optimizer=optimizer, grad_checkpoint=grad_checkpoint)


@dataclass(frozen=True)
class MeasuredTrainMemory(StepTensors):
    """Bytes of a training step's tensors, measured (module docstring), plus the CUDA allocator's view (None on
    CPU)."""

    allocated_by_forward: int | None
    peak_allocated: int | None


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


_VIEW_OR_CAST = ("TBackward0", "ToCopyBackward0", "ViewBackward0", "PermuteBackward0", "TransposeBackward0",
                 "ExpandBackward0", "SelectBackward0", "UnsqueezeBackward0")


def is_parameter_copy(tensor: torch.Tensor) -> bool:
    """True for a cast (or a view of a cast) of a leaf parameter: autocast's weight copies."""
    node = tensor.grad_fn
    seen_cast = False
    while node is not None and type(node).__name__ in _VIEW_OR_CAST:
        seen_cast = seen_cast or type(node).__name__ == "ToCopyBackward0"
        node = node.next_functions[0][0] if node.next_functions else None
    return seen_cast and node is not None and type(node).__name__ == "AccumulateGrad"


@dataclass(frozen=True)
class SavedBytes:
    """Unique storages autograd saved: activations, and casts of parameters (autocast's weight copies)."""

    activations: int
    parameter_copies: int


def saved_bytes(step: TrainStep) -> tuple[SavedBytes, torch.Tensor]:
    """Run `step.forward_loss()` under saved_tensors_hooks; (bytes saved, the loss). Parameters and the step's
    inputs are not counted; a storage saved several times (views) counts once, at its full size."""
    exclude = {p.untyped_storage().data_ptr() for p in step.model.parameters()}
    exclude |= {step.x.untyped_storage().data_ptr(), step.labels.untyped_storage().data_ptr()}
    storages: dict[int, tuple[int, bool]] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in exclude and storage.nbytes():
            storages.setdefault(ptr, (storage.nbytes(), is_parameter_copy(tensor)))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = step.forward_loss()
    copies = sum(n for n, is_copy in storages.values() if is_copy)
    return SavedBytes(sum(n for n, _ in storages.values()) - copies, copies), loss


def measure_train_memory(step: TrainStep) -> MeasuredTrainMemory:
    """Run one step in phases and measure its tensors (module docstring). Run a step before (the optimizer
    state must exist); the model is updated by this step like by any other."""
    device = step.x.device
    cuda = device.type == "cuda"
    params = [p for p in step.model.parameters()]
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    saved, loss = saved_bytes(step)
    allocated_by_forward = torch.cuda.memory_allocated(device) - before if cuda else None
    step.backward(loss)
    gradients = _nbytes(p.grad for p in params if p.grad is not None)
    del loss
    step.update()
    peak = torch.cuda.max_memory_allocated(device) if cuda else None
    shapes = {id(p): p.shape for p in params}
    moments, steps = 0, 0
    for p, state in step.optimizer.state.items():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                if value.shape == shapes[id(p)] and value.device == p.device:
                    moments += value.numel() * value.element_size()
                elif value.device == p.device:
                    steps += value.numel() * value.element_size()
    return MeasuredTrainMemory(weights=_nbytes(params), gradients=gradients, optimizer_state=moments,
                               optimizer_steps=steps, inputs=_nbytes((step.x, step.labels)),
                               activations=saved.activations, amp_weight_copies=saved.parameter_copies,
                               allocated_by_forward=allocated_by_forward, peak_allocated=peak)
