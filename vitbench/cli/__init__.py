"""The `vitbench` command. Each command group lives in its own module and registers on the shared app.

Start-up stays light: command modules import torch only inside the commands that need it.
"""

from vitbench.cli.app import app
from vitbench.cli import cost_cmds  # noqa: F401  (registers models, params, flops, split, memory)
from vitbench.cli import train_cmd  # noqa: F401  (registers train-cost)
from vitbench.cli import bench_cmd  # noqa: F401  (registers bench, peak)
from vitbench.cli import sweep_cmd  # noqa: F401  (registers sweep, merge)
from vitbench.cli import compare_cmd  # noqa: F401  (registers compare)
from vitbench.cli import baseline_cmd  # noqa: F401  (registers baseline update)
from vitbench.cli import plot_cmd  # noqa: F401  (registers plot, report)
from vitbench.cli import ab_cmd  # noqa: F401  (registers ab)


def main() -> None:
    import signal

    from vitbench.errors import raise_terminated

    signal.signal(signal.SIGTERM, raise_terminated)  # SIGTERM stops like Ctrl-C: exit 143, nothing lost
    app()


__all__ = ["app", "main"]
