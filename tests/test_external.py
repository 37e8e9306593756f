"""External model names, the optional-package errors, and the describe/count path on a stand-in module.

The real timm and torchvision models are tested in tests/external/ (`make test-external`)."""

import subprocess
import sys
import types

import pytest

from vitbench import external
from vitbench.component_map import NotCovered
from vitbench.cost import analytic
from vitbench.errors import VitbenchError


def test_parse_names():
    assert external.parse("timm:vit_base_patch16_224") == ("timm", "vit_base_patch16_224")
    assert external.parse("torchvision: vit_b_16 ") == ("torchvision", "vit_b_16")
    assert external.parse("vit_b16") is None
    assert external.is_external("timm:x") and not external.is_external("vit_b16")
    with pytest.raises(VitbenchError, match="valid: timm:NAME, torchvision:NAME"):
        external.parse("hf:vit")
    with pytest.raises(VitbenchError, match="missing model name after timm:"):
        external.parse("timm:")


def test_missing_package_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm -> ImportError
    with pytest.raises(VitbenchError, match=r"optional package 'timm'.*pip install timm") as e:
        external.describe("timm:vit_base_patch16_224")
    assert "\n" not in str(e.value)


def test_reading_names_and_closed_form_import_no_torch():
    code = ("import sys, vitbench.external, vitbench.cost.external, vitbench.cost.peers, vitbench.components; "
            "vitbench.external.parse('timm:x'); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def _fake_timm(monkeypatch, **overrides):
    """A stand-in `timm` whose create_model returns vitbench's own ViT (a module vitbench can read)."""
    from vitbench.model import VisionTransformer
    from vitbench.zoo import resolve

    def create_model(name, pretrained=False, img_size=None):
        assert pretrained is False
        return VisionTransformer(resolve("vit_ti16", res=img_size or (32, 32), depth=2, dim=64, heads=4,
                                         **overrides))

    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(create_model=create_model))


def test_describe_and_count_a_module_vitbench_reads(monkeypatch):
    _fake_timm(monkeypatch, registers=2)
    ext = external.describe("timm:fake", (48, 32))
    assert ext.covered and ext.not_covered == () and ext.img_size == (48, 32) and ext.in_chans == 3
    cfg = ext.arch.cfg
    assert cfg.name == "timm:fake" and ext.numel == analytic.params(cfg).total
    assert external.params(ext) == analytic.params(cfg)
    closed = external.count(ext, "analytic")
    for counter in ("fvcore", "torch"):
        for device in ("meta", "cpu"):
            got = external.count(ext, counter, device, batch=2)
            assert [getattr(got, c) for c in ("patch_embed", "attn_proj", "attn_core", "mlp", "head", "other")] \
                == [getattr(closed, c) for c in ("patch_embed", "attn_proj", "attn_core", "mlp", "head", "other")]
    with pytest.raises(VitbenchError, match="unknown counter"):
        external.count(ext, "thop")
    with pytest.raises(VitbenchError, match="batch must be a positive integer"):
        external.count(ext, "torch", batch=0)


def test_not_covered_names_the_part_and_counters_still_count():
    ext = external.ExternalModel("timm:odd", (32, 32), 3, 10, None, ("pooling 'map'",))
    with pytest.raises(NotCovered, match="not covered: pooling 'map'; use --counter fvcore or torch"):
        external.macs(ext)
    with pytest.raises(NotCovered):
        external.params(ext)


def test_bench_configs_come_from_the_subject(monkeypatch):
    from vitbench.cli.options import build_configs
    from vitbench.subject import external_subject

    _fake_timm(monkeypatch)
    external_subject.cache_clear()
    assert build_configs("timm:fake", ["32"], {})[0].dim == 64
