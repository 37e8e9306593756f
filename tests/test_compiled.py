"""vitbench.measure.compiled: one compile per point, static shapes, no recompiles while measuring, a graph or an
error, and a pinned SDPA backend honoured by compiled graphs (in one process and through the on-disk cache)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch._dynamo.config as dynamo_config

from vitbench.measure import backends, kernels
from vitbench.measure.compiled import CompileError, cache_tag, compiled_point
from vitbench.model import build_model, example_input
from vitbench.zoo import resolve

ROOT = Path(__file__).resolve().parent.parent
CPU_FLASH = "_scaled_dot_product_flash_attention_for_cpu"


def micro(**changes):
    """The smallest ViT that still has every part (inductor compiles it in seconds)."""
    return resolve("vit_ti16", **{"res": 16, "patch": 8, "depth": 1, "dim": 32, "heads": 2, **changes})


class Capture:
    """A Dynamo backend that records each graph's example inputs and runs the graph eagerly."""

    def __init__(self):
        self.inputs = []

    def __call__(self, gm, example_inputs):
        self.inputs.append(example_inputs)
        return gm.forward


def _symbolic(inputs) -> bool:
    return any(isinstance(s, torch.SymInt) for t in inputs if isinstance(t, torch.Tensor) for s in t.shape)


def test_every_point_compiles_its_own_static_graph(tiny):
    # Without a reset per point, the 2nd batch size recompiles with dynamic shapes that later points reuse
    # (shared/probes/compile_across_points.py). Here: one static graph per point, each its own.
    model = build_model(tiny)
    for batch in (1, 2, 4, 3):
        capture = Capture()
        with torch.inference_mode(), compiled_point(model, example_input(tiny, batch), "cpu", backend=capture) as p:
            p.call()
        assert p.record.graphs == 1 and len(capture.inputs) == 1
        assert not _symbolic(capture.inputs[0])


def test_more_points_than_the_recompile_limit_all_compile():
    # shared/probes/recompile_limit.py: from the 9th point on Dynamo ran eager while the rows said compiled.
    limit = dynamo_config.recompile_limit
    for res in range(16, 16 + 8 * (limit + 2), 8):
        cfg = micro(res=res)
        with torch.inference_mode(), compiled_point(build_model(cfg), example_input(cfg, 1), "cpu",
                                                    backend="eager") as p:
            p.call()
        assert p.record.graphs == 1, res


