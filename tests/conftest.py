import pytest

from vitbench.zoo import resolve


@pytest.fixture
def tiny():
    """A ViT small enough for a CPU forward in milliseconds."""
    return resolve("vit_ti16", res=32, depth=2, dim=64, heads=4)
