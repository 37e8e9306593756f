"""vitbench.compare: matching by identity, config changes, the exact rule, the bootstrap rule on raw samples and
the spread rule on summaries (hand-computed and on synthetic runs with known noise), missing/new rows, the
environment checks, noisy-run policy, bad values. No torch."""

import json
import math

import numpy as np
import pytest

from synthetic_runs import CPU, CPU_NOISY, TIGHT, TINY_CONFIGS, alarm_rate, row, verdicts
from vitbench import samples as samples_io
from vitbench.compare import compare, compare_files
from vitbench.compare_input import frame, load_rows
from vitbench.errors import VitbenchError
from vitbench.measure.stats import summarize
from vitbench.results_io import row_key
from vitbench.runmeta import RunLoad
from vitbench.schema import EXACT_COLUMNS
from vitbench.storage import write_metadata, write_rows
from vitbench.zoo import resolve

CFG = TINY_CONFIGS[0]


def timed(cfg=CFG, median=10.0, iqr=1.349, batch=1, **extra):
    """A row with explicit timing statistics: iqr 1.349 ms is σ = 1 ms, i.e. s = 0.1 at median 10 ms."""
    values = {"latency_ms_median": median, "latency_ms_iqr": iqr, "throughput_ips": batch * 1e3 / median}
    values.update(extra)
    return row(cfg, batch=batch, **values)


def sampled(times, cfg=CFG, batch=1, **extra):
    """A row built from raw samples (its summary columns from them) and the samples keyed as vitbench keys them."""
    r = row(cfg, np.asarray(times, dtype=float), batch=batch, **extra)
    return r, {samples_io.digest(row_key(r)): np.asarray(times, dtype=float)}


def one(base_rows, cand_rows, **options):
    return compare(frame(base_rows), frame(cand_rows), **options)


def find(result, metric, label_part=""):
    found = [f for f in result.findings if f.metric == metric and label_part in f.label]
    assert len(found) == 1, found
    return found[0]


def verdict(result, metric, label_part=""):
    return find(result, metric, label_part).verdict


# ---------------------------------------------------------------------- the spread rule (summary-only files)

@pytest.mark.parametrize("cand_median, expected", [
    (11.5, "regression"),  # worse 0.15 > t 0.10 and > sqrt(0.1² + 0.1²) = 0.1414
    (11.3, "noise"),       # worse 0.13 > t but < 0.1414: inside the spread
    (10.9, "ok"),          # worse 0.09 < t
    (8.0, "improved"),     # 10 / 8 - 1 = 0.25 > both
    (8.9, "noise"),        # 10 / 8.9 - 1 = 0.124: beyond t, inside the spread
])
def test_latency_rule_hand_computed(cand_median, expected):
    # candidate IQR scaled with its median so its relative spread s_c is 0.1 too
    cand = timed(median=cand_median, iqr=1.349 * cand_median / 10)
    result = one([timed()], [cand])
    assert verdict(result, "latency_ms_median") == expected
    assert verdict(result, "throughput_ips") == expected  # throughput = batch / median: the same ratio
    finding = find(result, "latency_ms_median")
    assert finding.noise == pytest.approx(math.hypot(0.1, 0.1)) and finding.method == "spread"
    assert finding.worse == pytest.approx(cand_median / 10 - 1)
    assert finding.change == pytest.approx((cand_median - 10) / 10)


def test_throughput_worse_is_the_extra_time_per_image():
    f = find(one([timed()], [timed(median=20.0, iqr=2.698)]), "throughput_ips")
    assert f.change == pytest.approx(-0.5) and f.worse == pytest.approx(1.0) and f.verdict == "regression"


def test_spread_falls_back_to_p10_p90_without_iqr():
    # (p90 - p10) / 2.563 = 1 ms: the same σ as IQR 1.349
    base = timed(iqr=None, latency_ms_p10=10 - 1.2815, latency_ms_p90=10 + 1.2815)
    assert verdict(one([base], [timed(median=11.3, iqr=None, latency_ms_p10=10, latency_ms_p90=12.563)]),
                   "latency_ms_median") == "noise"
    assert verdict(one([base], [timed(median=11.5, iqr=None, latency_ms_p10=10, latency_ms_p90=12.563)]),
                   "latency_ms_median") == "regression"


