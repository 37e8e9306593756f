"""vitbench.runmeta: the load facts a results file's sidecar carries, read tolerantly. No torch."""

import json

import pytest

from vitbench.runmeta import RunLoad, read_run_load


def _sidecar(tmp_path, text: str):
    results = tmp_path / "run.csv"
    (tmp_path / "run.meta.json").write_text(text)
    return results


def test_reads_threads_cpus_and_load(tmp_path):
    meta = {"environment": {"torch_threads": 1, "cpu_count": 2}, "load_average": {"start": 0.5, "end": 2.25}}
    load = read_run_load(_sidecar(tmp_path, json.dumps(meta)))
    assert load == RunLoad(torch_threads=1, cpu_count=2, load_start=0.5, load_end=2.25)
    assert load.peak_load == 2.25 and load.overloaded and load.describe() == "load 2.25 on 2 CPUs"


@pytest.mark.parametrize("start, end, overloaded", [(2.0, 1.0, False), (None, 2.01, True), (None, None, False)])
def test_overloaded_means_more_load_than_cpus(start, end, overloaded):
    assert RunLoad(cpu_count=2, load_start=start, load_end=end).overloaded is overloaded


def test_no_cpu_count_is_never_overloaded():
    assert not RunLoad(load_start=9.0).overloaded


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"environment": 3, "load_average": "high"}'])
def test_an_unreadable_sidecar_or_field_reads_as_unknown(tmp_path, text):
    load = read_run_load(_sidecar(tmp_path, text))
    assert load is None or load == RunLoad()


def test_bad_values_read_as_unknown(tmp_path):
    meta = {"environment": {"torch_threads": 1.5, "cpu_count": True},
            "load_average": {"start": -1, "end": float("inf")}}
    assert read_run_load(_sidecar(tmp_path, json.dumps(meta))) == RunLoad()


def test_no_sidecar(tmp_path):
    assert read_run_load(tmp_path / "none.csv") is None
