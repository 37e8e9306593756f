"""vitbench.measure.kernels: which attention kernel ran, read from one profiled forward; pins checked against it."""

import pytest
import torch

from vitbench.measure import backends, kernels
from vitbench.measure.kernels import KernelRecord, check_pin, classify, parse_label, pin_mismatch
from vitbench.model import build_model, example_input

CPU_FLASH = "_scaled_dot_product_flash_attention_for_cpu"


# ---- classify: pure, from op names and counts ----------------------------------------------------------------

def test_fused_op_is_the_kernel_and_inner_ops_do_not_double_count():
    r = classify({"aten::scaled_dot_product_attention": 12, "aten::_scaled_dot_product_flash_attention": 12,
                  "aten::_flash_attention_forward": 12, "aten::addmm": 48})
    assert r.kernels == ("_scaled_dot_product_flash_attention",) and r.calls == 12 and r.label == r.kernels[0]
    assert not r.fast_path


def test_inner_op_alone_names_its_outer_kernel():
    r = classify({"aten::_efficient_attention_forward": 4})
    assert r.label == "_scaled_dot_product_efficient_attention" and r.calls == 4


def test_math_backend_op_is_math_and_its_bmms_are_not_counted_twice():
    r = classify({"aten::_scaled_dot_product_attention_math": 2, "aten::bmm": 4, "aten::_softmax": 2})
    assert r.label == "math" and r.calls == 2


def test_separate_batched_matmuls_are_math_two_per_attention():
    assert classify({"aten::bmm": 24, "aten::_softmax": 12}).calls == 12
    assert classify({"bmm": 24}).label == "math"  # a compiled graph: inductor's own softmax kernel, extern bmm
    assert classify({"aten::bmm": 1}).label is None  # one bmm is not an attention


def test_mixed_kernels_are_all_listed_most_calls_first():
    r = classify({"aten::_scaled_dot_product_cudnn_attention": 2, "aten::_scaled_dot_product_flash_attention": 10})
    assert r.label == "_scaled_dot_product_flash_attention+_scaled_dot_product_cudnn_attention"


def test_mha_fast_path_is_flagged():
    r = classify({"aten::_native_multi_head_attention": 2, "aten::bmm": 4, "aten::_softmax": 2})
    assert r.fast_path and r.label == "_native_multi_head_attention/math"


def test_no_attention_op_means_no_label():
    r = classify({"aten::addmm": 10, "aten::gelu": 2})
    assert r.label is None and r.calls == 0 and r.ops == ()


@pytest.mark.parametrize("record", [
    classify({"aten::_scaled_dot_product_flash_attention": 2}),
    classify({"aten::_native_multi_head_attention": 2, "aten::bmm": 4}),
    classify({"aten::_scaled_dot_product_cudnn_attention": 1, "aten::_scaled_dot_product_flash_attention": 3}),
])
def test_label_round_trips(record):
    assert parse_label(record.label) == (record.kernels, record.fast_path)


# ---- pins ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attn, label", [
    ("flash", "_scaled_dot_product_flash_attention"), ("flash", CPU_FLASH),
    ("efficient", "_scaled_dot_product_efficient_attention"), ("cudnn", "_scaled_dot_product_cudnn_attention"),
    ("math", "math"), ("manual", "math"), ("sdpa", "_scaled_dot_product_efficient_attention"), ("sdpa", None),
])
def test_pins_that_ran_pass(attn, label):
    assert pin_mismatch(attn, label) is None


@pytest.mark.parametrize("attn, label, words", [
    ("math", "bmm-less", "pinned math but"),
    ("flash", "math", "pinned flash but math ran"),
    ("cudnn", "_scaled_dot_product_flash_attention", "pinned cudnn"),
    ("efficient", "_native_multi_head_attention/math", "fast path"),
    ("math", "_native_multi_head_attention/math", "ignores the math pin"),
    ("flash", None, "cannot be confirmed"),
    ("manual", CPU_FLASH, "fuse_attention"),
    ("flash", "_scaled_dot_product_flash_attention+math", "pinned flash"),
])
def test_pins_that_did_not_run_are_unsupported_with_the_reason(attn, label, words):
    assert words in pin_mismatch(attn, label)
    record = KernelRecord(*parse_label(label)[:1], 1, parse_label(label)[1], ())
    with pytest.raises(backends.Unsupported, match=words.split()[0]):
        check_pin(attn, record)


# ---- observe: one real profiled forward on CPU ---------------------------------------------------------------

@pytest.mark.parametrize("attn, expected", [("sdpa", CPU_FLASH), ("flash", CPU_FLASH), ("math", "math"),
                                            ("manual", "math")])
def test_observe_names_the_kernel_each_backend_runs_on_cpu(tiny, attn, expected):
    model = build_model(tiny, attn_impl=backends.attn_impl(attn))
    x = example_input(tiny, 2)
    with backends.forward_context("fp32", attn, "cpu"):
        record = kernels.observe(lambda: model(x), "cpu")
    assert record.label == expected and record.calls == tiny.depth
    check_pin(attn, record)


def test_observe_runs_the_call_exactly_once(tiny):
    model = build_model(tiny)
    x = example_input(tiny, 2)
    calls = []
    with torch.inference_mode():
        kernels.observe(lambda: calls.append(model(x)), "cpu")
    assert len(calls) == 1


class _MhaBlock(torch.nn.Module):
    """torch's nn.MultiheadAttention as torchvision's ViT encoder block calls it (batch_first, no weights)."""

    def __init__(self, dim=64, heads=4):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


def test_mha_fast_path_ignores_a_pin_and_the_check_says_so():
    # What torchvision:vit_* rows did: efficient pinned on CPU (no such kernel) still 'ran', via the fast path.
    block, x = _MhaBlock().eval(), torch.randn(2, 17, 64)
    with torch.inference_mode(), torch.nn.attention.sdpa_kernel(backends.sdpa_backend("efficient")):
        record = kernels.observe(lambda: block(x), "cpu")
    assert record.fast_path and "fast path" in pin_mismatch("efficient", record)


def test_a_pinned_forward_context_turns_the_fast_path_off():
    block, x = _MhaBlock().eval(), torch.randn(2, 17, 64)
    before = torch.backends.mha.get_fastpath_enabled()
    with backends.forward_context("fp32", "math", "cpu"):
        record = kernels.observe(lambda: block(x), "cpu")
        with pytest.raises(RuntimeError, match="No viable backend"):  # efficient: now honoured, so it fails
            with torch.nn.attention.sdpa_kernel(backends.sdpa_backend("efficient")):
                block(x)
    assert record.label == "math" and not record.fast_path
    check_pin("math", record)
    assert torch.backends.mha.get_fastpath_enabled() == before


def test_unpinned_sdpa_leaves_the_fast_path_to_torch():
    block, x = _MhaBlock().eval(), torch.randn(2, 17, 64)
    with backends.forward_context("fp32", "sdpa", "cpu"):
        record = kernels.observe(lambda: block(x), "cpu")
    assert record.fast_path == torch.backends.mha.get_fastpath_enabled()