def test_without_spread_columns_the_threshold_alone_decides():
    base = row(CFG, latency_ms_median=10.0)
    f = find(one([base], [row(CFG, latency_ms_median=10.5)], max_slowdown=0.04), "latency_ms_median")
    assert f.verdict == "regression" and f.noise is None and "threshold only" in f.note


def test_per_metric_threshold_overrides_the_default():
    base, cand = timed(iqr=0.01), timed(median=11.5, iqr=0.01)
    assert verdict(one([base], [cand]), "latency_ms_median") == "regression"
    relaxed = one([base], [cand], thresholds={"latency_ms_median": 0.2})
    assert verdict(relaxed, "latency_ms_median") == "ok"
    assert verdict(relaxed, "throughput_ips") == "regression"  # still the 10% default
    assert relaxed.thresholds["latency_ms_median"] == 0.2


def test_spread_k_scales_the_noise_margin():
    base, cand = timed(), timed(median=11.3, iqr=1.349 * 1.13)
    assert verdict(one([base], [cand]), "latency_ms_median") == "noise"
    assert verdict(one([base], [cand], spread_k=0.5), "latency_ms_median") == "regression"
    with pytest.raises(VitbenchError, match="spread-k"):
        one([base], [cand], spread_k=-1)


def test_memory_is_threshold_only():
    base = row(CFG, mem_peak_mib=100.0)
    assert verdict(one([base], [row(CFG, mem_peak_mib=111.0)]), "mem_peak_mib") == "regression"
    assert verdict(one([base], [row(CFG, mem_peak_mib=109.0)]), "mem_peak_mib") == "ok"
    assert verdict(one([base], [row(CFG, mem_peak_mib=80.0)]), "mem_peak_mib") == "improved"


# ------------------------------------------------------------------------------ the bootstrap rule (samples)

# Baseline: 20 samples of 10 ms. Candidate: ten of 10.5 ms and ten of 12.5 ms, so its median is 11.5 (ratio 1.15).
# A resample of the candidate has median 10.5 when more than 10 of its 20 draws are 10.5 ms, 12.5 when fewer,
# 11.5 when exactly 10: P = C(20,10) / 2^20 = 0.176, else 0.412 each. The 2.5 % and 97.5 % quantiles of the
# ratio are therefore 1.05 and 1.25: change +15 % with the 95 % interval [+5 %, +25 %].
TWO_LEVEL = [10.5] * 10 + [12.5] * 10


@pytest.mark.parametrize("threshold, expected", [
    (0.04, "regression"),  # the whole interval (+5 % .. +25 %) is beyond +4 %
    (0.10, "noise"),       # the estimate (+15 %) is beyond +10 %, the interval is not
    (0.20, "ok"),          # the estimate is inside +20 %
])
def test_bootstrap_rule_hand_computed(threshold, expected):
    base, sb = sampled([10.0] * 20)
    cand, sc = sampled(TWO_LEVEL)
    result = one([base], [cand], max_slowdown=threshold, base_samples=sb, cand_samples=sc)
    lat, tp = find(result, "latency_ms_median"), find(result, "throughput_ips")
    assert lat.method == tp.method == "bootstrap" and lat.samples == (20, 20)
    assert lat.verdict == tp.verdict == expected
    assert lat.change == pytest.approx(0.15) and lat.interval == pytest.approx((0.05, 0.25))
    # throughput falls by 1 - 1/1.15; its interval is the same ratio seen from the other side
    assert tp.change == pytest.approx(1 / 1.15 - 1) and tp.interval == pytest.approx((1 / 1.25 - 1, 1 / 1.05 - 1))


def test_bootstrap_improvement_needs_the_whole_interval_beyond_the_limit():
    base, sb = sampled(TWO_LEVEL)
    cand, sc = sampled([10.0] * 20)
    result = one([base], [cand], max_slowdown=0.04, base_samples=sb, cand_samples=sc)
    assert verdict(result, "latency_ms_median") == "improved"  # 1/1.05 - 1 = -4.8 % at the interval's edge


def test_samples_on_one_side_or_too_few_fall_back_to_the_spread_rule():
    base, sb = sampled([10.0] * 20)
    cand, sc = sampled(TWO_LEVEL)
    result = one([base], [cand], base_samples=sb)
    assert find(result, "latency_ms_median").method == "spread"
    assert any("raw samples on one side only for 1 row(s)" in n for n in result.notes)
    short_b, short_sb = sampled([10.0] * 9)
    short_c, short_sc = sampled([11.0] * 9)
    result = one([short_b], [short_c], base_samples=short_sb, cand_samples=short_sc)
    assert find(result, "latency_ms_median").method == "spread"  # 9 < MIN_SAMPLES = 10


