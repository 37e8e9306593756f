"""Models from other libraries, ``timm:NAME`` and ``torchvision:NAME`` (optional dependencies).

`describe` builds the model on the meta device (no memory, ``pretrained=False`` / ``weights=None``: nothing is
downloaded), reads its architecture into an `ExternalArch` (`vitbench.external_arch`) and checks the closed
form's parameter count against the module's ``numel()``. Where the closed form cannot describe the model,
`ExternalModel.not_covered` says which part, and `count` falls back to the counters (fvcore, FlopCounterMode),
which attribute by module structure (`vitbench.component_map`) and report what they cannot place as ``other``.

No torch at import: `parse` and `is_external` serve torch-free callers; everything that builds imports torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from vitbench.component_map import NotCovered
from vitbench.cost import external as closed_form
from vitbench.cost.analytic import Crossover
from vitbench.cost.breakdown import Breakdown, ParamBreakdown
from vitbench.errors import VitbenchError

SOURCES = ("timm", "torchvision")


def parse(model: str) -> tuple[str, str] | None:
    """'timm:vit_base_patch16_224' -> ('timm', 'vit_base_patch16_224'); a zoo name -> None."""
    if ":" not in model:
        return None
    source, name = model.split(":", 1)
    if source not in SOURCES:
        raise VitbenchError(f"unknown model source {source!r} in {model!r}; valid: timm:NAME, torchvision:NAME "
                            f"or a zoo name (see `vitbench models`)")
    if not name.strip():
        raise VitbenchError(f"missing model name after {source}: in {model!r}; e.g. {source}:vit_b_16")
    return source, name.strip()


def is_external(name: str) -> bool:
    return ":" in name and name.split(":", 1)[0] in SOURCES


def require(source: str):
    """Import the optional package or fail with a one-line hint."""
    try:
        return importlib.import_module(source)
    except ImportError:
        raise VitbenchError(f"--model {source}:NAME needs the optional package {source!r}, which is not "
                            f"installed; install it (pip install {source}) or use a zoo model") from None


def create(source: str, name: str, img_size: tuple[int, int] | None = None, device: str = "meta"):
    """The library's model in eval mode on `device`, random weights (on meta: none allocated)."""
    import torch

    lib = require(source)
    kwargs = {}
    if img_size is not None:
        if source == "torchvision" and img_size[0] != img_size[1]:
            raise VitbenchError(f"torchvision's ViT takes square images only, got {img_size[0]}x{img_size[1]}")
        kwargs = {"img_size": tuple(img_size)} if source == "timm" else {"image_size": img_size[0]}
    try:
        with torch.device(device):
            if source == "timm":
                model = lib.create_model(name, pretrained=False, **kwargs)
            else:
                model = lib.models.get_model(name, weights=None, **kwargs)
    except (RuntimeError, ValueError, KeyError, TypeError, AssertionError) as e:
        first = str(e).splitlines()[0] if str(e) else repr(e)
        raise VitbenchError(f"{source} cannot build {name!r}: {first}") from None
    return model.eval()


@dataclass(frozen=True)
class ExternalModel:
    """An external model as built on meta: its closed-form architecture when covered, else why not.

    `numel`: the module's parameter count (sum of numel()), always known. `img_size`: (height, width) of its
    input; `in_chans`: input channels; `requested`: the size asked for at build (None: the model's default)."""

    name: str
    img_size: tuple[int, int]
    in_chans: int
    numel: int
    arch: closed_form.ExternalArch | None
    not_covered: tuple[str, ...] = ()
    requested: tuple[int, int] | None = None
    _meta: list = field(default_factory=list, compare=False, repr=False)  # the module built on meta, reused

    def meta_module(self):
        """The module on the meta device, built once and shared by counts (do not modify it; `build` gives a
        fresh one)."""
        if not self._meta:
            self._meta.append(self.build("meta"))
        return self._meta[0]

    @property
    def source(self) -> str:
        return self.name.split(":", 1)[0]

    @property
    def covered(self) -> bool:
        """The closed form describes the model (params equal numel, MACs equal both counters')."""
        return self.arch is not None

    def require_covered(self) -> closed_form.ExternalArch:
        if self.arch is None:
            raise NotCovered(f"the closed form does not cover {self.name}: not covered: "
                             f"{'; '.join(self.not_covered)}; use --counter fvcore or torch")
        return self.arch

    def build(self, device: str = "meta", dtype=None):
        """The module on `device` (random weights; eval mode), cast to `dtype` if given."""
        source, name = parse(self.name)
        model = create(source, name, self.requested, device)
        return model if dtype is None else model.to(dtype)

    def example_input(self, batch: int = 1, device: str = "meta", dtype=None):
        """A (batch, C, H, W) input (empty on meta, random elsewhere)."""
        import torch

        shape = (batch, self.in_chans, *self.img_size)
        if torch.device(device).type == "meta":
            return torch.empty(shape, device=device, dtype=dtype)
        return torch.randn(shape, device=device, dtype=dtype)


