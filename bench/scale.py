"""Scale benchmark (issue: a million readers), PostgreSQL only: `python -m bench scale`.

- readers: the 2nd daily edition (yesterday's sent and ANALYZEd, as after any autoanalyze)
  planned for 100,000 and 1,000,000 readers, by the CLI's path (`digest plan`: one call)
  and the beat's (`plan_due`: 5,000 readers per transaction); time and peak RSS
  (goal at 1,000,000: under 60 s and under 500 MB);
- editions: 30 consecutive daily editions for 100,000 readers, each sent before the next is
  planned; the 30th must plan within 15% of the 2nd ("never twice" costs O(candidates)).

Each configuration is a fresh process and schema (bench/scale_run.py). Slow (~20 minutes),
so `make bench` leaves it out; `make bench-scale` runs it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

READERS = (100_000, 1_000_000)
PATHS = ("cli", "beat")
CURVE_READERS = 100_000
CURVE_EDITIONS = 30


def one_run(readers: int, editions: int, path: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale_run", str(readers), str(editions), path],
        capture_output=True,
        check=False,
        timeout=5400,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.scale_run failed: {done.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def run() -> dict[str, Any]:
    results: dict[str, Any] = {"readers": {}, "editions": None}
    for readers in READERS:
        for path in PATHS:
            second = one_run(readers, 2, path)["runs"][1]
            results["readers"][f"{readers}/{path}"] = second
    curve = one_run(CURVE_READERS, CURVE_EDITIONS, "cli")["runs"]
    times = [r["plan_s"] for r in curve]
    results["editions"] = {
        "plan_s": times,
        "ratio_30th_to_2nd": times[-1] / times[1],
        "ratio_last3_to_2nd_to_4th": statistics.median(times[-3:]) / statistics.median(times[1:4]),
    }
    return results


def report(results: dict[str, Any]) -> str:
    lines = [
        "The 2nd daily edition (the 1st sent and ANALYZEd), PostgreSQL:",
        "",
        "| readers | path | plan s | µs / reader | peak RSS MB | deliveries |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for key, r in results["readers"].items():
        readers, path = key.split("/")
        lines.append(
            f"| {int(readers):,} | {path} | {r['plan_s']:.1f} | "
            f"{1e6 * r['plan_s'] / int(readers):.0f} | {r['peak_rss_mb']:.0f} | "
            f"{r['deliveries']:,} |"
        )
    curve = results["editions"]
    times = curve["plan_s"]
    marks = [1, 2, 5, 10, 15, 20, 25, 30]
    lines += [
        "",
        f"{CURVE_EDITIONS} consecutive daily editions, {CURVE_READERS:,} readers (CLI path), "
        "plan seconds by edition:",
        "",
        "| edition | " + " | ".join(str(m) for m in marks) + " |",
        "| --- | " + " | ".join("---:" for _ in marks) + " |",
        "| plan s | " + " | ".join(f"{times[m - 1]:.2f}" for m in marks) + " |",
        "",
        f"30th / 2nd: {curve['ratio_30th_to_2nd']:.2f} (goal <= 1.15); median of the last "
        f"three / median of the 2nd-4th: {curve['ratio_last3_to_2nd_to_4th']:.2f}",
    ]
    return "\n".join(lines)