def test_samples_that_do_not_match_their_row_are_bad_input():
    base, sb = sampled([10.0] * 20)
    cand, sc = sampled(TWO_LEVEL)
    other = {k: v * 1.01 for k, v in sc.items()}
    with pytest.raises(VitbenchError, match=r"have median 11\.615.* latency_ms_median 11\.5.*not this row"):
        one([base], [cand], base_samples=sb, cand_samples=other)
    fewer = {k: v[:-1] for k, v in sb.items()}
    with pytest.raises(VitbenchError, match="are 19 values but the row says n_iters 20"):
        one([base], [cand], base_samples=fewer, cand_samples=sc)
    bad = {k: np.where(np.arange(20) == 3, -1.0, v) for k, v in sb.items()}
    with pytest.raises(VitbenchError, match="not a finite number > 0"):
        one([base], [cand], base_samples=bad, cand_samples=sc)


def test_the_row_median_equals_the_median_the_check_recomputes():
    # the check compares exactly: the summary's median and stats.percentile(x, 50) must be the same float
    rng = np.random.default_rng(0)
    for n in (10, 11, 50, 300, 301):
        x = rng.lognormal(0, 0.3, n)
        from vitbench.measure.stats import percentile
        assert summarize(x).median == percentile(x, 50)


def test_compare_files_reads_the_samples_beside_each_file(tmp_path):
    base, sb = sampled([10.0] * 20)
    cand, sc = sampled(TWO_LEVEL)
    for name, r, s in (("b", base, sb), ("c", cand, sc)):
        path = write_rows([r], tmp_path / f"{name}.csv")
        (key, values), = s.items()
        samples_io.path_for(path).write_bytes(samples_io.HEADER.encode()
                                              + samples_io.lines(key, samples_io.LATENCY, values))
    result = compare_files(tmp_path / "b.csv", tmp_path / "c.csv", max_slowdown=0.04)
    assert find(result, "latency_ms_median").method == "bootstrap" and result.failed


# ------------------------------------------------------------------ synthetic runs with known noise

@pytest.mark.parametrize("metric", ["latency_ms_median", "throughput_ips"])
def test_no_false_alarms_on_200_same_distribution_pairs_with_tight_spreads(metric):
    assert alarm_rate(TIGHT, 1.0, pairs=200, seed=11, metric=metric) == 0.0
    assert alarm_rate(TIGHT, 1.0, pairs=200, seed=11, metric=metric, with_samples=True) == 0.0


@pytest.mark.parametrize("noise", [CPU, CPU_NOISY], ids=["cpu", "cpu-noisy"])
@pytest.mark.parametrize("with_samples", [False, True], ids=["spread", "bootstrap"])
def test_no_false_alarms_on_200_same_distribution_pairs_on_a_noisy_cpu(noise, with_samples):
    # with a CPU-suited limit (docs/ci.md)
    assert alarm_rate(noise, 1.0, pairs=200, seed=11, threshold=0.25, with_samples=with_samples) == 0.0


@pytest.mark.parametrize("with_samples", [False, True], ids=["spread", "bootstrap"])
def test_false_alarm_rate_at_the_default_limit_on_a_cpu_is_small(with_samples):
    # measured 0.1-0.5 % (docs/ci.md); run-level drift, which neither rule can see inside one run, causes them
    assert alarm_rate(CPU, 1.0, pairs=1000, seed=3, with_samples=with_samples) <= 0.005


@pytest.mark.parametrize("noise, threshold", [(TIGHT, 0.10), (CPU, 0.10), (CPU, 0.25)],
                         ids=["tight-10%", "cpu-10%", "cpu-25%"])
def test_a_1_5x_slowdown_is_always_caught_by_the_spread_rule(noise, threshold):
    assert alarm_rate(noise, 1.5, pairs=200, seed=12, threshold=threshold) == 1.0
    assert alarm_rate(noise, 1.5, pairs=200, seed=12, threshold=threshold, metric="throughput_ips") == 1.0


