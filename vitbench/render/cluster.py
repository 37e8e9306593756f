"""What `sweep --executor` prints: the jobs submitted (or waited for), a progress bar over finished points while
they run, and what the merge found. No torch."""

from __future__ import annotations

import time
from typing import Callable

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def submitted_lines(sub, output, opts) -> list[str]:
    """The header: what was submitted now, or which earlier jobs are still running, or that nothing was."""
    from vitbench.cluster.merge import merge_command

    lines = []
    if sub.new:
        ids = ", ".join(e.job_id for e in sub.new[:8]) + (" ..." if len(sub.new) > 8 else "")
        again = f" ({sub.done_before} of {sub.total} points already have rows)" if sub.done_before else ""
        lines.append(f"[bold]submitted {len(sub.new)} {opts.executor} job(s)[/] for "
                     f"{sum(e.points for e in sub.new)} points{again}: {ids}; job files in {sub.folder}")
    elif sub.waiting_for:
        lines.append(f"[bold]{len(sub.waiting_for)} job(s) of an earlier call are still queued or running[/] "
                     f"({', '.join(e.job_id for e in sub.waiting_for[:8])}); waiting for them, submitting nothing")
    else:
        lines.append(f"every point of the suite has a row in {sub.folder}; merging")
    if not opts.wait and (sub.new or sub.waiting_for):
        lines.append("not waiting (--no-wait). When the jobs have ended, merge their rows with:")
        lines.append(f"  {merge_command(sub.folder, output, sub.state.jobs)}")
        lines.append("or re-run this command: it waits for running jobs, resubmits missing points and merges.")
    return lines


def merged_lines(merged, sub) -> list[str]:
    """After the merge: failed jobs (one line each), the rows merged, what is missing and how to get it."""
    lines = [f"[red]job {escape(f)}[/]" for f in merged.failures]
    if merged.missing:
        lines.append(f"[yellow]{merged.missing} point(s) have no row yet[/]; re-run the same command to submit "
                     f"only those, then it merges again")
    return lines


class JobsProgress:
    """on_tick(points done, jobs running, jobs ended) for cluster.wait: a rich bar on a terminal; elsewhere (logs,
    CI) one line whenever a job ends."""

    def __init__(self, console: Console, total: int, clock: Callable[[], float] = time.monotonic):
        self.console, self.total, self.clock, self.ended = console, total, clock, -1
        self.start = clock()
        self.progress = Progress(TextColumn("points"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.description}"), console=console, transient=True) \
            if console.is_terminal else None
        self.task = None

    def __enter__(self) -> "JobsProgress":
        if self.progress:
            self.progress.start()
            self.task = self.progress.add_task("", total=self.total)
        return self

    def __exit__(self, *exc) -> None:
        if self.progress:
            self.progress.stop()

    def tick(self, done: int, running: int, ended: int) -> None:
        state = f"jobs: {running} queued or running, {ended} ended"
        if self.progress:
            self.progress.update(self.task, completed=done, description=state)
        if ended != self.ended:
            self.ended = ended
            self.console.print(f"[dim]{self.clock() - self.start:6.1f} s[/] {done}/{self.total} points; {state}")
