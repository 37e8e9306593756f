"""What to measure at one point, besides the model config. No torch.

The sweep runner and `vitbench bench` both describe a point with a `ViTConfig` plus a `BenchSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass

DTYPES = ("fp32", "tf32", "fp16", "bf16", "amp-fp16", "amp-bf16")
ATTN_BACKENDS = ("sdpa", "flash", "efficient", "cudnn", "math", "manual")
MEASURES = ("params", "flops", "split", "latency", "memory")
MODES = ("infer", "train")
RUNTIME_MEASURES = ("latency", "memory")  # the measures that run the model; the rest are closed form


@dataclass(frozen=True)
class BenchSpec:
    """Runtime settings of one measured point.

    device: 'auto' | 'cpu' | 'cuda' | 'cuda:i'. attn: 'sdpa' lets torch choose the kernel; flash / efficient /
    cudnn / math pin it with torch.nn.attention.sdpa_kernel; 'manual' materialises the N×N matrix.
    warmup: iterations before timing; min_warmup_s: and at least this long. iters: timed iterations;
    min_time_s: keep timing until this long has passed too. split: also time the components (hooks).
    memory: measure peak memory. isolate: run the point in a child process.
    """

    batch: int = 1
    device: str = "auto"
    dtype: str = "fp32"
    attn: str = "sdpa"
    compile: bool = False
    warmup: int = 10
    min_warmup_s: float = 0.5
    iters: int = 50
    min_time_s: float = 0.0
    split: bool = False
    memory: bool = True
    isolate: bool = False
    mode: str = "infer"
