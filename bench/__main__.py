"""`python -m bench [NAME ...]`: run the benchmarks, print Markdown, keep JSON under var/bench."""

from __future__ import annotations

import importlib
import json
import platform
import sys
from datetime import UTC, datetime

from bench.common import RESULTS_DIR

BENCHMARKS = [
    "ingest",
    "digest",
    "web",
    "service",
    "imports",
    "relevance",
    "relevance_quality",
    "retention",
]


def main(argv: list[str]) -> int:
    chosen = argv or BENCHMARKS
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# Paperround benchmarks, {stamp}, Python {platform.python_version()}\n")
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        print(f"## {name}\n", flush=True)
        results = module.run()
        (RESULTS_DIR / f"{name}.json").write_text(json.dumps(results, indent=2, default=str))
        print(module.report(results), "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
