"""The datasheet table: every GPU name the probe lists maps to the right entry or to None with a reason."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from vitbench.errors import VitbenchError
from vitbench.hardware import ALIASES, DEVICES, KEYS, by_key, lookup, normalise

# torch.cuda.get_device_name() strings (../shared/probes/peak_names.py) -> expected key, or None + reason words.
EXPECTED = {
    "NVIDIA H100 80GB HBM3": "h100-sxm", "NVIDIA H100 PCIe": "h100-pcie", "NVIDIA H100 NVL": "h100-nvl",
    "NVIDIA H100": (None, "does not say which product"),
    "NVIDIA H100 80GB HBM3 MIG 1g.10gb": (None, "SM count"),
    "NVIDIA H100 MIG 3g.40gb": (None, "does not say which product"),
    "NVIDIA H200": "h200-sxm", "NVIDIA H200 NVL": "h200-nvl",
    "NVIDIA GH200 480GB": "gh200-96gb", "NVIDIA GH200 144G HBM3e": "gh200-144gb",
    "NVIDIA H800": (None, "export variant"), "NVIDIA H800 PCIe": (None, "export variant"),
    "NVIDIA H20": (None, "export variant"),
    "NVIDIA A100-SXM4-80GB": "a100-sxm4-80gb", "NVIDIA A100-SXM4-40GB": "a100-sxm4-40gb",
    "NVIDIA A100-PCIE-40GB": "a100-pcie-40gb", "NVIDIA A100 80GB PCIe": "a100-pcie-80gb",
    "NVIDIA A100-SXM4-40GB MIG 1g.5gb": (None, "SM count"), "NVIDIA A800-SXM4-80GB": (None, "export variant"),
    "NVIDIA A10G": (None, "no NVIDIA datasheet"), "NVIDIA A10": "a10", "NVIDIA A30": "a30", "NVIDIA A40": "a40",
    "NVIDIA A16": (None, "not in the datasheet table"), "NVIDIA A2": (None, "not in the datasheet table"),
    "NVIDIA L4": "l4", "NVIDIA L40": "l40", "NVIDIA L40S": "l40s", "NVIDIA L20": (None, "not in the datasheet table"),
    "Tesla V100-SXM2-16GB": "v100-sxm2", "Tesla V100-SXM2-32GB": "v100-sxm2", "Tesla V100-PCIE-16GB": "v100-pcie",
    "Tesla V100S-PCIE-32GB": "v100s-pcie", "Tesla V100-SXM3-32GB": (None, "system-specific clocks"),
    "Tesla T4": "t4", "NVIDIA T4G": (None, "not in the datasheet table"),
    "NVIDIA GeForce RTX 4090": "rtx-4090", "NVIDIA GeForce RTX 4090 D": (None, "cut-down 'D' variant"),
    "NVIDIA GeForce RTX 4090 Laptop GPU": (None, "laptop part"), "NVIDIA GeForce RTX 3090": "rtx-3090",
    "NVIDIA GeForce RTX 3090 Ti": (None, "not in the datasheet table"),
    "NVIDIA RTX A6000": (None, "not in the datasheet table"),
    "NVIDIA RTX 6000 Ada Generation": (None, "not in the datasheet table"),
    "NVIDIA B200": (None, "power configuration"), "NVIDIA GB200": (None, "power configuration"),
    "NVIDIA RTX PRO 6000 Blackwell Server Edition": (None, "not in the datasheet table"),
    "NVIDIA GeForce RTX 5090": (None, "not in the datasheet table"),
}


PROBE = Path("/work/shared/probes/peak_names.py")  # the shared probe (evidence for issue 11), where present


@pytest.mark.skipif(not PROBE.exists(), reason="the shared probe is not on this machine")
def test_the_probe_lists_no_name_this_test_misses():
    text = PROBE.read_text()
    names = ast.literal_eval(text[text.index("names = [") + 8: text.index("]\nfor") + 1])
    assert set(names) <= set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_probe_name_maps_right_or_says_why(name):
    found = lookup(name)
    expected = EXPECTED[name]
    if isinstance(expected, str):
        assert found.peak is not None and found.peak.key == expected, found.reason
        assert found.reason.startswith("datasheet: ")
    else:
        assert found.peak is None
        assert expected[1] in found.reason and name in found.reason


def test_datasheet_figures_by_hand():
    h100 = by_key("h100-sxm")
    assert h100.tflops == {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4}  # 989 / 1979 sparse, halved
    assert (h100.hbm_gbps, h100.memory, h100.sm_count) == (3350.0, 80, 132)
    assert by_key("a100-sxm4-40gb").hbm_gbps == 1555.0 and by_key("a100-pcie-80gb").hbm_gbps == 1935.0
    assert by_key("t4").peak_tflops("bf16") is None and by_key("t4").peak_tflops("amp-fp16") == 65.0
    assert by_key("v100-sxm2").peak_tflops("tf32") is None


def test_tpu_rows_per_chip_and_per_core():
    assert [by_key(k).peak_tflops("bf16") for k in ("tpu-v2-chip", "tpu-v3-chip", "tpu-v4-chip", "tpu-v5e-chip",
                                                    "tpu-v5p-chip")] == [45.0, 123.0, 275.0, 197.0, 459.0]
    assert by_key("tpu-v3-core").peak_tflops("bf16") == 123.0 / 2 and by_key("tpu-v2-core").peak_tflops("bf16") == 22.5
    assert by_key("tpu-v3-core").unit == "core" and by_key("tpu-v4-chip").unit == "chip"
    assert by_key("tpu-v4-chip").peak_tflops("fp32") is None  # TPU peaks are bf16 only
    assert (by_key("tpu-v5p-chip").hbm_gbps, by_key("tpu-v5p-chip").memory, by_key("tpu-v5p-chip").memory_unit) == (
        2765.0, 95, "GB")


def test_mig_slice_scaled_by_its_sms():
    found = lookup("NVIDIA H100 80GB HBM3 MIG 1g.10gb", sm_count=16)
    assert found.peak.tflops["bf16"] == pytest.approx(989.4 * 16 / 132)
    assert found.peak.hbm_gbps is None and "16/132 SMs" in found.reason
    a100 = lookup("NVIDIA A100-SXM4-40GB MIG 3g.20gb", sm_count=42).peak
    assert a100.tflops["tf32"] == pytest.approx(156.0 * 42 / 108) and a100.key == "a100-sxm4-40gb-mig-3g.20gb"
    assert lookup("NVIDIA A100-SXM4-40GB MIG 1g.5gb", sm_count=200).peak is None


def test_sm_count_of_the_device_in_hand_must_match_the_product():
    assert lookup("NVIDIA H100 80GB HBM3", sm_count=132).peak.key == "h100-sxm"
    other = lookup("NVIDIA H100 80GB HBM3", sm_count=114)
    assert other.peak is None and "114 SMs" in other.reason


def test_unknown_names_and_normalisation():
    assert lookup("AMD EPYC 7B13").peak is None and "not in the datasheet table" in lookup("AMD EPYC 7B13").reason
    assert lookup("").peak is None and lookup(None).reason == "no device name"
    assert normalise("NVIDIA  GeForce RTX 4090") == "RTX 4090" and normalise("Tesla T4") == "T4"
    assert lookup("nvidia a100-sxm4-80gb").peak.key == "a100-sxm4-80gb"  # case-insensitive


def test_keys_are_unique_and_aliases_resolve():
    assert len(KEYS) == len(set(KEYS)) == len(DEVICES)
    assert {alias: by_key(alias).key for alias in ("h100", "a100", "tpu-v3", "tpu-v4")} == {
        "h100": "h100-sxm", "a100": "a100-sxm4-80gb", "tpu-v3": "tpu-v3-chip", "tpu-v4": "tpu-v4-chip"}
    assert all(target in KEYS for target in ALIASES.values())
    with pytest.raises(VitbenchError, match="valid: h100-sxm"):
        by_key("h1000")


def test_hardware_does_not_import_torch():
    code = "import sys, vitbench.hardware; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
