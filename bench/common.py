"""Timing helpers and the throw-away stores benchmarks run against."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from pipeline.store.db import create_engine_for, init_store

PG_URL = os.environ.get(
    "PAPERROUND_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RESULTS_DIR = Path("var/bench")


def median_seconds(run: Callable[[], object], repeat: int = 5) -> tuple[float, list[float]]:
    """Median wall time of `run` over `repeat` calls (and every sample, for the record)."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), samples


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="paperround-bench-") as folder:
        engine = create_engine_for(f"sqlite:///{folder}/bench.db")
        init_store(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgres_engine() -> Iterator[Engine]:
    """An engine bound to a fresh schema in the PostgreSQL server, dropped afterwards."""
    admin = create_engine_for(PG_URL)
    schema = "bench_" + uuid.uuid4().hex[:10]
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_engine_for(url.render_as_string(hide_password=False))
    try:
        init_store(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