class _Flagged(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = 2.0

    def forward(self, x):
        return x * self.scale


def test_a_recompile_while_measuring_is_an_error_and_settings_are_restored():
    model = _Flagged()
    with torch.inference_mode(), compiled_point(model, torch.ones(3), "cpu", backend="eager") as p:
        p.call()
        model.scale = 3.0  # a guarded attribute changes: the graph no longer applies
        with pytest.raises(RuntimeError, match="recompile"):
            p.call()
    assert not dynamo_config.fail_on_recompile_limit_hit
    model.scale = 4.0
    assert torch.compile(model, backend="eager")(torch.ones(1)).item() == 4.0  # default stance again


class _Skipped(torch.nn.Module):
    @torch._dynamo.disable
    def forward(self, x):
        return x + 1


def test_nothing_compiled_is_an_error():
    with pytest.raises(CompileError, match="no graph"):
        with compiled_point(_Skipped(), torch.ones(2), "cpu", backend="eager"):
            pass


def test_a_compile_error_is_raised_not_run_eagerly():
    def broken(gm, example_inputs):
        raise RuntimeError("backend exploded")

    with dynamo_config.patch(suppress_errors=True):  # as TORCHDYNAMO_SUPPRESS_ERRORS=1 would set it
        with pytest.raises(Exception, match="backend exploded"):
            with compiled_point(_Flagged(), torch.ones(2), "cpu", backend=broken):
                pass


def test_the_record_says_what_the_compiling_call_did(tiny):
    with torch.inference_mode(), compiled_point(build_model(tiny), example_input(tiny, 2), "cpu",
                                                backend="eager") as p:
        pass
    r = p.record
    assert r.seconds > 0 and r.graphs == 1 and r.graph_breaks == 0 and r.fused_attention == 0
    assert r.cache == "bypass"  # the eager backend never reaches inductor's cache
    assert r.columns() == {"compile_s": r.seconds, "compile_graphs": 1, "compile_cache": "bypass"}


def test_the_cache_tag_carries_the_pinned_backend():
    tags = {}
    for attn in ("sdpa", "flash", "efficient", "cudnn", "math"):
        with backends.forward_context("fp32", attn, "cpu"):
            tags[attn] = cache_tag()
    assert len(set(tags.values())) == 5
    assert "math=1" in tags["math"] and "flash=0" in tags["math"] and "mha_fastpath=0" in tags["math"]
    assert "flash=1" in tags["flash"] and "math=0" in tags["flash"]
    assert cache_tag() == tags["sdpa"]  # unpinned = the state outside any pin


@pytest.mark.slow
def test_pinned_backends_are_honoured_by_inductor_in_one_process():
    # shared/probes/sdpa_inprocess.py: a flash point after a math point ran the math graph (aten::bmm).
    cfg = micro()
    seen = []
    for attn in ("math", "flash", "math"):
        model, x = build_model(cfg), example_input(cfg, 2)
        with backends.forward_context("fp32", attn, "cpu"), compiled_point(model, x, "cpu") as p:
            p.call()
            record = kernels.observe(p.call, "cpu")
        kernels.check_pin(attn, record)
        seen.append(record.label)
    assert seen == ["math", CPU_FLASH, "math"]


_CROSS_PROCESS = textwrap.dedent("""
    import json, sys, torch
    from vitbench.measure import backends, kernels
    from vitbench.measure.compiled import compiled_point
    from vitbench.model import build_model, example_input
    from vitbench.zoo import resolve
    attn = sys.argv[1]
    cfg = resolve("vit_ti16", res=16, patch=8, depth=1, dim=32, heads=2)
    model, x = build_model(cfg), example_input(cfg, 2)
    out = {}
    with backends.forward_context("fp32", attn, "cpu"):
        torch._dynamo.reset()
        plain = torch.compile(model)  # what bench.py did: no tag in the cache key
        plain(x)
        out["plain"] = kernels.observe(lambda: plain(x), "cpu").label
        with compiled_point(model, x, "cpu") as p:
            out["vitbench"] = kernels.observe(p.call, "cpu").label
            out["cache"] = p.record.cache
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_pinned_backend_is_honoured_through_the_on_disk_cache(tmp_path):
    # shared/probes/sdpa_compile_pin.py: a fresh process pinned to flash loaded the graph a math process had
    # cached (inductor's FX-graph cache key has no SDPA state), and timed aten::bmm.
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor"),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def run(attn):
        proc = subprocess.run([sys.executable, "-c", _CROSS_PROCESS, attn], capture_output=True, text=True,
                              env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first = run("math")
    assert first == {"plain": "math", "vitbench": "math", "cache": "miss"}
    second = run("flash")
    assert second["plain"] == "math"  # the defect, reproduced: plain torch.compile reused the math graph
    assert second["vitbench"] == CPU_FLASH and second["cache"] == "miss"


class _PatternAttention(torch.nn.Module):
    """Hand-written attention in the form inductor's fuse_attention pass matches (its _sfdp_pattern_1)."""

    def forward(self, x):
        q = x.reshape(2, 4, 16, 16)
        return torch.matmul(q, q.transpose(-2, -1)).div(4.0).softmax(dim=-1).matmul(q)


@pytest.mark.slow
def test_attention_rewritten_by_inductor_is_caught():
    # vitbench's own manual attention is not rewritten (shared/probes/manual_compile.py: no fuse_attention on
    # CPU); a model whose explicit attention matches inductor's patterns is, and the row must not say 'manual'.
    with backends.forward_context("fp32", "manual", "cpu"), \
            compiled_point(_PatternAttention(), torch.randn(2, 4, 16, 16), "cpu") as p:
        record = kernels.observe(p.call, "cpu")
    assert record.label == CPU_FLASH
    assert p.record.fused_attention == (None if p.record.cache == "hit" else 1)  # the pass skipped on a hit
    assert "fuse_attention" in kernels.pin_mismatch("manual", record)


@pytest.mark.slow
def test_vitbench_manual_attention_stays_manual_under_inductor():
    cfg = micro()
    model, x = build_model(cfg, attn_impl="manual"), example_input(cfg, 2)
    with backends.forward_context("fp32", "manual", "cpu"), compiled_point(model, x, "cpu") as p:
        record = kernels.observe(p.call, "cpu")
    assert record.label == "math" and p.record.fused_attention == (None if p.record.cache == "hit" else 0)
    kernels.check_pin("manual", record)
