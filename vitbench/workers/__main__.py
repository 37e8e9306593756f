"""`python -m vitbench.workers --device D [--threads T]`: one worker process (vitbench.workers.serve)."""

from vitbench.workers.serve import main

main()