@pytest.mark.parametrize("noise, threshold, at_least", [(TIGHT, 0.10, 200), (CPU, 0.10, 200), (CPU, 0.25, 190),
                                                        (CPU_NOISY, 0.10, 200), (CPU_NOISY, 0.25, 140)],
                         ids=["tight-10%", "cpu-10%", "cpu-25%", "cpu-noisy-10%", "cpu-noisy-25%"])
def test_a_1_5x_slowdown_on_raw_samples(noise, threshold, at_least):
    # the bootstrap rule wants the whole 95 % interval beyond the limit: with 50 samples a side, 1.5× against a
    # 25 % limit is held back as "noise" in some pairs, never passed as "ok". Measured (seed 12): 200, 200, 197,
    # 200, 155 of 200 (docs/ci.md: 98.7 % and 82 % over 2000 pairs for the two 25 % cells)
    counts = verdicts(noise, 1.5, pairs=200, seed=12, threshold=threshold, with_samples=True)
    assert counts["regression"] >= at_least and counts["ok"] == 0


def test_a_1_2x_slowdown_is_always_caught_with_tight_spreads():
    assert alarm_rate(TIGHT, 1.2, pairs=200, seed=13) == 1.0
    assert alarm_rate(TIGHT, 1.2, pairs=200, seed=13, with_samples=True) == 1.0


@pytest.mark.parametrize("with_samples", [False, True], ids=["spread", "bootstrap"])
def test_a_2x_slowdown_is_always_caught_on_a_noisy_cpu(with_samples):
    assert alarm_rate(CPU_NOISY, 2.0, pairs=200, seed=14, threshold=0.25, with_samples=with_samples) == 1.0


# ---------------------------------------------------------------------------------------- exact metrics

def _with(cfg, **changes):
    r = row(cfg)
    r.update(changes)
    return r


def test_exact_increase_is_a_regression_decrease_an_improvement():
    base = row(CFG)
    up = one([base], [_with(CFG, params=base["params"] + 1)])
    assert verdict(up, "params") == "regression" and up.failed
    f = find(up, "params")
    assert (f.baseline, f.candidate) == (base["params"], base["params"] + 1) and isinstance(f.candidate, int)
    down = one([base], [_with(CFG, macs_attn_core=base["macs_attn_core"] - 64)])
    assert verdict(down, "macs_attn_core") == "improved" and not down.failed
    strict = one([base], [_with(CFG, macs_attn_core=base["macs_attn_core"] - 64)], strict=True)
    assert verdict(strict, "macs_attn_core") == "regression" and strict.failed


def test_exact_values_are_compared_as_integers_beyond_float_precision():
    base = row(CFG)
    big = 2**53 + 1  # a float cannot hold it: 2**53 + 1 == 2**53 as floats
    result = one([_with(CFG, macs=2**53)], [_with(CFG, macs=big)])
    assert verdict(result, "macs") == "regression" and find(result, "macs").candidate == big
    assert verdict(one([base], [_with(CFG, params=f"{float(base['params'])}")]), "params") == "ok"  # 1.0e6 form


def test_identical_cost_rows_pass_with_every_exact_metric_unchanged():
    rows = [row(cfg) for cfg in TINY_CONFIGS]
    result = one(rows, rows, strict=True)
    assert not result.failed and result.outcome == "PASS" and result.exit_code == 0
    forward = tuple(c for c in EXACT_COLUMNS if c != "macs_train")  # macs_train: train rows only
    assert result.metrics == forward
    assert result.count("ok") == len(rows) * len(forward)


# ------------------------------------------------------------------------------- identity vs configuration

VIT_B = resolve("vit_b16")


def test_a_changed_depth_is_a_config_change_not_a_missing_and_a_new_row():
    result = one([row(VIT_B), row(TINY_CONFIGS[0])], [row(VIT_B.replace(depth=13)), row(TINY_CONFIGS[0])])
    assert result.rows_common == 2 and result.missing == [] and result.new == []
    config = find(result, "config")
    assert config.verdict == "regression" and config.label == "vit_b16 224"
    assert (config.baseline, config.candidate) == ("depth 12", "depth 13")
    assert config.note == "config changed: depth 12 → 13"
    assert verdict(result, "params", "vit_b16") == "regression" and result.failed
    assert "depth" in result.config_fields and "depth" not in result.identity


def test_several_changed_fields_are_all_named():
    result = one([row(VIT_B)], [row(VIT_B.replace(depth=13, dim=768 + 64, heads=13))])
    assert find(result, "config").note == "config changed: dim 768 → 832, depth 12 → 13, heads 12 → 13"


