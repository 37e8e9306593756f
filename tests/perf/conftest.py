"""The pytest-benchmark suite (tests/perf): every module here sets `pytestmark = pytest.mark.perf`; the default
test run leaves them out with `-m "not perf"`. Torch runs with one thread so CPU timings are steadier between runs (set
VITBENCH_PERF_THREADS to change it); the thread count is stored in each saved run's machine info.
`benchgate` adds `--perf-gate` (per-group limits on min) and makes a tripped limit an ordinary failure (exit 1)
instead of a traceback."""

import os

import pytest

from benchgate import (pytest_addoption, pytest_configure, pytest_sessionstart,  # noqa: F401  (hooks,
                       pytest_terminal_summary)                                  # found by name)

THREADS = int(os.environ.get("VITBENCH_PERF_THREADS", "1"))


@pytest.fixture(scope="session", autouse=True)
def torch_threads():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield THREADS
    torch.set_num_threads(before)


def pytest_benchmark_update_machine_info(config, machine_info):
    import torch

    machine_info["torch"] = torch.__version__
    machine_info["torch_threads"] = THREADS
    machine_info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
