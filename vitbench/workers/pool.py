"""The parent side of `sweep --devices`: Pool starts one worker process per device, hands each idle worker the
next measured point, writes every reply (or an `error` row for a worker that died) through the caller's
`write`, replaces dead workers, retires devices whose CUDA context is lost, and stops them all at the end or
on a signal (see vitbench.workers). WorkerRecord is a worker as the sidecar lists it. No torch."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from vitbench import devices as devs
from vitbench.environment import now_iso
from vitbench.errors import VitbenchError
from vitbench.expansion import Point
from vitbench.results_io import row_key
from vitbench.runner import Listener, Result, RunResult, error_row, execute, pending, point_row_key
from vitbench.workers.device_list import cpu_budget, worker_env
from vitbench.workers.protocol import encode_point
from vitbench.workers.serve import MODULE

STOP_GRACE_S = 3.0  # a worker asked to stop (stdin closed, then SIGTERM) gets this long before SIGKILL
MAX_START_DEATHS = 3  # workers of one device that died before saying ready: the device is given up
POLL_S = 1.0

@dataclass
class WorkerRecord:
    """One worker process as the sidecar lists it: where it ran, how long it took to start, the points it
    finished, the seconds it spent on them (`busy_s`, as the parent saw them: dispatch to reply) and in all
    (`wall_s`, start to exit), and how it ended."""

    device: str
    pid: int
    started: str
    host: str = ""
    device_name: str = ""
    threads: Optional[int] = None
    startup_s: Optional[float] = None
    points: int = 0
    busy_s: float = 0.0
    wall_s: Optional[float] = None
    ended: str = "running"

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "busy_s": round(self.busy_s, 3)}


class _Worker:
    """A running worker process and the point it holds."""

    def __init__(self, device: str, argv: list[str], env: dict, log_dir: Path):
        self.device = device
        self.log = tempfile.NamedTemporaryFile(dir=log_dir, prefix="worker-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     env=env, start_new_session=True, preexec_fn=_die_with_parent())
        self.record = WorkerRecord(device, self.proc.pid, now_iso())
        self.t0, self.buf, self.ready = time.monotonic(), b"", False
        self.point: Optional[Point] = None
        self.position, self.request_id, self.sent_at = 0, 0, 0.0

    def send(self, request_id: int, point: Point, position: int) -> bool:
        """Hand the worker a point; False when it is already gone (its death is read from its stdout next)."""
        try:
            self.proc.stdin.write((json.dumps({"id": request_id, "point": encode_point(point)}) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        self.point, self.position, self.request_id, self.sent_at = point, position, request_id, time.monotonic()
        return True

    def lines(self, data: bytes) -> list[dict]:
        self.buf += data
        *complete, self.buf = self.buf.split(b"\n")
        return [json.loads(line) for line in complete if line.strip()]

    def stderr_tail(self) -> str:
        self.log.flush()
        try:
            return Path(self.log.name).read_bytes()[-4000:].decode(errors="replace")
        except OSError:
            return ""

    def close(self, how: str) -> None:
        self.record.wall_s = round(time.monotonic() - self.t0, 3)
        if self.record.ended == "running":
            self.record.ended = how
        self.log.close()


def _die_with_parent():
    if not sys.platform.startswith("linux"):
        return None
    from vitbench.measure.isolate import die_with_parent

    return die_with_parent


class Pool:
    """Workers on `devices` (see vitbench.workers). `run` has the contract of vitbench.runner.run; `records`
    lists every worker started (replacements included) for the sidecar. `argv` is the worker command without
    its --device/--threads (tests start a worker that dies on purpose). `threads`: the cores to share among the
    CPU workers (default: this process's affinity)."""

    def __init__(self, devices: Sequence[str], threads: Optional[int] = None,
                 argv: Optional[Sequence[str]] = None):
        self.devices = list(devices)
        n_cpu = sum(1 for d in self.devices if not devs.is_cuda(d))
        self.cpu_threads = max(1, (threads or cpu_budget()) // n_cpu) if n_cpu else None
        self.argv = list(argv) if argv else [sys.executable, "-m", MODULE]
        self.records: list[WorkerRecord] = []
        self.retired: dict[str, str] = {}  # device slot -> why
        self._workers: list[_Worker] = []
        self._sel = selectors.DefaultSelector()
        self._start_deaths: collections.Counter = collections.Counter()
        self._log_dir: Optional[tempfile.TemporaryDirectory] = None
        self._next_id = 0

    # ------------------------------------------------------------------------------------------ processes

    def _threads(self, device: str) -> Optional[int]:
        return None if devs.is_cuda(device) else self.cpu_threads

    def _start(self, device: str) -> _Worker:
        threads = self._threads(device)
        argv = self.argv + ["--device", device] + (["--threads", str(threads)] if threads else [])
        w = _Worker(device, argv, worker_env(device, threads), Path(self._log_dir.name))
        self._workers.append(w)
        self.records.append(w.record)
        self._sel.register(w.proc.stdout, selectors.EVENT_READ, w)
        return w

    def _drop(self, w: _Worker, how: str) -> None:
        self._sel.unregister(w.proc.stdout)
        self._workers.remove(w)
        w.close(how)

    def stop(self, how: str = "stopped") -> None:
        """Stop every worker: close its stdin (an idle worker exits), SIGTERM one that holds a point, SIGKILL
        whatever is left after STOP_GRACE_S. Rows already written stay; points in flight are not written."""
        for w in self._workers:
            try:
                w.proc.stdin.close()
            except OSError:
                pass
            if w.point is not None and w.proc.poll() is None:
                w.proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for w in self._workers:
            try:
                w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
        for w in list(self._workers):
            self._drop(w, how if w.point is None else "stopped while running a point")
        if self._log_dir is not None:
            self._log_dir.cleanup()
            self._log_dir = None

    # ------------------------------------------------------------------------------------------ running

    def run(self, points: Sequence[Point], write: Callable[[Result], None], done_keys: set = frozenset(),
            listener: Optional[Listener] = None) -> RunResult:
        """Run the points not in `done_keys`: cost-only and invalid ones here, measured ones on the workers;
        `write` each result as it arrives. KeyboardInterrupt (a signal) stops the workers and propagates."""
        todo = pending(points, done_keys)
        result = RunResult(skipped=len(points) - len(todo))
        measured = collections.deque((pos, p) for pos, p in enumerate(todo, 1) if p.plan == "measure")
        try:
            for position, p in enumerate(todo, 1):
                if p.plan != "measure":
                    self._started(listener, p, position)
                    self._finish(execute(p), p, position, result, write, listener)
            if measured:
                self._log_dir = tempfile.TemporaryDirectory(prefix="vitbench-workers-")
                for device in self.devices:
                    self._start(device)
                self._loop(measured, result, write, listener)
        except BaseException:
            self.stop("stopped")
            raise
        self.stop("finished")
        return result

    def _loop(self, queue, result, write, listener) -> None:
        while queue or any(w.point is not None for w in self._workers):
            for w in self._workers:
                if w.ready and w.point is None and queue:
                    position, p = queue[0]
                    self._next_id += 1
                    if w.send(self._next_id, p, position):
                        queue.popleft()
                        self._started(listener, p, position)
            if queue and not self._workers:
                from vitbench.measure.memory import CudaContextLost

                raise CudaContextLost("no device left to run on: " + "; ".join(
                    f"{d}: {why}" for d, why in self.retired.items()))
            for key, _ in self._sel.select(timeout=POLL_S):
                w = key.data
                data = os.read(w.proc.stdout.fileno(), 1 << 16)
                if not data:
                    self._died(w, bool(queue), result, write, listener)
                    continue
                for message in w.lines(data):
                    self._reply(w, message, result, write, listener)

    def _reply(self, w: _Worker, message: dict, result, write, listener) -> None:
        if "ready" in message:
            info = message["ready"]
            w.ready = True
            w.record.host, w.record.device_name, w.record.threads = info["host"], info["device_name"], \
                info["threads"]
            w.record.startup_s = round(time.monotonic() - w.t0, 3)
            return
        if "refused" in message:
            raise VitbenchError(message["refused"])
        if message.get("id") != w.request_id or w.point is None:
            raise RuntimeError(f"worker {w.record.pid} answered request {message.get('id')}, not {w.request_id}")
        point, position = w.point, w.position
        row = {**message["row"], "worker_device": w.device}
        if row_key(row) != point_row_key(point):
            raise RuntimeError(f"worker {w.record.pid} answered another point: {row_key(row)}")
        w.record.points += 1
        w.record.busy_s += time.monotonic() - w.sent_at
        w.point = None
        done = Result(row, {k: tuple(v) for k, v in message["samples"].items()}, message["measured"],
                      message["fatal"])
        if done.fatal:  # the worker exits: its CUDA context is unusable; so, until proven otherwise, is the GPU
            self.retired[w.device] = done.fatal
            self._drop(w, f"retired: {done.fatal}")
            _reap(w.proc)
        self._finish(done, point, position, result, write, listener)

    def _died(self, w: _Worker, more: bool, result, write, listener) -> None:
        """Write the dead worker's point as an error row; start a replacement while points are queued."""
        returncode = _reap(w.proc)
        from vitbench.measure.isolate import exit_reason

        why = exit_reason(returncode, w.stderr_tail(), who=f"worker process ({w.device}, pid {w.record.pid})")
        point, position = w.point, w.position
        self._drop(w, f"died: {why}")
        if point is not None:
            w.record.busy_s += time.monotonic() - w.sent_at
            row = {**error_row(point, why + " while running this point"), "worker_device": w.device}
            self._finish(Result(row, measured=True), point, position, result, write, listener)
        if not w.ready:
            self._start_deaths[w.device] += 1
            if self._start_deaths[w.device] >= MAX_START_DEATHS:
                raise VitbenchError(f"the worker for {w.device} died {MAX_START_DEATHS} times while starting: {why}")
        if more and w.device not in self.retired:
            self._start(w.device)

    @staticmethod
    def _started(listener, point: Point, position: int) -> None:
        if listener:
            listener.point_started(point, position)

    @staticmethod
    def _finish(done: Result, point: Point, position: int, result: RunResult, write, listener) -> None:
        write(done)
        result.written += 1
        result.statuses[done.row["status"]] = result.statuses.get(done.row["status"], 0) + 1
        if listener:
            listener.point_finished(point, done.row, position)


def _reap(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
