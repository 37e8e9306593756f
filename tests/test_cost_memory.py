"""The memory model (vitbench.cost.memory): by hand, and equal to the bytes a real CPU training step holds
(parameters, gradients, optimizer state, inputs, and the unique storages autograd saves) for every dtype,
attention path, optimizer and checkpointing choice it covers."""

import pytest

from vitbench.cost.analytic import params
from vitbench.cost.memory import (MIB, activation_bytes, inference_lower_bound_bytes, param_tensors, saved_tensors,
                                  trained_params, training_memory)
from vitbench.errors import VitbenchError
from vitbench.zoo import resolve


def test_activations_by_hand_fp32_fused():
    cfg = resolve("vit_ti16", 32, depth=2, num_classes=10)  # N = 5, D = 192, F = 768, h = 3
    per_token = (8 * 192 + 2 * 768) * 4 + 4 * 4 + 3 * 4  # 8D + 2F activations, 4 LayerNorm stats, logsumexp
    blocks = 2 * 2 * 5 * per_token  # depth × batch × tokens
    head = 2 * (5 * 192 * 4 + 2 * 5 * 4 + 5 * 192 * 4)  # final norm input + stats + its output (a cls view)
    loss = 2 * 10 * 4 + 4  # log_softmax output per image, total_weight once
    assert training_memory(cfg, 2, "fp32", "sdpa", device="cpu").activations == blocks + head + loss == 261_844


def test_materialised_attention_keeps_h_n_squared_per_block():
    cfg = resolve("vit_b16", 384)  # N = 577
    fused = training_memory(cfg, 1, "amp-bf16", "flash").activations
    manual = training_memory(cfg, 1, "amp-bf16", "manual").activations
    n, d, h = 577, 768, 12
    per_block = (4 + 2) * h * n * n - 4 * h * n  # CUDA amp: P in fp32 + its bf16 copy, instead of the logsumexp
    assert manual - fused == cfg.depth * per_block


def test_weights_gradients_optimizer_by_hand():
    cfg = resolve("vit_b16", 224)
    p = params(cfg).total
    adamw = training_memory(cfg, 8, "amp-bf16", optimizer="adamw", device="cuda")
    assert (adamw.weights, adamw.gradients, adamw.optimizer_state, adamw.optimizer_steps) == (4 * p, 4 * p, 8 * p, 0)
    sgd = training_memory(cfg, 8, "bf16", optimizer="sgd", device="cpu")
    assert (sgd.weights, sgd.gradients, sgd.optimizer_state, sgd.optimizer_steps) == (2 * p, 2 * p, 2 * p, 0)
    assert training_memory(cfg, 8, "fp32", device="cpu").optimizer_steps == 4 * param_tensors(cfg) == 4 * 152
    assert sgd.inputs == 8 * (3 * 224 * 224 * 2 + 8)


def test_checkpointing_keeps_block_inputs_and_recomputes_one_block():
    cfg = resolve("vit_s16", 224)
    plain = training_memory(cfg, 4, "fp32", "sdpa")
    ckpt = training_memory(cfg, 4, "fp32", "sdpa", grad_checkpoint=True)
    block_input = 4 * cfg.tokens * cfg.dim * 4
    one_block = (plain.activations - ckpt.activations) // cfg.depth + block_input
    assert ckpt.recompute == one_block and plain.recompute == 0
    assert ckpt.peak_lower_bound == ckpt.held_end_of_forward + one_block < plain.peak_lower_bound


def test_unused_distillation_head_gets_no_gradient():
    cfg = resolve("deit_ti16", 64, pool="gap")
    assert trained_params(cfg) == params(cfg).total - (192 * 1000 + 1000)
    assert trained_params(resolve("deit_ti16", 64)) == params(resolve("deit_ti16", 64)).total


def test_terms_are_listed_with_where_they_live():
    terms = saved_tensors(resolve("vit_ti16", 32, depth=2), "amp-bf16", "manual", device="cuda")
    assert {t.where for t in terms} == {"block", "stem", "head", "loss", "weights"}
    assert [t.nbytes for t in terms if t.what.startswith("softmax")] == [4, 2]
    assert activation_bytes([t for t in terms if t.where == "loss"], depth=12, batch=3) == 3 * 1000 * 4 + 4