def test_an_accepted_config_change_reports_without_failing():
    result = one([row(VIT_B)], [row(VIT_B.replace(depth=13))], accept_config_change=True)
    assert verdict(result, "config") == "changed" and not result.failed
    params = find(result, "params")
    assert params.verdict == "changed" and params.note == "regression under the accepted config change"
    assert "(accepted)" in find(result, "config").note


def test_a_field_that_tells_the_baseline_rows_apart_is_part_of_the_identity():
    # a patch-size sweep names patch: changing one row's patch is a missing row and a new one
    p8, p16 = VIT_B.replace(patch=8), VIT_B
    result = one([row(p8), row(p16)], [row(VIT_B.replace(patch=32)), row(p16)])
    assert "patch" in result.identity and result.missing == ["vit_b16 224 patch=8"]
    assert result.new == ["vit_b16 224 patch=32"] and result.failed


def test_a_variant_added_beside_the_old_row_is_new_not_a_change():
    result = one([row(VIT_B)], [row(VIT_B), row(VIT_B.replace(depth=13))])
    assert "depth" in result.identity and result.rows_common == 1
    assert result.new == ["vit_b16 224 depth=13"] and not result.failed
    assert not result.config_changes()


def test_device_is_not_part_of_the_identity_unless_it_tells_rows_apart():
    cpu, cuda = row(VIT_B), row(VIT_B, device="cuda")
    same_point = one([cpu], [cuda])  # the cost of one point measured on two devices: compared, equal
    assert "device" not in same_point.identity and same_point.rows_common == 1 and not same_point.failed
    both = one([cpu, cuda], [cpu, cuda])
    assert "device" in both.identity and both.rows_common == 2


def test_missing_rows_fail_unless_allowed_and_new_rows_never_fail():
    base = [row(TINY_CONFIGS[0]), row(TINY_CONFIGS[1])]
    cand = [row(TINY_CONFIGS[0]), row(TINY_CONFIGS[2])]
    result = one(base, cand)
    assert result.rows_common == 1
    assert result.missing == ["vit_ti16 64"] and result.new == ["vit_s16 32"]
    assert result.failed and result.summary().startswith("FAIL: 0 regression(s)")
    allowed = one(base, cand, allow_missing=True)
    assert not allowed.failed and "1 missing (allowed)" in allowed.summary()
    assert not one(base[:1], cand).failed  # a new row alone passes


def test_status_change_ok_to_oom_is_a_regression_and_skips_noisy_metrics():
    base, cand = timed(status="ok"), timed(median=30.0, status="oom")
    result = one([base], [cand])
    assert verdict(result, "status") == "regression" and result.failed
    assert not any(f.metric == "latency_ms_median" for f in result.findings)
    assert verdict(result, "params") == "ok"  # exact metrics still compared
    back = one([cand], [base])
    assert verdict(back, "status") == "improved" and not back.failed


def test_keys_compare_canonical_text():
    base = frame([timed()])
    cand = frame([timed()])
    cand["mlp_ratio"] = cand["mlp_ratio"].str.replace("4.0", "4")
    cand["compile"] = "false"
    result = compare(base, cand)
    assert result.rows_common == 1 and not result.config_changes()


def test_matching_uses_key_columns_filled_in_both_files():
    base = frame([row(cfg, batch=None, device=None, dtype=None, attn=None, compile=None) for cfg in TINY_CONFIGS])
    cand = frame([row(cfg) for cfg in TINY_CONFIGS])
    result = compare(base, cand)
    assert "batch" not in result.identity and "model" in result.identity
    assert result.rows_common == 3


def test_duplicate_points_are_bad_input():
    with pytest.raises(VitbenchError, match="several rows for the point"):
        one([row(CFG), row(CFG)], [row(CFG)])


def test_no_common_rows_or_metrics_is_bad_input():
    with pytest.raises(VitbenchError, match="no rows in common"):
        one([row(TINY_CONFIGS[0])], [row(TINY_CONFIGS[1])])
    bare = frame([row(CFG)])[["model", "patch", "res_h", "res_w", "status"]]
    with pytest.raises(VitbenchError, match="no metric in common"):
        compare(bare, bare)
    with pytest.raises(VitbenchError, match="no values for metric latency_ms_median"):
        one([row(CFG)], [row(CFG)], metrics=("latency_ms_median",))


