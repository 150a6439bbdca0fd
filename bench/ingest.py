"""Ingestion benchmark (issue: foundation): parse + normalize + upsert of a 10,000-entry
arXiv-style feed into SQLite and PostgreSQL, next to bare feedparser.parse of the same bytes.

Target: end-to-end entries/s >= 50% of the bare feedparser rate.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import feedparser
from sqlalchemy import Engine, text

from bench.common import median_seconds, postgres_engine, sqlite_engine
from pipeline.ingest.formats import parse_body
from pipeline.ingest.formats.synthetic import arxiv_rss_feed
from pipeline.ingest.persist import store_entries
from pipeline.store.db import session_factory, write_transaction
from pipeline.store.models import Source

ENTRIES = 10_000


def _fresh_run(make_engine: Callable[[], AbstractContextManager[Engine]], body: bytes) -> float:
    """One end-to-end ingestion into an empty store; returns seconds (store setup excluded)."""
    import time

    with make_engine() as engine:
        factory = session_factory(engine)
        with write_transaction(factory) as session:
            source = Source(name="bench", kind="arxiv-rss", url="https://example.org/rss")
            session.add(source)
            session.flush()
            source_id = source.id
        start = time.perf_counter()
        _kind, parsed = parse_body(
            "arxiv-rss", body, "https://example.org/rss", "application/rss+xml"
        )
        with write_transaction(factory) as session:
            counts = store_entries(session, source_id, parsed.entries, datetime.now(UTC))
        elapsed = time.perf_counter() - start
        assert counts.new == ENTRIES, counts
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from papers")).scalar() == ENTRIES
        return elapsed


def run(repeat: int = 5) -> dict[str, Any]:
    body = arxiv_rss_feed(ENTRIES, seed=1)
    bare, _ = median_seconds(lambda: feedparser.parse(body), repeat=3)
    results: dict[str, Any] = {
        "entries": ENTRIES,
        "feed_bytes": len(body),
        "feedparser_entries_per_s": ENTRIES / bare,
    }
    for name, maker in (("sqlite", sqlite_engine), ("postgresql", postgres_engine)):
        samples = sorted(_fresh_run(maker, body) for _ in range(repeat))
        median = samples[len(samples) // 2]
        results[f"{name}_entries_per_s"] = ENTRIES / median
        results[f"{name}_ratio_to_feedparser"] = (ENTRIES / median) / (ENTRIES / bare)
    return results


def report(results: dict[str, Any]) -> str:
    fp = results["feedparser_entries_per_s"]
    lines = [
        f"Ingestion of a generated {results['entries']:,}-entry arXiv RSS feed "
        f"({results['feed_bytes'] / 1e6:.1f} MB), medians:",
        "",
        "| path | entries/s | ratio to bare feedparser |",
        "| --- | ---: | ---: |",
        f"| bare `feedparser.parse` (reference) | {fp:,.0f} | 1.00 |",
    ]
    for name in ("sqlite", "postgresql"):
        rate = results[f"{name}_entries_per_s"]
        lines.append(f"| parse + normalize + upsert into {name} | {rate:,.0f} | {rate / fp:.2f} |")
    return "\n".join(lines)
