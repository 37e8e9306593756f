"""What a measurement ran on: versions, device, CPU, threads, git sha, and the settings that govern GPU numbers.
Written beside every result file.

`environment(with_torch=False)` imports no torch (cost-only runs). With torch it adds torch's settings (TF32,
cuDNN, determinism, SDPA backends, threads; compile configuration with `with_compile`) and, on CUDA, the device actually used
(index, name, compute capability, SMs, memory, UUID, MIG) plus what `nvidia-smi` reports for it (driver, clocks,
power limit, MIG mode, persistence, throttle reasons; queried by UUID with a timeout, None where unavailable;
pynvml is not required). `host_load()` (psutil) is the load average and CPU frequency: take it at the start and
at the end of a run. Keys are flat; units are in the names (MHz, W, MiB).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path

from vitbench import __version__

NVIDIA_SMI_TIMEOUT_S = 10.0
# nvidia-smi --query-gpu field -> environment key (units: MHz, W).
NVIDIA_SMI_FIELDS = {
    "driver_version": "driver",
    "mig.mode.current": "gpu_mig_mode",
    "persistence_mode": "gpu_persistence_mode",
    "compute_mode": "gpu_compute_mode",
    "clocks.sm": "gpu_clock_sm_mhz",
    "clocks.mem": "gpu_clock_mem_mhz",
    "clocks.max.sm": "gpu_clock_max_sm_mhz",
    "clocks.max.mem": "gpu_clock_max_mem_mhz",
    "clocks.applications.graphics": "gpu_clock_app_sm_mhz",
    "power.limit": "gpu_power_limit_w",
    "power.max_limit": "gpu_power_max_limit_w",
    "temperature.gpu": "gpu_temperature_c",
    "clocks_event_reasons.active": "gpu_clock_event_reasons",
}
NUMERIC_SMI_KEYS = {"gpu_clock_sm_mhz", "gpu_clock_mem_mhz", "gpu_clock_max_sm_mhz", "gpu_clock_max_mem_mhz",
                    "gpu_clock_app_sm_mhz", "gpu_power_limit_w", "gpu_power_max_limit_w", "gpu_temperature_c"}
# Environment variables that change what runs or how it is timed.
ENV_VARS = ("CUDA_VISIBLE_DEVICES", "CUDA_LAUNCH_BLOCKING", "CUDA_DEVICE_MAX_CONNECTIONS", "NVIDIA_TF32_OVERRIDE",
            "PYTORCH_CUDA_ALLOC_CONF", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_CUDNN_SDPA_DEPRIORITIZED",
            "TORCHINDUCTOR_CACHE_DIR", "TORCHINDUCTOR_FX_GRAPH_CACHE", "TORCHINDUCTOR_MAX_AUTOTUNE",
            "TORCH_COMPILE_CACHE_KEY_TAG", "TORCHINDUCTOR_FORCE_DISABLE_CACHES")


def git_sha() -> str | None:
    """The checkout's commit (with '+dirty' when it has uncommitted changes), or None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def host_load() -> dict:
    """Load averages (1, 5, 15 min; runnable processes) and CPU frequency (MHz; None where not reported)."""
    import psutil

    out: dict = {"load_avg_1m": None, "load_avg_5m": None, "load_avg_15m": None, "cpu_freq_mhz": None,
                 "cpu_freq_max_mhz": None}
    try:
        out["load_avg_1m"], out["load_avg_5m"], out["load_avg_15m"] = (round(v, 2) for v in psutil.getloadavg())
    except (OSError, AttributeError):
        pass
    try:
        freq = psutil.cpu_freq()
    except (OSError, AttributeError, NotImplementedError):
        freq = None
    if freq is not None:
        out["cpu_freq_mhz"] = round(freq.current, 1) if freq.current else None
        out["cpu_freq_max_mhz"] = round(freq.max, 1) if freq.max else None
    return out


def env_vars() -> dict:
    """The environment variables in ENV_VARS that are set (name -> value)."""
    return {f"env_{k}": os.environ[k] for k in ENV_VARS if k in os.environ}


