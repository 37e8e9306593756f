"""`sweep --devices`: a pool of worker processes, one per device; the parent writes every row. No torch here.

A worker is a long-lived `python -m vitbench.workers --device D [--threads T]` process pinned to one device:
a CUDA worker sees only its GPU (CUDA_VISIBLE_DEVICES, so `cuda` inside it is that GPU and rows keep the
device of a plain run), a CPU worker gets its share of this process's cores as torch threads (OMP_NUM_THREADS
too). The parent hands each idle worker the next point; the worker runs it with `vitbench.runner.execute` (the
code of a plain run, `--isolate` and the CPU-memory child included) and sends back the row and its raw samples;
the parent appends them through its Session as they arrive (one writer; any order). Cost-only and invalid
points need no device: the parent computes them itself, and starts no worker when nothing is measured.

Protocol, JSON lines. Requests on the worker's stdin; replies on a private copy of its stdout (the worker points
fd 1 at stderr before anything else runs, so nothing a library prints can corrupt the channel):

    worker -> parent   {"ready": {"pid", "host", "device", "device_name", "threads"}}
    parent -> worker   {"id": N, "point": encode_point(p)}            one point at a time
    worker -> parent   {"id": N, "row": {...}, "samples": {metric: [ms, ...]}, "measured": bool,
                        "fatal": null | "why the device is unusable"}
                       {"id": N, "refused": "one line"}               bad input: the run stops with it
    parent closes stdin                                               the worker exits 0

A worker that dies (EOF before its reply: SIGKILL, a segfault, the OOM killer, an exit) gets its point written
as an `error` row naming the signal or exit code and the last line of its stderr, and a fresh worker replaces
it on the same device (three deaths while starting, and the device is given up). A worker whose CUDA context
is lost (`fatal`, a sticky error) is retired with its device; the run stops (CudaContextLost) when points are
left and no device is. Workers run in their own session, so Ctrl-C reaches the parent only: its Session turns
SIGINT / SIGTERM into KeyboardInterrupt after the row being written, and the pool stops every worker
(SIGTERM, SIGKILL after STOP_GRACE_S); the points in flight are the gap `--resume` fills. A worker dies with
the parent (PR_SET_PDEATHSIG) if the parent is SIGKILLed.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import platform
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from vitbench import devices as devs
from vitbench.errors import VitbenchError, one_line
from vitbench.measure.spec import BenchSpec
from vitbench.results_io import row_key
from vitbench.runner import Listener, Result, RunResult, error_row, execute, pending, point_row_key
from vitbench.expansion import Point
from vitbench.zoo import ViTConfig

MODULE = "vitbench.workers"
STOP_GRACE_S = 3.0  # a worker asked to stop (stdin closed, then SIGTERM) gets this long before SIGKILL
MAX_START_DEATHS = 3  # workers of one device that died before saying ready: the device is given up
POLL_S = 1.0


# ---------------------------------------------------------------------------------------------- devices

def parse_devices(text: str) -> list[str]:
    """'cuda:0,cuda:1' | 'cpu,cpu' | 'all' (every visible GPU) -> the workers' devices. One kind per run (the
    kind is the rows' `device`); a GPU appears once (two workers timing one GPU would disturb each other)."""
    if str(text).strip().lower() == "all":
        return visible_gpus()
    names = [devs.parse(part) for part in str(text).split(",") if part.strip()]
    if not names:
        raise VitbenchError("--devices needs a comma-separated list (cuda:0,cuda:1 / cpu,cpu) or 'all'")
    if "auto" in names:
        raise VitbenchError("--devices lists concrete devices (cpu, cuda:N) or 'all', not auto")
    kinds = {devs.kind(n) for n in names}
    if len(kinds) > 1:
        raise VitbenchError(f"--devices {text}: mixes cpu and cuda workers; a row's device would depend on which "
                            f"worker took it; run the two kinds as two sweeps")
    names = [("cuda:0" if n == "cuda" else n) for n in names]
    repeated = sorted({n for n in names if devs.is_cuda(n) and names.count(n) > 1})
    if repeated:
        raise VitbenchError(f"--devices {text}: {', '.join(repeated)} listed twice; one worker per GPU")
    return names


def visible_gpus() -> list[str]:
    """cuda:0 .. cuda:N-1 for the GPUs this process sees (imports torch); VitbenchError when there are none."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise VitbenchError("--devices all: no CUDA device is visible here; list CPU workers instead "
                            "(e.g. --devices cpu,cpu)")
    return [f"cuda:{i}" for i in range(count)]


def check_devices(names: Sequence[str]) -> None:
    """Refuse a GPU this machine does not have (one line), before any worker starts."""
    for name in names:
        if devs.is_cuda(name):
            devs.resolve(name)


def pool_kind(names: Sequence[str]) -> str:
    """The rows' device for these workers: 'cuda' (each worker's own GPU) or 'cpu'."""
    return devs.kind(names[0])


def cpu_budget() -> int:
    """Cores this process may run on (its affinity mask: a Slurm allocation or taskset), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def worker_env(device: str, threads: Optional[int], base: Optional[dict] = None) -> dict:
    """The environment of a worker on `device`: its GPU alone visible (mapped through any CUDA_VISIBLE_DEVICES
    this process has), or its torch thread count for the OpenMP/MKL pools."""
    env = dict(os.environ if base is None else base)
    if devs.is_cuda(device):
        index = int(device.partition(":")[2] or 0)
        visible = [v.strip() for v in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
        env["CUDA_VISIBLE_DEVICES"] = visible[index] if "CUDA_VISIBLE_DEVICES" in env and index < len(visible) \
            else str(index)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


# ---------------------------------------------------------------------------------------------- messages

def encode_point(p: Point) -> dict:
    """A Point as JSON: its config and spec as their dataclass fields."""
    return {"index": p.index, "values": p.values, "cfg": dataclasses.asdict(p.cfg) if p.cfg else None,
            "spec": dataclasses.asdict(p.spec), "measures": list(p.measures), "plan": p.plan,
            "invalid": p.invalid, "cpu_overrides": p.cpu_overrides, "gmacs": p.gmacs_per_forward}


def decode_point(d: dict) -> Point:
    cfg = ViTConfig(**{**d["cfg"], "img_size": tuple(d["cfg"]["img_size"])}) if d["cfg"] else None
    return Point(d["index"], d["values"], cfg, BenchSpec(**d["spec"]), tuple(d["measures"]), d["plan"],
                 d["invalid"], d["cpu_overrides"], d["gmacs"])


# ---------------------------------------------------------------------------------------------- worker side

def serve(device: str, execute_point: Callable[[Point], Result] = execute) -> None:
    """The worker's loop (see the module docstring): say ready, then answer one point per request line."""
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


# ---------------------------------------------------------------------------------------------- parent side

def _now() -> str:
    from vitbench.environment import now_iso

    return now_iso()


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
        self.record = WorkerRecord(device, self.proc.pid, _now())
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
    """Workers on `devices` (see the module docstring). `run` has the contract of vitbench.runner.run; `records`
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


if __name__ == "__main__":
    main()
