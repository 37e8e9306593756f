"""The child side of an isolated point: `python -m vitbench.measure.child REQUEST.json RESULT.json`.

Measures in-process with the parent's thread count, adds this process's own peak RSS on CPU (`mem_peak_mib`;
`mem_base_mib` = its RSS after importing torch, before the model was built) and writes {row, samples} as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(request_path: str, result_path: str) -> None:
    import torch

    from vitbench.measure import memory
    from vitbench.measure.point import measure_in_process, wants
    from vitbench.measure.spec import BenchSpec
    from vitbench.zoo import ViTConfig

    base_mib = memory.rss_mb()  # interpreter + torch + vitbench, before the model exists
    req = json.loads(Path(request_path).read_text())
    torch.set_num_threads(req["threads"])
    cfg = ViTConfig(**{**req["cfg"], "img_size": tuple(req["cfg"]["img_size"])})
    spec = BenchSpec(**req["spec"])
    measured = measure_in_process(cfg, spec, req["measures"])
    row = dict(measured.row)
    if spec.device == "cpu" and wants(spec, req["measures"]).memory and row["status"] == "ok":
        row["mem_peak_mib"], row["mem_base_mib"] = memory.peak_rss_mb(), base_mib
    Path(result_path).write_text(json.dumps({"row": row, "samples": measured.samples}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
