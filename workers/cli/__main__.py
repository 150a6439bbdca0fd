"""`python -m workers.cli` is `paperround` (used by `paperround run` to start children)."""

from workers.cli import main

main()