def test_a_metric_only_the_baseline_measured_is_a_schema_mismatch():
    with pytest.raises(VitbenchError, match=r"schema mismatch: \S+ has latency_ms_median, throughput_ips but"):
        one([timed()], [row(CFG)])
    assert not one([row(CFG)], [timed()]).failed  # the candidate measuring more is fine


def test_a_value_missing_in_one_row_is_reported_and_fails_only_when_strict():
    base = [timed(cfg) for cfg in TINY_CONFIGS]
    cand = [timed(cfg) for cfg in TINY_CONFIGS[:2]] + [row(TINY_CONFIGS[2])]
    result = one(base, cand, metrics=("latency_ms_median",))
    assert verdict(result, "latency_ms_median", "vit_s16") == "changed" and not result.failed
    assert one(base, cand, metrics=("latency_ms_median",), strict=True).failed


def test_findings_sort_worst_first():
    base = [timed(cfg, median=10.0) for cfg in TINY_CONFIGS]
    cand = [timed(TINY_CONFIGS[0], median=12.0, iqr=0.01), timed(TINY_CONFIGS[1], median=30.0, iqr=0.01),
            timed(TINY_CONFIGS[2], median=10.1)]
    order = [(f.metric, f.label, f.verdict) for f in one(base, cand, metrics=("latency_ms_median",))
             .sorted_findings()]
    assert [v for *_, v in order] == ["regression", "regression", "ok"]
    assert "64" in order[0][1]  # the 3x slowdown before the 1.2x one


def test_to_dict_is_strict_json():
    base, sb = sampled([10.0] * 20)
    cand, sc = sampled(TWO_LEVEL)
    result = one([base], [cand], max_slowdown=0.04, base_samples=sb, cand_samples=sc)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["passed"] is False and data["outcome"] == "FAIL" and data["exit_code"] == 1
    first = data["findings"][0]
    assert first["verdict"] == "regression" and first["interval"] == pytest.approx([0.05, 0.25])
    assert data["thresholds"]["latency_ms_median"] == 0.04 and data["level"] == 0.95


# -------------------------------------------------------------------------- environment and noisy runs

def test_timings_across_thread_counts_are_refused_unless_allowed():
    with pytest.raises(VitbenchError, match=r"timings are not comparable: threads differs on 1 row\(s\), e\.g\. "
                                            r"vit_ti16 32: baseline '2', candidate '1'.*--allow-env-change"):
        one([timed(threads=2)], [timed(threads=1)])
    allowed = one([timed(threads=2)], [timed(threads=1)], allow_env_change=True)
    assert any("threads differs" in n and "may not be comparable" in n for n in allowed.notes)
    cost_only = one([timed(threads=2)], [timed(threads=1)], metrics=("params",))  # cost does not depend on it
    assert not cost_only.failed and not cost_only.notes


def test_timings_across_devices_are_refused():
    with pytest.raises(VitbenchError, match="device_name differs"):
        one([timed(device_name="AMD EPYC")], [timed(device_name="Intel Xeon")])
    with pytest.raises(VitbenchError, match="device differs"):
        one([timed()], [timed(device="cuda")])


def test_threads_come_from_the_sidecar_when_the_rows_lack_them():
    loads = dict(base_load=RunLoad(torch_threads=1), cand_load=RunLoad(torch_threads=2))
    with pytest.raises(VitbenchError, match="threads differs"):
        one([timed()], [timed()], **loads)


def test_an_overloaded_run_is_noted_or_inconclusive_by_policy():
    loaded = dict(cand_load=RunLoad(cpu_count=2, load_start=1.0, load_end=4.5))
    base, slow = timed(iqr=0.01), timed(median=30.0, iqr=0.01)
    judged = one([base], [slow], **loaded)
    assert judged.outcome == "FAIL" and any("candidate run: load 4.50 on 2 CPUs" in n for n in judged.notes)
    held = one([base], [slow], noisy="inconclusive", **loaded)
    assert verdict(held, "latency_ms_median") == "inconclusive" and held.outcome == "INCONCLUSIVE"
    assert held.exit_code == 3 and "1 regression" not in held.summary()
    assert not one([base], [timed(iqr=0.01)], noisy="inconclusive", **loaded).count("inconclusive")  # ok stays ok


