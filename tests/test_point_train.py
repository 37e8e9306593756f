"""Train points in vitbench.measure.point (CPU): the row's keys and cost, compiled training steps, and
checkpointing's effect on the measured peak. CUDA checks are marked gpu."""

import pytest
import torch

from vitbench.cost.memory import MIB, training_memory
from vitbench.measure.point import context_fields, run_point, wants
from vitbench.measure.spec import BenchSpec
from vitbench.zoo import resolve

CPU_FLASH = "_scaled_dot_product_flash_attention_for_cpu"
FAST = dict(warmup=1, min_warmup_s=0.0, iters=2, min_time_s=0.0)


def micro(**changes):
    return resolve("vit_ti16", **{"res": 16, "patch": 8, "depth": 2, "dim": 32, "heads": 2, **changes})


def test_a_train_rows_context_carries_its_key_training_macs_and_the_bound():
    cfg = micro()
    spec = BenchSpec(batch=3, device="cpu", mode="train", optimizer="sgd", grad_checkpoint=True)
    fields = context_fields(cfg, spec, "cpu", ("params", "flops", "latency", "memory"))
    assert (fields["mode"], fields["optimizer"], fields["grad_checkpoint"]) == ("train", "sgd", True)
    assert fields["macs_train"] == 3 * fields["macs"] - fields["macs_patch_embed"]
    bound = training_memory(cfg, 3, "fp32", "sdpa", "sgd", True, "cpu").peak_lower_bound
    assert fields["mem_peak_pred_mib"] == bound / MIB
    infer = context_fields(cfg, BenchSpec(batch=3, device="cpu"), "cpu", ("params", "latency"))
    assert infer["optimizer"] is None and "macs_train" not in infer and "mem_peak_pred_mib" not in infer


def test_train_points_skip_the_forward_split():
    assert not wants(BenchSpec(mode="train", split=True), ("latency", "split")).split
    assert wants(BenchSpec(split=True), ("latency",)).split


def test_a_training_step_takes_longer_than_the_same_points_forward():
    """Issue 14, done when: the train row of `bench --model vit_ti16 --res 64 --batch 4` is slower than the
    infer row of the same point. A step is forward + backward (2.98 × the forward's MACs here) + loss + AdamW.
    On a shared CPU a whole measurement can be descheduled (a forward measured at 1.5 s minimum once, against
    its usual 20-40 ms), so the two are measured interleaved in one process, three rounds each, and compared
    on their fastest samples (load only adds time), with a margin of 1.5 ×, half the MAC ratio."""
    cfg = resolve("vit_ti16", 64)
    fastest = {"infer": [], "train": []}
    for _ in range(3):
        for mode in fastest:
            spec = BenchSpec(batch=4, device="cpu", mode=mode, memory=False, warmup=1, min_warmup_s=0.0, iters=5,
                             min_time_s=0.0)
            measured = run_point(cfg, spec, ("latency",))
            assert measured.row["status"] == "ok" and measured.row["mode"] == mode, measured.row["error"]
            fastest[mode].append(min(measured.samples["latency_ms"]))
    assert min(fastest["train"]) > 1.5 * min(fastest["infer"]), fastest


@pytest.mark.slow
def test_a_compiled_training_step_is_one_graph_forward_and_backward():
    """--compile --mode train: the compiling call is a whole step (the backward graph compiles at its first
    backward), nothing recompiles while timing, the profiled step shows the kernel, and the saved tensors of the
    compiled graph are counted (saved_tensors_hooks see AOTAutograd's saved tensors)."""
    spec = BenchSpec(batch=2, device="cpu", mode="train", compile=True, grad_checkpoint=True, memory=False, **FAST)
    row = run_point(micro(), spec, ("latency",)).row
    assert row["status"] == "ok", row["error"]
    assert row["compile_graphs"] >= 1 and row["compile_s"] > 0 and row["attn_kernel"] == CPU_FLASH
    assert row["n_iters"] == 2 and row["macs_train"] is None  # cost columns only when asked


@pytest.mark.slow
def test_checkpointed_and_plain_rows_on_cpu_carry_the_measured_split_and_respect_the_bound():
    """ViT-Ti/16 (12 blocks) at 128 px, batch 16: the saved activations a row reports (tensor bytes of the
    measured step) are the memory model's, 148 MiB plain and 11 MiB checkpointed; the peak RSS above the base
    is at least the closed-form bound in both. That checkpointing lowers the measured *peak* is asserted on the
    tensor-level peak (tests/test_train.py) and on CUDA's allocator peak (below): CPU peak RSS also holds
    torch's own memory, the profiler's and glibc's free pages, which moved a checkpointed run's peak by up to
    300 MiB between runs here (docs/training.md)."""
    cfg = resolve("vit_ti16", 128)
    for ckpt in (False, True):
        spec = BenchSpec(batch=16, device="cpu", mode="train", grad_checkpoint=ckpt, warmup=0, min_warmup_s=0.0,
                         iters=1, min_time_s=0.0)
        row = run_point(cfg, spec, ("memory",)).row
        assert row["status"] == "ok", row["error"]
        mem = training_memory(cfg, 16, grad_checkpoint=ckpt, device="cpu")
        assert row["mem_activations_mib"] == mem.activations / MIB
        assert row["mem_peak_mib"] - row["mem_base_mib"] >= row["mem_peak_pred_mib"] == mem.peak_lower_bound / MIB


@pytest.mark.gpu
def test_cuda_checkpointing_lowers_the_allocator_peak_by_most_of_the_prediction():
    """On CUDA the peak is max_memory_allocated across the timed steps: tensor bytes, so the measured saving is
    the predicted one less what checkpointing adds at its peak (all gradients and one block's backward)."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    cfg = resolve("vit_b16", 224)
    peaks, bounds = {}, {}
    for ckpt in (False, True):
        spec = BenchSpec(batch=32, device="cuda", dtype="amp-bf16", mode="train", grad_checkpoint=ckpt, **FAST)
        row = run_point(cfg, spec, ("latency", "memory")).row
        assert row["status"] == "ok", row["error"]
        peaks[ckpt], bounds[ckpt] = row["mem_peak_mib"] - row["mem_base_mib"], row["mem_peak_pred_mib"]
        assert peaks[ckpt] >= bounds[ckpt]
    mem = training_memory(cfg, 32, "amp-bf16", "sdpa", "adamw", True, "cuda")
    assert peaks[False] - peaks[True] >= bounds[False] - bounds[True] - (mem.gradients + mem.recompute) / MIB