def test_bad_inputs():
    cfg = resolve("vit_ti16", 32)
    for kwargs, match in ((dict(dtype="fp16"), "amp-fp16"), (dict(optimizer="lamb"), "unknown optimizer"),
                          (dict(device="tpu"), "device must be")):
        with pytest.raises(VitbenchError, match=match):
            training_memory(cfg, 1, **kwargs)
    with pytest.raises(VitbenchError, match="classification head"):
        training_memory(resolve("vit_ti16", 32, num_classes=0), 1)


def test_inference_lower_bound_by_hand():
    cfg = resolve("vit_ti16", 512, depth=2)  # N = 1025: the scores dominate with math attention
    assert inference_lower_bound_bytes(cfg, 1000, 1, "fp32", "math") == 4000 + (4 * 1025 * 192 + 3 * 1025**2) * 4
    assert inference_lower_bound_bytes(cfg, 1000, 2, "amp-bf16", "sdpa") == 4000 + 2 * 1025 * (2 * 192 + 768) * 2
    assert inference_lower_bound_bytes(cfg, 1000, 1, "int8", "sdpa") is None
    assert MIB == 2**20


# Closed form vs a real CPU step: (config overrides, dtype, attn, grad_checkpoint, optimizer).
MEASURED = [
    ({}, "fp32", "sdpa", False, "adamw"), ({}, "fp32", "manual", False, "sgd"), ({}, "fp32", "math", False, "adamw"),
    ({}, "fp32", "sdpa", True, "adamw"), ({}, "bf16", "sdpa", False, "adamw"), ({}, "bf16", "math", False, "sgd"),
    ({}, "bf16", "manual", True, "adamw"), ({}, "amp-bf16", "sdpa", False, "adamw"),
    ({}, "amp-bf16", "manual", False, "adamw"), ({}, "amp-bf16", "math", False, "sgd"),
    ({}, "amp-bf16", "sdpa", True, "adamw"), ({}, "amp-fp16", "sdpa", False, "adamw"),
    (dict(pool="gap"), "fp32", "sdpa", False, "adamw"),
    (dict(registers=4, distill=True), "amp-bf16", "manual", False, "adamw"),
    (dict(distill=True, pool="gap"), "fp32", "sdpa", False, "sgd"),
    (dict(depth=3, distill=True, pool="gap", qkv_bias=False), "amp-bf16", "sdpa", True, "adamw"),
    (dict(depth=1, dim=96, heads=2, mlp_ratio=2.5), "bf16", "manual", False, "sgd"),
]
FIELDS = ("weights", "gradients", "optimizer_state", "optimizer_steps", "inputs", "activations", "amp_weight_copies")


@pytest.mark.parametrize("overrides,dtype,attn,ckpt,optimizer", MEASURED, ids=str)
def test_closed_form_equals_a_measured_cpu_step(overrides, dtype, attn, ckpt, optimizer):
    """Exact to the byte: saved tensors counted once per storage at its full size, no allocator in between."""
    from vitbench.measure.backends import weight_dtype
    from vitbench.measure.train import make_inputs, make_train_step, measure_train_memory, train_context
    from vitbench.model import build_model

    cfg = resolve("vit_ti16", "32x48", **{"depth": 2, "num_classes": 7, **overrides})
    model = build_model(cfg, "cpu", attn_impl="manual" if attn == "manual" else "sdpa", dtype=weight_dtype(dtype))
    x, labels = make_inputs(cfg, 3, "cpu", dtype)
    step = make_train_step(model, x, labels, dtype=dtype, optimizer=optimizer, grad_checkpoint=ckpt)
    with train_context(dtype, attn, "cpu"):
        step()  # the optimizer state exists from the first step on
        measured = measure_train_memory(step)
    predicted = training_memory(cfg, 3, dtype, attn, optimizer, ckpt, device="cpu")
    assert {f: getattr(measured, f) for f in FIELDS} == {f: getattr(predicted, f) for f in FIELDS}
    assert measured.allocated_by_forward is None and measured.peak_allocated is None  # CPU: no allocator stats
