"""The worker process (`python -m vitbench.workers --device D [--threads T]`): say ready, then run one point
per request line with vitbench.runner.execute and send back its row and raw samples (vitbench.workers.protocol).
Torch is imported once, before the first point, not at module import."""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
from typing import Callable, Optional, Sequence

from vitbench import devices as devs
from vitbench.errors import VitbenchError, one_line
from vitbench.expansion import Point
from vitbench.runner import Result, execute
from vitbench.workers.protocol import decode_point

MODULE = "vitbench.workers"


def serve(device: str, execute_point: Callable[[Point], Result] = execute) -> None:
    """The worker's loop (see vitbench.workers.protocol): say ready, then answer one point per request line."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # print() and libraries now write to stderr; the channel is ours alone
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop

    def send(message: dict) -> None:
        channel.write(json.dumps(message) + "\n")

    import torch  # imported once here, so a point's time does not include it

    send({"ready": {"pid": os.getpid(), "host": platform.node(), "device": device,
                    "device_name": devs.device_name("cuda" if devs.is_cuda(device) else "cpu"),
                    "threads": torch.get_num_threads()}})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            done = execute_point(decode_point(request["point"]))
        except VitbenchError as e:
            send({"id": request["id"], "refused": one_line(str(e))})
            continue
        send({"id": request["id"], "row": done.row, "samples": {k: list(v) for k, v in done.samples.items()},
              "measured": done.measured, "fatal": done.fatal})
        if done.fatal:
            return  # this process's CUDA context is unusable; the parent retires the device


def main(argv: Optional[Sequence[str]] = None, execute_point: Callable[[Point], Result] = execute) -> None:
    """`python -m vitbench.workers --device D [--threads T]` (tests pass their own `execute_point`)."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument("--device", required=True)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    serve(args.device, execute_point)
