"""Relevance benchmark (issue: personal relevance).

1,000 new papers in the window (plus 2,000 older ones that readers rated), 100,000 readers
of whom 20,000 rated five papers each and so have a personal model:

- nightly training (`train_due`) of the 20,000 models: ms per reader (target < 50 ms);
- scoring + selection + planning of the edition for all 100,000 readers (`plan_edition`,
  candidates are the whole window): seconds (target < 60 s), on SQLite and PostgreSQL;
- peak RSS of the process (VmHWM; target < 1.5 GB).

Each run is a fresh process (bench/relevance_run.py), so its peak RSS is its own.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

READERS = 100_000
MODELLED = 20_000
NEW_PAPERS = 1450  # a generated listing: about 1,000 of them are new or cross-listed
STORES = ("sqlite", "postgresql")


def one_run(store: str, readers: int = READERS, modelled: int = MODELLED) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.relevance_run",
            str(readers),
            str(modelled),
            str(NEW_PAPERS),
            store,
        ],
        capture_output=True,
        check=False,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.relevance_run failed: {done.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def run(repeat: int = 2) -> dict[str, Any]:
    results: dict[str, Any] = {"readers": READERS, "modelled": MODELLED}
    for store in STORES:
        runs = [one_run(store) for _ in range(repeat)]
        results[store] = runs
        results[f"{store}_plan_s"] = statistics.median(r["plan_s"] for r in runs)
        results[f"{store}_training_ms"] = statistics.median(
            r["training_ms_per_reader"] for r in runs
        )
        results[f"{store}_peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return results


def report(results: dict[str, Any]) -> str:
    first = results[STORES[0]][0]
    lines = [
        f"{results['readers']:,} readers ({results['modelled']:,} with a model), "
        f"{first['window_papers']:,} papers in the window; medians of "
        f"{len(results[STORES[0]])} runs per store:",
        "",
        "| store | plan (score + select + write) s | training ms / reader | peak RSS MB | "
        "deliveries | segments |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for store in STORES:
        last = results[store][-1]
        lines.append(
            f"| {store} | {results[f'{store}_plan_s']:.1f} | "
            f"{results[f'{store}_training_ms']:.1f} | {results[f'{store}_peak_rss_mb']:.0f} | "
            f"{last['deliveries']:,} | {last['segments']:,} |"
        )
    lines.append("")
    lines.append("Targets: plan < 60 s, training < 50 ms per reader, peak RSS < 1,536 MB.")
    return "\n".join(lines)
