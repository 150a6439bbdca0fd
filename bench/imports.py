"""Import benchmark (issue: a newcomer's papercuts, item 5): `paperround subscribers import` of
a 100,000-row CSV into an empty store, SQLite and PostgreSQL, as an admin runs it (a real
process, start-up and progress bar included).

Target: 100,000 rows in under 20 s on both stores (before: ~780 rows/s, two minutes).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from bench.common import postgres_engine, sqlite_engine
from pipeline.store.models import Subscriber

ROWS = 100_000
ROOT = Path(__file__).resolve().parents[1]
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
CATEGORIES = ("cs.LG", "cs.CL", "cs.CV", "stat.ML", "cs.AI", "q-bio.NC", "math.ST")


def write_csv(path: Path, rows: int, seed: int = 1) -> None:
    """A list moving to Paperround: every column an export has, `;`-separated lists."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("email,cadence,categories,keywords,papers_per_digest,send_hour,timezone\n")
        for i in range(rows):
            cats = ";".join(rng.sample(CATEGORIES, rng.randint(0, 3)))
            words = ";".join(rng.sample(("diffusion", "agents", "rag", "graph neural"), 2))
            cadence = "weekly" if i % 7 == 0 else "daily"
            out.write(
                f"reader{i}@example{i % 97}.org,{cadence},{cats},{words},"
                f"{rng.randint(3, 15)},{rng.randint(0, 23)},{rng.choice(ZONES)}\n"
            )


def _one_run(make_engine: Callable[[], AbstractContextManager[Engine]], csv_file: Path) -> float:
    """Seconds for one `paperround subscribers import --confirmed` into an empty store."""
    with make_engine() as engine, tempfile.TemporaryDirectory() as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERROUND_")}
        env.update(
            PAPERROUND_DATA_DIR=data_dir,
            PAPERROUND_DATABASE_URL=engine.url.render_as_string(hide_password=False),
            PAPERROUND_SECRET_KEY="bench-secret-0123456789abcdef",
        )
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "workers.cli", "subscribers", "import", str(csv_file),
             "--confirmed"],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Subscriber)) == ROWS
        return elapsed


def run(repeat: int = 3) -> dict[str, Any]:
    results: dict[str, Any] = {"rows": ROWS}
    with tempfile.TemporaryDirectory() as folder:
        csv_file = Path(folder) / "readers.csv"
        write_csv(csv_file, ROWS)
        results["csv_bytes"] = csv_file.stat().st_size
        for name, maker in (("sqlite", sqlite_engine), ("postgresql", postgres_engine)):
            samples = sorted(_one_run(maker, csv_file) for _ in range(repeat))
            median = samples[len(samples) // 2]
            results[f"{name}_seconds"] = median
            results[f"{name}_rows_per_s"] = ROWS / median
            results[f"{name}_samples"] = samples
    return results


def report(results: dict[str, Any]) -> str:
    lines = [
        f"`paperround subscribers import --confirmed` of a {results['rows']:,}-row CSV "
        f"({results['csv_bytes'] / 1e6:.1f} MB) into an empty store, whole process, medians:",
        "",
        "| store | seconds | rows/s | target (< 20 s) |",
        "| --- | ---: | ---: | --- |",
    ]
    for name in ("sqlite", "postgresql"):
        seconds = results[f"{name}_seconds"]
        met = "met" if seconds < 20 else "NOT met"
        lines.append(f"| {name} | {seconds:.1f} | {results[f'{name}_rows_per_s']:,.0f} | {met} |")
    return "\n".join(lines)
