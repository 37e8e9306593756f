"""Tests with the real timm and torchvision models (`make test-external`, its own venv). Every module here sets
`pytestmark = pytest.mark.external` and skips itself when timm or torchvision is not installed, so the default
`make test` (CPU torch, no timm) reports them as skipped."""

import pytest


@pytest.fixture
def timm_tiny():
    """timm's ViT-Ti/16 at 32 px: a real timm module small enough for CPU forwards in milliseconds."""
    from vitbench import external

    return external.describe("timm:vit_tiny_patch16_224", (32, 32))