def environment(with_torch: bool = True, device: str | None = None, with_compile: bool = False) -> dict:
    """A flat dict describing this machine and software.

    Torch fields only when `with_torch`; CUDA device fields for `device` ('cuda', 'cuda:i'; default: the current
    CUDA device when CUDA is available); torch.compile settings only when `with_compile` (reading them imports
    torch._dynamo, ~0.9 s)."""
    env = {
        "vitbench_version": __version__,
        "git_sha": git_sha(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        **env_vars(),
    }
    if with_torch:
        import torch

        env.update({
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "cuda_available": torch.cuda.is_available(),
            **torch_settings(),
            **(compile_settings() if with_compile else {}),
        })
        if torch.cuda.is_available() and (device is None or str(device).startswith("cuda")):
            env.update(cuda_device(device))
    return env


def torch_settings() -> dict:
    """Threads, TF32, cuDNN, determinism and SDPA backend flags in effect now."""
    import torch

    c = torch._C
    settings = {
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "sdpa_flash": c._get_flash_sdp_enabled(),
        "sdpa_efficient": c._get_mem_efficient_sdp_enabled(),
        "sdpa_cudnn": c._get_cudnn_sdp_enabled(),
        "sdpa_math": c._get_math_sdp_enabled(),
        "mha_fastpath": torch.backends.mha.get_fastpath_enabled(),
    }
    if hasattr(c, "_get_sdp_priority_order"):
        settings["sdpa_priority_order"] = ",".join(str(int(b)) for b in c._get_sdp_priority_order())
    return settings


def compile_settings() -> dict:
    """The torch.compile settings that change what a compiled row measures."""
    import torch._dynamo.config as dynamo
    import torch._inductor.config as inductor

    out = {
        "dynamo_recompile_limit": getattr(dynamo, "recompile_limit", getattr(dynamo, "cache_size_limit", None)),
        "dynamo_automatic_dynamic_shapes": dynamo.automatic_dynamic_shapes,
        "inductor_max_autotune": inductor.max_autotune,
        "inductor_fx_graph_cache": inductor.fx_graph_cache,
        "inductor_freezing": inductor.freezing,
        "inductor_cudagraphs": inductor.triton.cudagraphs,
        "inductor_cpp_wrapper": inductor.cpp_wrapper,
    }
    from importlib import metadata

    try:
        out["triton"] = metadata.version("triton")
    except metadata.PackageNotFoundError:
        out["triton"] = None
    return out


def cuda_device(device: str | None = None) -> dict:
    """The CUDA device a run uses: index, name, capability, SMs, memory, UUID, MIG, plus nvidia-smi's view."""
    import torch

    index = torch.device(device).index if device else None
    index = torch.cuda.current_device() if index is None else index
    props = torch.cuda.get_device_properties(index)
    uuid = _uuid(props)
    mig = " MIG " in f" {props.name} " or bool(uuid and uuid.startswith("MIG-"))
    info = {
        "gpu_index": index,
        "gpu": props.name,
        "gpu_count": torch.cuda.device_count(),
        "gpu_capability": f"{props.major}.{props.minor}",
        "gpu_sm_count": props.multi_processor_count,
        "gpu_memory_mb": props.total_memory // 2**20,
        "gpu_uuid": uuid,
        "gpu_is_mig": mig,
        "cudnn": torch.backends.cudnn.version(),
    }
    info.update(nvidia_smi(_smi_id(None if mig else uuid, props)))
    return info


def _uuid(props) -> str | None:
    raw = getattr(props, "uuid", None)
    if raw is None:
        return None
    text = str(raw)
    return text if text.startswith(("GPU-", "MIG-")) else f"GPU-{text}"


def _smi_id(uuid: str | None, props) -> str | None:
    """The id nvidia-smi accepts for this device: its GPU UUID, else its PCI bus id (a MIG slice: the parent's)."""
    if uuid and uuid.startswith("GPU-"):
        return uuid
    bus = getattr(props, "pci_bus_id", None)
    domain = getattr(props, "pci_domain_id", None)
    dev = getattr(props, "pci_device_id", None)
    if bus is None or domain is None or dev is None:
        return None
    return f"{domain:08X}:{bus:02X}:{dev:02X}.0"


def nvidia_smi(gpu_id: str | None) -> dict:
    """NVIDIA_SMI_FIELDS for one GPU from `nvidia-smi --query-gpu` (None where it cannot answer).

    An older driver rejects the whole query for one unknown field; then each field is asked on its own."""
    out = {key: None for key in NVIDIA_SMI_FIELDS.values()}
    if not gpu_id:
        return out
    fields = list(NVIDIA_SMI_FIELDS)
    text = _smi_query(gpu_id, fields)
    if text is not None:
        return parse_nvidia_smi(text, fields)
    if _smi_query(gpu_id, ["driver_version"]) is None:  # no nvidia-smi, or it does not know this id
        return out
    for field in fields:
        one = _smi_query(gpu_id, [field])
        if one is not None:
            out.update(parse_nvidia_smi(one, [field]))
    return out


def _smi_query(gpu_id: str, fields: list[str]) -> str | None:
    try:
        proc = subprocess.run(["nvidia-smi", f"--id={gpu_id}", f"--query-gpu={','.join(fields)}",
                               "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 and proc.stdout.strip() else None


def parse_nvidia_smi(text: str, fields: list[str]) -> dict:
    """One `--format=csv,noheader,nounits` line -> {environment key: value}; '[N/A]', '[Not Supported]' and
    fields the driver does not know are None; numeric fields become floats."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    values = [v.strip() for v in line.split(",")]
    out = {NVIDIA_SMI_FIELDS[f]: None for f in fields}
    if len(values) != len(fields):
        return out
    for field, value in zip(fields, values):
        key = NVIDIA_SMI_FIELDS[field]
        if not value or value.startswith("[") or value.lower() in ("n/a", "not supported"):
            continue
        if key in NUMERIC_SMI_KEYS:
            try:
                out[key] = float(value)
            except ValueError:
                continue
        else:
            out[key] = value
    return out
