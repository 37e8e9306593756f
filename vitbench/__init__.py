"""vitbench: what a Vision Transformer costs, before and after training.

Light at import: nothing here imports torch. `build_model` imports it when called.
"""

__version__ = "0.1.0"


def build_model(cfg, device="cpu", attn_impl="sdpa", dtype=None):
    """Build `vitbench.model.VisionTransformer` for a `ViTConfig` (see vitbench.model.build_model)."""
    from vitbench.model import build_model as _build

    return _build(cfg, device=device, attn_impl=attn_impl, dtype=dtype)


from vitbench.cost.analytic import crossovers, macs, params  # noqa: E402
from vitbench.zoo import PRESETS, ViTConfig, preset, resolve  # noqa: E402

__all__ = ["PRESETS", "ViTConfig", "__version__", "build_model", "crossovers", "macs", "params", "preset", "resolve"]
