"""Every suite in suites/ validates, expands to the expected points, and stays small on a CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitbench.cost.analytic import macs
from vitbench.cost.training import training_macs
from vitbench.expansion import check_invalid, expand
from vitbench.suite import load_suite

SUITES = Path(__file__).resolve().parent.parent / "suites"
# name -> (points, measured on cpu, cost-only on cpu)
EXPECTED = {
    "patch_sizes": (4, 4, 0),
    "resolutions": (10, 3, 7),
    "zoo": (9, 7, 2),
    "attention_backends": (30, 12, 18),
    "ci_smoke": (4, 4, 0),
    "zoo_cost": (26, 0, 0),  # closed form only (the compare baseline's suite)
    "gpu_gate": (4, 0, 4),  # the CUDA regression gate: cost-only on a CPU
    "train": (24, 21, 3),  # patch 8 at 128 px: batch 4 and 8 train, batch 8 infer are cost-only on a CPU
}
# Forward passes on CPU, at most: GMACs per forward × (warm-up + timed + split-timed iterations + 1 probe).
# ~3000 GMACs is about a minute at the 40-80 GMAC/s a 2-core AVX-512 CPU sustains on ViT-B in fp32.
CPU_GMACS_BUDGET = 3000


def on_cpu(device: str) -> str:
    return "cpu" if device == "auto" else device


def on_cuda(device: str) -> str:
    return "cuda" if device == "auto" else device


def test_the_issue_suites_are_shipped():
    assert set(EXPECTED) <= {p.stem for p in SUITES.glob("*.yaml")}


@pytest.mark.parametrize("path", sorted(SUITES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_suite_validates_without_invalid_points(path):
    ls = load_suite(path)
    assert ls.suite.name == path.stem
    for resolver in (on_cpu, on_cuda):
        check_invalid(ls, expand(ls, resolver))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_suite_expands_to_the_expected_points(name):
    ls = load_suite(SUITES / f"{name}.yaml")
    assert ls.suite.name == name and ls.suite.description
    total, measured, cost_only = EXPECTED[name]
    cpu_points = expand(ls, on_cpu)
    check_invalid(ls, cpu_points)
    assert len(cpu_points) == total
    assert sum(p.plan == "measure" for p in cpu_points) == measured
    assert sum(p.plan == "cpu-cost" for p in cpu_points) == cost_only
    cuda_points = expand(ls, on_cuda)
    assert sum(p.plan == "measure" for p in cuda_points) == measured + cost_only  # the full suite on CUDA
    assert all(p.spec.device == "cpu" for p in cuda_points if p.cpu_overrides)  # cpu overrides only on cpu
    assert [p.cfg for p in cuda_points] == [p.cfg for p in cpu_points]


@pytest.mark.parametrize("path", sorted(SUITES.glob("*.yaml")), ids=lambda p: p.stem)
def test_cpu_work_stays_within_a_few_minutes(path):
    ls = load_suite(path)
    work = 0.0
    for p in expand(ls, on_cpu):
        if p.plan == "measure":
            forwards = 1 + p.spec.warmup + p.spec.iters + (p.spec.iters if p.spec.split else 0)
            if p.spec.mode == "train":  # gmacs_per_forward is a whole step's; + the profiled and phased steps
                forwards += 2
            work += p.gmacs_per_forward * forwards
            assert p.spec.min_warmup_s == 0 and p.spec.min_time_s == 0  # iteration counts bound the time
    assert work <= CPU_GMACS_BUDGET


def test_ci_smoke_is_tiny_and_measures_everything():
    ls = load_suite(SUITES / "ci_smoke.yaml")
    points = expand(ls, on_cpu)
    assert set(ls.suite.measure) == {"params", "flops", "split", "latency", "memory"}
    assert all(p.gmacs_per_forward < 0.1 for p in points)


def test_patch_sizes_matches_the_issue():
    points = expand(load_suite(SUITES / "patch_sizes.yaml"), on_cuda)
    assert [(p.cfg.name, p.cfg.patch, p.cfg.img_size) for p in points] == [
        ("vit_b16", 8, (224, 224)), ("vit_b16", 14, (224, 224)), ("vit_b16", 16, (224, 224)),
        ("vit_b16", 32, (224, 224))]
    assert [p.cfg.tokens for p in points] == [785, 257, 197, 50]


def test_attention_backends_spans_197_to_4097_tokens_with_every_backend():
    points = expand(load_suite(SUITES / "attention_backends.yaml"), on_cuda)
    assert {p.cfg.tokens for p in points} == {197, 577, 1025, 2305, 4097}
    assert {p.spec.attn for p in points} == {"sdpa", "flash", "efficient", "cudnn", "math", "manual"}


def test_gpu_gate_is_gpu_bound_and_times_for_a_second():
    ls = load_suite(SUITES / "gpu_gate.yaml")
    points = expand(ls, on_cuda)
    assert {p.cfg.img_size for p in points} == {(224, 224), (1024, 1024)}
    assert {p.spec.attn for p in points} == {"sdpa", "flash"}
    for p in points:
        assert p.plan == "measure" and p.cfg.name == "vit_b16" and p.spec.dtype == "bf16"
        assert p.spec.batch >= 32 and p.spec.min_warmup_s >= 1.0 and p.spec.min_time_s >= 1.0


def test_train_suite_pairs_every_train_point_with_its_inference():
    points = expand(load_suite(SUITES / "train.yaml"), on_cuda)
    keys = {(p.cfg, p.spec.batch, p.spec.mode) for p in points}
    assert {mode for _, _, mode in keys} == {"infer", "train"}
    assert all((cfg, batch, "infer") in keys for cfg, batch, mode in keys if mode == "train")
    assert {p.cfg.patch for p in points} == {8, 16} and {p.cfg.img_size[0] for p in points} == {64, 128}
    assert all(p.spec.optimizer == "adamw" for p in points if p.spec.mode == "train")
    for p in points:  # a train point's work is its step (forward + backward), an infer point's its forward
        per_image = training_macs(p.cfg).model if p.spec.mode == "train" else macs(p.cfg).total
        assert p.gmacs_per_forward == per_image * p.spec.batch / 1e9
