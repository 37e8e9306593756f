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


@pytest.mark.slow
def test_a_compiled_training_step_is_one_graph_forward_and_backward():
    """--compile --mode train: the compiling call is a whole step (the backward graph compiles at its first
    backward), nothing recompiles while timing, the profiled step shows the kernel, and the saved tensors of the
    compiled graph are counted (saved_tensors_hooks see AOTAutograd's saved tensors)."""
    torch.set_num_threads(1)
    spec = BenchSpec(batch=2, device="cpu", mode="train", compile=True, grad_checkpoint=True, memory=False, **FAST)
    row = run_point(micro(), spec, ("latency",)).row
    assert row["status"] == "ok", row["error"]
    assert row["compile_graphs"] >= 1 and row["compile_s"] > 0 and row["attn_kernel"] == CPU_FLASH
    assert row["n_iters"] == 2 and row["macs_train"] is None  # cost columns only when asked


@pytest.mark.slow
def test_checkpointing_lowers_the_measured_peak_of_a_deep_model():
    """ViT-Ti/16 (12 blocks) at 224 px, batch 16: the memory model predicts 380 MiB less with checkpointing
    (449 MiB of saved activations become 32 MiB of block inputs plus 37 MiB recomputed for one block). On CPU
    the measured peak is the child's RSS, whose non-tensor part moves between runs: torch's profiler (the
    attention-kernel step) adds 60-80 MiB, glibc keeps freed heap pages, and with checkpointing the peak is set
    by one or the other. Measured savings here: 190-333 MiB; the test asks for a third of the prediction."""
    cfg = resolve("vit_ti16", 224)
    peaks, bounds = {}, {}
    for ckpt in (False, True):
        spec = BenchSpec(batch=16, device="cpu", mode="train", grad_checkpoint=ckpt, warmup=0, min_warmup_s=0.0,
                         iters=1, min_time_s=0.0)
        row = run_point(cfg, spec, ("memory",)).row
        assert row["status"] == "ok", row["error"]
        peaks[ckpt], bounds[ckpt] = row["mem_peak_mib"] - row["mem_base_mib"], row["mem_peak_pred_mib"]
        assert peaks[ckpt] >= bounds[ckpt]
    assert bounds[False] - bounds[True] == pytest.approx(379.5, abs=0.1)
    assert peaks[False] - peaks[True] > (bounds[False] - bounds[True]) / 3, peaks


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