def test_an_exact_regression_still_fails_a_noisy_run():
    loaded = dict(cand_load=RunLoad(cpu_count=2, load_end=4.5))
    slow = timed(median=30.0, iqr=0.01)
    slow["params"] += 1
    result = one([timed(iqr=0.01)], [slow], noisy="inconclusive", **loaded)
    assert result.outcome == "FAIL" and verdict(result, "params") == "regression"


def test_a_row_with_a_wide_spread_is_noisy():
    wide = timed(median=30.0, iqr=0.3 * 30)  # IQR 30 % of the median
    held = one([timed(iqr=0.01)], [wide], noisy="inconclusive")
    assert verdict(held, "latency_ms_median") == "inconclusive" and "candidate IQR 30% of the median" in \
        find(held, "latency_ms_median").note
    assert verdict(one([timed(iqr=0.01)], [wide], noisy="inconclusive", noisy_spread=0.35),
                   "latency_ms_median") == "regression"
    with pytest.raises(VitbenchError, match="--noisy must be one of judge, inconclusive"):
        one([timed()], [wide], noisy="maybe")


def test_the_load_is_read_from_the_sidecars(tmp_path):
    base = write_rows([timed(iqr=0.01)], tmp_path / "b.csv")
    cand = write_rows([timed(median=30.0, iqr=0.01)], tmp_path / "c.csv")
    write_metadata(cand, {"environment": {"cpu_count": 2, "torch_threads": 1},
                          "load_average": {"start": 3.1, "end": None}})
    result = compare_files(base, cand, noisy="inconclusive")
    assert result.outcome == "INCONCLUSIVE" and "load 3.10 on 2 CPUs" in result.notes[0]


# ----------------------------------------------------------------------------------- bad values (exit 2)

@pytest.mark.parametrize("column, value, message", [
    ("params", "inf", "'inf' is not a finite whole number >= 0"),
    ("params", "-5", "'-5' is not a finite whole number >= 0"),
    ("params", "nan", "'nan' is not a finite whole number >= 0"),
    ("macs", "17.5", "'17.5' is not a finite whole number >= 0"),
    ("latency_ms_median", "0", "'0' is not a finite number > 0"),
    ("latency_ms_median", "-1.5", "'-1.5' is not a finite number > 0"),
    ("throughput_ips", "inf", "'inf' is not a finite number > 0"),
    ("mem_peak_mib", "-3", "'-3' is not a finite number > 0"),
    ("latency_ms_iqr", "-0.1", "'-0.1' is not a finite number >= 0"),
    ("params", "lots", "'lots' is not a number"),
])
def test_bad_candidate_values_are_one_line_errors_naming_file_row_and_column(tmp_path, column, value, message):
    rows = [timed(cfg, mem_peak_mib=100.0) for cfg in TINY_CONFIGS]
    base = write_rows(rows, tmp_path / "base.csv")
    rows[1] = {**rows[1], column: value}
    cand = write_rows(rows, tmp_path / "cand.csv")
    with pytest.raises(VitbenchError) as err:
        compare_files(base, cand)
    assert str(err.value) == f"{cand} line 3 (vit_ti16), column {column}: {message}"


def test_bad_values_in_json_rows_name_the_row(tmp_path):
    base = write_rows([row(CFG)], tmp_path / "base.json")
    cand = write_rows([{**row(CFG), "params": -1}], tmp_path / "cand.json")
    with pytest.raises(VitbenchError, match=r"cand\.json row 1 \(vit_ti16\), column params: '-1' is not"):
        compare_files(base, cand)


def test_bad_values_in_rows_that_are_not_matched_are_still_bad_input():
    with pytest.raises(VitbenchError, match="column params: 'inf'"):
        one([row(CFG)], [row(CFG), {**row(TINY_CONFIGS[1]), "params": "inf"}])


# ------------------------------------------------------------------------------------------------ files

def test_load_rows_reads_csv_and_json_alike(tmp_path):
    rows = [timed(cfg) for cfg in TINY_CONFIGS]
    csv_path, json_path = write_rows(rows, tmp_path / "a.csv"), write_rows(rows, tmp_path / "a.json")
    assert list(load_rows(csv_path)["_row"]) == ["line 2", "line 3", "line 4"]
    assert list(load_rows(json_path)["_row"]) == ["row 1", "row 2", "row 3"]
    result = compare_files(csv_path, json_path)
    assert result.rows_common == 3 and not result.failed and result.count("noise") == 0
