"""The dtypes a point can run in, defined once. No torch (torch dtypes are looked up by name where needed).

    fp32      IEEE fp32 weights, input and matmuls (TF32 off)
    tf32      fp32 weights and input; matmuls and convs on TF32 tensor cores (CUDA sm80+)
    fp16/bf16 weights and input cast to the half type
    amp-fp16/amp-bf16  fp32 weights and input, `torch.autocast` runs matmuls in the half type

`precision` is the datasheet rate the matmuls run at (for MFU); bytes are per element.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DType:
    name: str
    weights: str  # torch dtype name of weights and input
    autocast: str | None  # torch dtype name autocast computes in (None: no autocast)
    tf32: bool
    precision: str  # fp32 | tf32 | fp16 | bf16

    @property
    def weight_bytes(self) -> int:
        return 4 if self.weights == "float32" else 2

    @property
    def activation_bytes(self) -> int:
        """Bytes per element of the activations the matmuls produce (autocast: the half type)."""
        return 2 if self.autocast or self.weights != "float32" else 4


DTYPES: dict[str, DType] = {d.name: d for d in (
    DType("fp32", "float32", None, False, "fp32"),
    DType("tf32", "float32", None, True, "tf32"),
    DType("fp16", "float16", None, False, "fp16"),
    DType("bf16", "bfloat16", None, False, "bf16"),
    DType("amp-fp16", "float32", "float16", False, "fp16"),
    DType("amp-bf16", "float32", "bfloat16", False, "bf16"),
)}
NAMES: tuple[str, ...] = tuple(DTYPES)
# Dtypes a training step runs in: fp16 weights cannot be trained (torch.amp.GradScaler refuses fp16 gradients and
# there is no fp32 master copy); amp-fp16 is the fp16 training mode.
TRAIN_NAMES: tuple[str, ...] = tuple(n for n in NAMES if n != "fp16")
