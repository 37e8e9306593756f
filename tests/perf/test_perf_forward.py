"""Forward latency of small ViTs (pytest-benchmark). CPU always; CUDA when present (synchronised per call)."""

import pytest
import torch

from vitbench.model import build_model, example_input
from vitbench.zoo import resolve

pytestmark = pytest.mark.perf

CONFIGS = {
    "D64-L2-32px": resolve("vit_ti16", res=32, depth=2, dim=64, heads=4),    # 5 tokens
    "Ti16-L2-64px": resolve("vit_ti16", res=64, depth=2),                    # 17 tokens
    "Ti8-L2-64px": resolve("vit_ti16", res=64, depth=2, patch=8),            # 65 tokens
}


def _forward(cfg, device, attn, batch=2):
    model = build_model(cfg, device, attn_impl=attn)
    x = example_input(cfg, batch, device)

    def run():
        with torch.inference_mode():
            out = model(x)
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    return run


@pytest.mark.benchmark(group="forward-cpu", warmup=True, warmup_iterations=5)
@pytest.mark.parametrize("attn", ["sdpa", "manual"])
@pytest.mark.parametrize("name", CONFIGS)
def test_forward_cpu(benchmark, name, attn):
    cfg = CONFIGS[name]
    out = benchmark(_forward(cfg, "cpu", attn))
    assert out.shape == (2, cfg.num_classes) and torch.isfinite(out).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.benchmark(group="forward-cuda", warmup=True, warmup_iterations=20)
@pytest.mark.parametrize("attn", ["sdpa", "manual"])
@pytest.mark.parametrize("name", CONFIGS)
def test_forward_cuda(benchmark, name, attn):
    cfg = CONFIGS[name]
    out = benchmark(_forward(cfg, "cuda", attn))
    assert out.shape == (2, cfg.num_classes)
