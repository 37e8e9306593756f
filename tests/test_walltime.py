"""vitbench.walltime: phase totals from rows, wall time and the workers / jobs from a sidecar. No torch."""

from __future__ import annotations

import pandas as pd

from vitbench import walltime


def test_phases_put_the_rest_of_point_s_in_other_and_count_cost_only_rows():
    df = pd.DataFrame({"point_s": [3.0, None], "setup_s": [1.0, None], "timing_s": [0.5, None]})
    totals = walltime.phases(df)
    assert dict(totals.seconds) == {"setup: build, input, probe": 1.0, "compile": 0.0, "warm-up": 0.0,
                                    "timing": 0.5, walltime.OTHER: 1.5}
    assert (totals.total, totals.points, totals.cost_only) == (3.0, 1, 1)
    assert walltime.phases(pd.DataFrame({"macs": [1]})) is None


def test_a_merged_sweep_lists_its_jobs_and_spans_submission_to_the_last_end():
    meta = {"start": "2026-01-01T00:00:00+00:00", "end": "2026-01-01T00:01:30+00:00",
            "jobs": [{"job_id": "42_0", "host": "n1", "device_name": "NVIDIA H100", "rows": 5, "queue_s": 12.0,
                      "wall_s": 70.0, "state": "COMPLETED", "error": None},
                     {"job_id": "42_1", "host": "n2", "device_name": None, "rows": 0, "queue_s": None,
                      "wall_s": None, "state": "FAILED", "error": "oom"}]}
    assert walltime.wall_s(meta) == 90.0
    first, second = walltime.runners(meta)
    assert (first.kind, first.name, first.where, first.points, first.start_s) == ("job", "42_0", "n1 NVIDIA H100",
                                                                                  5, 12.0)
    assert second.ended == "FAILED: oom"


def test_a_resumed_pool_run_sums_its_runs():
    meta = {"runs": [{"start": "2026-01-01T00:00:00+00:00", "end": "2026-01-01T00:00:10+00:00", "workers": []},
                     {"start": "2026-01-01T01:00:00+00:00", "end": "2026-01-01T01:00:05+00:00",
                      "workers": [{"device": "cuda:1", "pid": 3, "points": 4}]}]}
    assert walltime.wall_s(meta) == 15.0
    (worker,) = walltime.runners(meta)
    assert (worker.name, worker.points) == ("cuda:1 pid 3", 4)
    assert walltime.wall_s(None) is None and walltime.runners({}) == []
