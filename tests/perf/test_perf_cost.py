"""The cost-analysis paths stay fast (pytest-benchmark): the closed form over the zoo, torch's counter on
meta for ViT-B/16, fvcore on a tiny config on cpu. Each also checks its answer against the closed form.
The counters are a group of their own (tests/perf/benchgate.py gives them a wider limit) and run 15 and 40
rounds: with 5, their minimum moved by up to 2.2x between same-code runs under load (docs/ci.md)."""

import pytest

from vitbench.cost import analytic
from vitbench.cost.counters import count
from vitbench.cost.analytic import cost_row
from vitbench.zoo import PRESETS, preset, resolve

pytestmark = pytest.mark.perf

# the zoo at 224 and 384 px (392 for patch 14), as in results/baselines/zoo_cost.csv
ZOO = [preset(n).replace(img_size=(r, r) if r % preset(n).patch == 0 else (392, 392)) for n in PRESETS
       for r in (224, 384)]


@pytest.mark.benchmark(group="cost")
def test_closed_form_macs_whole_zoo(benchmark):
    totals = benchmark(lambda: [analytic.macs(cfg).total for cfg in ZOO])
    assert len(totals) == 26 and all(t > 0 for t in totals)


@pytest.mark.benchmark(group="cost")
def test_cost_fields_whole_zoo(benchmark):
    rows = benchmark(lambda: [cost_row(cfg) for cfg in ZOO])
    assert rows[0]["params"] == analytic.params(ZOO[0]).total


@pytest.mark.benchmark(group="counters")
def test_torch_counter_on_meta_vit_b16(benchmark):
    cfg = preset("vit_b16")
    record = benchmark.pedantic(count, args=(cfg, "torch", "meta"), rounds=15, warmup_rounds=1)
    assert record.total == analytic.macs(cfg).total


@pytest.mark.benchmark(group="counters")
def test_fvcore_counter_on_cpu_tiny(benchmark):
    cfg = resolve("vit_ti16", res=32, depth=2, dim=64, heads=4)
    record = benchmark.pedantic(count, args=(cfg, "fvcore", "cpu"), rounds=40, warmup_rounds=2)
    assert record.total == analytic.macs(cfg).total
