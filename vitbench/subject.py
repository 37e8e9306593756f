"""What the cost commands and result rows need about one model at one resolution, whichever library it comes
from: a zoo config (vitbench's closed form, torch-free) or `timm:NAME` / `torchvision:NAME` (vitbench.external:
the module read on the meta device, priced by its own closed form, or counted where the closed form does not
cover it). One place decides; `params`, `flops`, `split`, bench rows and sweep rows all ask here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

from vitbench.cost import analytic
from vitbench.cost.analytic import Crossover
from vitbench.cost.breakdown import MATMUL_COMPONENTS, Breakdown, ParamBreakdown
from vitbench.errors import VitbenchError
from vitbench.zoo import ViTConfig


@dataclass(frozen=True)
class Subject:
    """A model at one resolution. `cfg`: its ViTConfig (for an external model, its reading of itself: name,
    patch, size, width, depth, heads...; None where vitbench's closed form does not cover it). `external`: the
    vitbench.external.ExternalModel, or None for the zoo."""

    name: str
    img_size: tuple[int, int]
    cfg: Optional[ViTConfig]
    external: object = None

    @property
    def covered(self) -> bool:
        """The closed form describes the model (always, for the zoo)."""
        return self.cfg is not None

    def require_cfg(self) -> ViTConfig:
        if self.cfg is None:
            raise VitbenchError(f"the closed form does not cover {self.name} (not covered: "
                                f"{'; '.join(self.external.not_covered)}); count it with --counter fvcore or torch")
        return self.cfg

    @property
    def tokens(self) -> Optional[int]:
        """N seen by every block (an external model without [CLS] has one token fewer than its cfg says)."""
        if self.external is not None:
            return self.external.arch.tokens if self.external.arch else None
        return self.cfg.tokens

    @property
    def prefix_tokens(self) -> int:
        """Tokens that are not patches ([CLS], distillation token, registers)."""
        if self.external is not None:
            return self.external.require_covered().num_prefix_tokens
        return self.cfg.num_prefix_tokens

    def params(self) -> ParamBreakdown:
        """Exact parameters by component (NotCovered, one line, where an external model's closed form cannot
        say; its total is still `numel`)."""
        if self.external is None:
            return analytic.params(self.cfg)
        from vitbench import external

        return external.params(self.external)

    @property
    def params_total(self) -> int:
        return self.external.numel if self.external is not None else analytic.params(self.cfg).total

    def count(self, counter: str = "analytic", device: str = "meta", batch: int = 1) -> Breakdown:
        """MACs per image from the closed form or a counter (vitbench.cost.counters)."""
        if self.external is None:
            from vitbench.cost.counters import count

            return count(self.cfg, counter, device, batch)
        from vitbench import external

        return external.count(self.external, counter, device, batch)

    def macs(self) -> Breakdown:
        """Closed-form MACs per image (an uncovered external model: FlopCounterMode on meta, exact)."""
        if self.external is None:
            return analytic.macs(self.cfg)
        return self.count("analytic" if self.covered else "torch")

    def peers(self, device: str = "cpu", batch: int = 1):
        """What plain fvcore and FlopCounterMode report for this model (vitbench.cost.peers), run as their users
        run them: a real forward on `device`, no vitbench handles. Returns [PeerCount, PeerCount]."""
        if self.external is not None:
            from vitbench import external

            return external.peers(self.external, device, batch)[1]
        from vitbench.cost.counters import check_count_args
        from vitbench.cost.peers import peer_counts
        from vitbench.model import build_model, example_input

        check_count_args(device, batch)
        return peer_counts(build_model(self.cfg, device), example_input(self.cfg, batch, device))

    def crossovers(self) -> tuple[Crossover, Crossover]:
        if self.external is None:
            return analytic.crossovers(self.cfg)
        from vitbench import external

        return external.crossovers(self.external)

    def config_row(self) -> dict:
        """The config columns of a result row (tokens: what the blocks see; only the name and the resolution
        for a model the closed form does not cover)."""
        if self.cfg is None:
            return {"model": self.name, "res_h": self.img_size[0], "res_w": self.img_size[1]}
        return {**self.cfg.to_row(), "tokens": self.tokens}

    def cost_row(self) -> dict:
        """The exact cost columns of a result row: params, MACs per image by component, attention-core share."""
        m = self.macs()
        return {"params": self.params_total, "macs": m.total, **{f"macs_{c}": getattr(m, c) for c in MATMUL_COMPONENTS},
                "attn_core_share": round(m.share("attn_core"), 6)}


def subjects(model: str, res: Optional[list[str]], given: dict) -> list[Subject]:
    """One Subject per requested resolution (the model's own when none is given). Zoo overrides (`given`,
    ViTConfig field -> value or None) apply to zoo models only."""
    from vitbench.zoo import parse_res, resolve

    sizes = [parse_res(r) for r in res] if res else [None]
    if ":" not in model:
        return [zoo_subject(resolve(model, size, **given)) for size in sizes]
    set_ = sorted(k for k, v in given.items() if v is not None)
    if set_:
        raise VitbenchError(f"overrides ({', '.join('--' + k.replace('_', '-') for k in set_)}) apply to zoo models "
                            f"only, not {model}")
    return [external_subject(model, size) for size in sizes]


@functools.lru_cache(maxsize=64)
def external_subject(model: str, img_size: Optional[tuple[int, int]] = None) -> Subject:
    """An external model read on meta (built once per process and size: reading costs a module build)."""
    from vitbench import external

    ext = external.describe(model, img_size)
    return Subject(ext.name, tuple(ext.img_size), ext.arch.cfg if ext.arch else None, ext)


def zoo_subject(cfg: ViTConfig) -> Subject:
    return Subject(cfg.name, cfg.img_size, cfg)


def for_config(cfg: ViTConfig) -> Subject:
    """The Subject of a point's config (an external name is read again, once per process and size)."""
    if ":" in cfg.name:
        return external_subject(cfg.name, cfg.img_size)
    return zoo_subject(cfg)
