"""What a worker and its parent exchange: JSON lines, a Point encoded as its config's and spec's dataclass
fields. No torch.

Requests on the worker's stdin; replies on a private copy of its stdout (the worker points fd 1 at stderr
before anything else runs, so nothing a library prints can corrupt the channel):

    worker -> parent   {"ready": {"pid", "host", "device", "device_name", "threads"}}
    parent -> worker   {"id": N, "point": encode_point(p)}            one point at a time
    worker -> parent   {"id": N, "row": {...}, "samples": {metric: [ms, ...]}, "measured": bool,
                        "fatal": null | "why the device is unusable"}
                       {"id": N, "refused": "one line"}               bad input: the run stops with it
    parent closes stdin                                               the worker exits 0
"""

from __future__ import annotations

import dataclasses

from vitbench.expansion import Point
from vitbench.measure.spec import BenchSpec
from vitbench.zoo import ViTConfig


def encode_point(p: Point) -> dict:
    """A Point as JSON: its config and spec as their dataclass fields."""
    return {"index": p.index, "values": p.values, "cfg": dataclasses.asdict(p.cfg) if p.cfg else None,
            "spec": dataclasses.asdict(p.spec), "measures": list(p.measures), "plan": p.plan,
            "invalid": p.invalid, "cpu_overrides": p.cpu_overrides, "gmacs": p.gmacs_per_forward}


def decode_point(d: dict) -> Point:
    cfg = ViTConfig(**{**d["cfg"], "img_size": tuple(d["cfg"]["img_size"])}) if d["cfg"] else None
    return Point(d["index"], d["values"], cfg, BenchSpec(**d["spec"]), tuple(d["measures"]), d["plan"],
                 d["invalid"], d["cpu_overrides"], d["gmacs"])