def describe(model: str, img_size: tuple[int, int] | None = None) -> ExternalModel:
    """Build `model` ('timm:NAME' / 'torchvision:NAME') on meta at `img_size` (None: its default) and read it."""
    from vitbench.external_arch import read

    source, name = parse(model)
    module = create(source, name, img_size, "meta")
    numel = sum(p.numel() for p in module.parameters())
    arch, missing, size, in_chans = read(module, f"{source}:{name}")
    if arch is not None:
        closed = closed_form.params(arch).total
        if closed != numel:
            arch, missing = None, (f"parameters (closed form {closed:,}, module {numel:,})",)
    return ExternalModel(f"{source}:{name}", size, in_chans, numel, arch, tuple(missing),
                         None if img_size is None else tuple(img_size), [module])


def _described(model: str | ExternalModel, img_size=None) -> ExternalModel:
    return model if isinstance(model, ExternalModel) else describe(model, img_size)


def params(model: str | ExternalModel, img_size=None) -> ParamBreakdown:
    """Closed-form parameters by component; NotCovered (naming the part) where the closed form cannot say."""
    return closed_form.params(_described(model, img_size).require_covered())


def macs(model: str | ExternalModel, img_size=None) -> Breakdown:
    """Closed-form MACs per image by component; NotCovered where the closed form cannot say."""
    return closed_form.macs(_described(model, img_size).require_covered())


def crossovers(model: str | ExternalModel, img_size=None) -> tuple[Crossover, Crossover]:
    """Where the attention core overtakes the MLP and all dense layers (closed form)."""
    return closed_form.crossovers(_described(model, img_size).require_covered())


def count(model: str | ExternalModel, counter: str = "analytic", device: str = "meta", batch: int = 1,
          img_size=None) -> Breakdown:
    """One counter's MACs per image: 'analytic' (closed form), 'fvcore' or 'torch' (module built on `device`,
    a batch of `batch`, vitbench's SDPA handles, attribution by the component map)."""
    from vitbench.cost.counters import COUNTERS, check_count_args, count_module, too_large_is_bad_input

    ext = _described(model, img_size)
    if counter == "analytic":
        return macs(ext)
    if counter not in COUNTERS:
        raise VitbenchError(f"unknown counter {counter!r}; valid: {', '.join(COUNTERS)}, all")
    check_count_args(device, batch)
    with too_large_is_bad_input(device):
        model = ext.meta_module() if device == "meta" else ext.build(device)
        return count_module(model, ext.example_input(batch, device), counter)


def peers(model: str | ExternalModel, device: str = "cpu", batch: int = 1, img_size=None):
    """(vitbench's exact MACs per image, [plain fvcore, plain FlopCounterMode]) for the model built on `device`.

    Exact: the closed form where it covers the model, else FlopCounterMode with vitbench's fixes on meta. The
    peers run as a plain user runs them (see `vitbench.cost.peers`), on real tensors unless `device` is meta."""
    from vitbench.cost.counters import check_count_args
    from vitbench.cost.peers import peer_counts

    ext = _described(model, img_size)
    check_count_args(device, batch)
    exact = macs(ext) if ext.covered else count(ext, "torch", "meta", batch)
    return exact, peer_counts(ext.build(device), ext.example_input(batch, device))
