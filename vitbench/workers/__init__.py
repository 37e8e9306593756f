"""`sweep --devices`: a pool of worker processes, one per device; the parent writes every row. No torch here.

A worker is a long-lived `python -m vitbench.workers --device D [--threads T]` process pinned to one device:
a CUDA worker sees only its GPU (CUDA_VISIBLE_DEVICES, so `cuda` inside it is that GPU and rows keep the
device of a plain run), a CPU worker gets its share of this process's cores as torch threads (OMP_NUM_THREADS
too). The parent hands each idle worker the next point; the worker runs it with `vitbench.runner.execute` (the
code of a plain run, `--isolate` and the CPU-memory child included) and sends back the row and its raw samples;
the parent appends them through its Session as they arrive (one writer; any order). Cost-only and invalid
points need no device: the parent computes them itself, and starts no worker when nothing is measured.

A worker that dies (EOF before its reply: SIGKILL, a segfault, the OOM killer, an exit) gets its point written
as an `error` row naming the signal or exit code and the last line of its stderr, and a fresh worker replaces
it on the same device (three deaths while starting, and the device is given up). A worker whose CUDA context
is lost (`fatal`, a sticky error) is retired with its device; the run stops (CudaContextLost) when points are
left and no device is. Workers run in their own session, so Ctrl-C reaches the parent only: its Session turns
SIGINT / SIGTERM into KeyboardInterrupt after the row being written, and the pool stops every worker
(SIGTERM, SIGKILL after STOP_GRACE_S); the points in flight are the gap `--resume` fills. A worker dies with
the parent (PR_SET_PDEATHSIG) if the parent is SIGKILLed.

Modules (imports point down the list):

    device_list   the --devices grammar, each worker's pinning (environment), the CPU budget
    protocol      a Point as JSON, and the JSON-lines messages both sides exchange
    serve         the worker process: its loop (serve) and command line (main; __main__ runs it)
    pool          the parent side: Pool starts, feeds, replaces and stops the workers
"""
