"""The device grammar, defined once: `auto`, `cpu`, `cuda`, `cuda:N`. Parsing is torch-free; `resolve` imports
torch to check the device exists (and turns `auto` into `cuda` or `cpu`)."""

from __future__ import annotations

import re

from vitbench.errors import VitbenchError

PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"
_RE = re.compile(PATTERN)
VALID = "auto, cpu, cuda, cuda:N"


def parse(name: str) -> str:
    """The device name normalised (lower case, stripped); VitbenchError naming the valid forms otherwise."""
    text = str(name).strip().lower()
    if not _RE.match(text):
        raise VitbenchError(f"unknown device {name!r}; valid: {VALID}")
    return text


def kind(device: str) -> str:
    """'cuda' for cuda / cuda:N, else the name itself ('cpu', 'meta')."""
    return "cuda" if str(device).startswith("cuda") else str(device)


def is_cuda(device: str) -> bool:
    return kind(device) == "cuda"


def resolve(name: str) -> str:
    """'auto' -> 'cuda' if available else 'cpu'; 'cpu'; 'cuda' / 'cuda:i' checked against this machine."""
    text = parse(name)
    if text == "cpu":
        return "cpu"
    import torch

    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        why = "torch is built without CUDA" if torch.version.cuda is None else "no GPU is visible"
        raise VitbenchError(f"device {name!r} needs CUDA, which is not available ({why}); valid here: auto, cpu")
    count = torch.cuda.device_count()
    index = text.partition(":")[2]
    if index and int(index) >= count:
        raise VitbenchError(f"device {name!r} does not exist; valid: cuda:0 .. cuda:{count - 1}")
    return text


def device_name(device: str) -> str:
    """The GPU's name (CUDA; imports torch) or the CPU model."""
    if is_cuda(device):
        import torch

        return torch.cuda.get_device_name(device)
    from vitbench.environment import cpu_name

    return cpu_name()
