"""vitbench.environment: torch-free when asked, the settings that govern GPU numbers, nvidia-smi parsing."""

import subprocess
import sys

import pytest

from vitbench import environment as env_mod
from vitbench.environment import NVIDIA_SMI_FIELDS, parse_nvidia_smi


def test_without_torch_no_torch_is_imported():
    code = ("import sys; from vitbench.environment import environment, host_load; "
            "e = environment(with_torch=False); h = host_load(); "
            "assert 'torch' not in sys.modules, 'torch imported'; print(sorted(h))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "load_avg_1m" in proc.stdout and "cpu_freq_mhz" in proc.stdout


def test_torch_settings_are_recorded():
    import torch

    e = env_mod.environment()
    assert e["torch_threads"] == torch.get_num_threads()
    assert e["tf32_matmul"] == torch.backends.cuda.matmul.allow_tf32
    assert e["cudnn_benchmark"] is torch.backends.cudnn.benchmark
    assert e["sdpa_math"] is True and "sdpa_priority_order" in e
    assert "dynamo_recompile_limit" not in e  # only with_compile (it imports torch._dynamo)
    compiled = env_mod.environment(with_compile=True)
    assert compiled["dynamo_recompile_limit"] >= 1 and "inductor_max_autotune" in compiled


def test_settings_reflect_the_current_state():
    import torch

    from vitbench.measure import backends

    with backends.forward_context("fp32", "math", "cpu"):
        pinned = env_mod.torch_settings()
    assert (pinned["sdpa_flash"], pinned["sdpa_math"], pinned["mha_fastpath"]) == (False, True, False)
    assert env_mod.torch_settings()["sdpa_flash"] is True
    assert torch.backends.mha.get_fastpath_enabled()


def test_environment_variables_that_matter(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    monkeypatch.delenv("CUDA_LAUNCH_BLOCKING", raising=False)
    e = env_mod.environment(with_torch=False)
    assert e["env_CUDA_VISIBLE_DEVICES"] == "3,1" and "env_CUDA_LAUNCH_BLOCKING" not in e


def test_host_load_reads_psutil(monkeypatch):
    import psutil

    monkeypatch.setattr(psutil, "getloadavg", lambda: (1.234, 0.5, 0.25))
    monkeypatch.setattr(psutil, "cpu_freq", lambda: type("F", (), {"current": 2596.12, "max": 0.0})())
    assert env_mod.host_load() == {"load_avg_1m": 1.23, "load_avg_5m": 0.5, "load_avg_15m": 0.25,
                                   "cpu_freq_mhz": 2596.1, "cpu_freq_max_mhz": None}


FIELDS = list(NVIDIA_SMI_FIELDS)


def test_parse_nvidia_smi_line():
    line = "580.95.05, Disabled, Enabled, Default, 1980, 2619, 1980, 2619, 1755, 700.00, 700.00, 34, 0x0000000000000000"
    out = parse_nvidia_smi(line + "\n", FIELDS)
    assert out["driver"] == "580.95.05" and out["gpu_mig_mode"] == "Disabled"
    assert out["gpu_clock_sm_mhz"] == 1980.0 and out["gpu_power_limit_w"] == 700.0
    assert out["gpu_clock_event_reasons"] == "0x0000000000000000"


def test_parse_nvidia_smi_not_available_values_are_none():
    line = "535.1, [N/A], [Not Supported], Default, 1410, 1215, 1410, 1593, [N/A], 400.00, [N/A], 30, [N/A]"
    out = parse_nvidia_smi(line, FIELDS)
    assert out["gpu_mig_mode"] is None and out["gpu_persistence_mode"] is None and out["gpu_power_max_limit_w"] is None
    assert out["gpu_power_limit_w"] == 400.0


def test_parse_nvidia_smi_wrong_field_count_is_all_none():
    assert set(parse_nvidia_smi("1, 2", FIELDS).values()) == {None}


def test_nvidia_smi_per_field_fallback(monkeypatch):
    # An older driver rejects the whole query for one field it does not know; the others still come back.
    def fake(gpu_id, fields):
        if len(fields) > 1 or fields[0] == "clocks_event_reasons.active":
            return None
        return {"driver_version": "470.1", "power.limit": "250.00"}.get(fields[0], "[N/A]")

    monkeypatch.setattr(env_mod, "_smi_query", fake)
    out = env_mod.nvidia_smi("GPU-1234")
    assert out["driver"] == "470.1" and out["gpu_power_limit_w"] == 250.0 and out["gpu_clock_event_reasons"] is None


def test_nvidia_smi_without_the_tool(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert set(env_mod.nvidia_smi("GPU-1234").values()) == {None}
    assert set(env_mod.nvidia_smi(None).values()) == {None}


class Props:
    name = "NVIDIA A100-SXM4-40GB MIG 1g.5gb"
    uuid = "5f0c2a44-0000-1111-2222-333344445555"
    pci_bus_id, pci_domain_id, pci_device_id = 0x3B, 0, 0


@pytest.mark.parametrize("uuid, expected", [
    ("GPU-5f0c2a44-0000-1111-2222-333344445555", "GPU-5f0c2a44-0000-1111-2222-333344445555"),
    (None, "00000000:3B:00.0"),  # a MIG slice: nvidia-smi is asked about its parent by PCI bus id
])
def test_nvidia_smi_id(uuid, expected):
    assert env_mod._smi_id(uuid, Props()) == expected
    assert env_mod._uuid(Props()) == "GPU-" + Props.uuid


def test_cuda_device_fields_come_from_the_device_used(monkeypatch):
    # Fake CUDA (as shared/probes/fake_cuda.py): two GPUs, the run uses cuda:1, not GPU 0.
    import torch

    class P:
        def __init__(self, i):
            self.name = ["NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"][i]
            self.major, self.minor = [(8, 0), (9, 0)][i]
            self.multi_processor_count = [108, 132][i]
            self.total_memory = 80 * 2**30
            self.uuid = f"0000000{i}-0000-0000-0000-000000000000"

    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: P(i))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 91600)
    monkeypatch.setattr(env_mod, "nvidia_smi", lambda gpu_id: asked.append(gpu_id) or {"driver": "580.1"})
    info = env_mod.cuda_device("cuda:1")
    assert (info["gpu_index"], info["gpu"], info["gpu_capability"], info["gpu_sm_count"]) == \
           (1, "NVIDIA H100 80GB HBM3", "9.0", 132)
    assert info["gpu_uuid"] == asked[0] == "GPU-00000001-0000-0000-0000-000000000000"
    assert info["gpu_is_mig"] is False and info["driver"] == "580.1" and info["cudnn"] == 91600
    assert env_mod.cuda_device("cuda")["gpu_index"] == 0  # 'cuda' = the current device
