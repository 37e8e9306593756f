"""Runtime measurement: timing loops, memory, statistics. Only `stats` is torch-free."""
