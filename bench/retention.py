"""Retention benchmark (issue "A million readers", part 3): bytes per reader per year.

On PostgreSQL, one edition of 20,000 readers is planned and really sent (send_edition into
Postfix's smtp-sink), so its rows are what the ledger writes: a delivery, an attempt, their
index entries, the segments. After VACUUM (as autovacuum would leave it) the relations are
measured with pg_total_relation_size; then the edition is compacted (retention) and the
relations are measured again. Bytes per reader per day times 365 is the yearly figure for a
daily reader: before, every row is kept forever; after, the rows live for the retention
period and only sent_history (and the edition's summary) stays.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from bench.common import postgres_engine
from bench.digest import smtp_sink
from bench.digest_world import add_grouped_readers, seed_papers
from pipeline.delivery import send_edition
from pipeline.delivery.retention import compact_ledger
from pipeline.digest.planning import plan_edition
from pipeline.settings import load_settings
from pipeline.store.db import session_factory, write_transaction
from pipeline.timeutil import utcnow
from pipeline.wiring import Wiring

READERS = 20_000
LEDGER = ("deliveries", "delivery_attempts", "delivery_claims", "segments", "sent_history")
# What a reader's day adds to the ledger. delivery_claims is left out: it holds only the rows
# in flight, so its size follows the send rate between two vacuums, not the readers.
PER_READER = ("deliveries", "delivery_attempts", "segments", "sent_history")
DAYS_PER_YEAR = 365
MILLION = 1_000_000


def relation_bytes(engine: Engine) -> dict[str, int]:
    """pg_total_relation_size (heap, indexes, TOAST) of each ledger table, after VACUUM."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in LEDGER:
            conn.execute(text(f"VACUUM {table}"))
        return {
            table: int(conn.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar_one())
            for table in LEDGER
        }


def run() -> dict[str, Any]:
    with postgres_engine() as engine, smtp_sink() as port, tempfile.TemporaryDirectory() as folder:
        factory = session_factory(engine)
        seed_papers(factory)
        add_grouped_readers(factory, READERS)
        with write_transaction(factory) as session:
            edition_id = plan_edition(session).edition_id
        settings = dataclasses.replace(
            load_settings({}),
            data_dir=Path(folder),
            database_url=engine.url.render_as_string(hide_password=False),
            smtp_url=f"smtp://127.0.0.1:{port}",
            secret_key="bench-secret-0123456789abcdef",
            base_url="https://papers.example.org",
        )
        wiring = Wiring(settings, factory)
        report = send_edition(
            factory, edition_id, wiring.composer(), wiring.transports, wiring.send_policy()
        )
        assert report.sent == READERS, report
        before = relation_bytes(engine)
        start = time.perf_counter()
        compacted = compact_ledger(factory, 90, now=utcnow() + timedelta(days=91))
        seconds = time.perf_counter() - start
        assert compacted.deliveries_removed == READERS, compacted
        after = relation_bytes(engine)
        with engine.connect() as conn:
            summary_bytes = int(
                conn.execute(
                    text("SELECT pg_column_size(summary) + pg_column_size(compacted) FROM editions")
                ).scalar_one()
            )
    kept_per_day = sum(before[t] for t in PER_READER) / READERS
    history_per_day = after["sent_history"] / READERS
    return {
        "readers": READERS,
        "bytes_before": before,
        "bytes_after": after,
        "bytes_per_reader_day_kept": kept_per_day,
        "bytes_per_reader_day_history": history_per_day,
        "bytes_per_reader_year_before": kept_per_day * DAYS_PER_YEAR,
        "bytes_per_reader_year_after": history_per_day * DAYS_PER_YEAR,
        "edition_summary_bytes": summary_bytes,
        "retention_seconds": seconds,
        "retention_rows_per_s": READERS / seconds,
        "retention_batches": compacted.batches,
    }


def report(results: dict[str, Any]) -> str:
    before, after = results["bytes_before"], results["bytes_after"]
    readers = results["readers"]
    lines = [
        f"One edition sent to {readers:,} readers on PostgreSQL, then compacted by retention; "
        "pg_total_relation_size after VACUUM, per reader (one daily digest):",
        "",
        "| relation | bytes per reader, as sent | after retention |",
        "| --- | ---: | ---: |",
    ]
    for table in LEDGER:
        lines.append(
            f"| {table} | {before[table] / readers:,.0f} | {after[table] / readers:,.0f} |"
        )
    year_before = results["bytes_per_reader_year_before"]
    year_after = results["bytes_per_reader_year_after"]
    lines += [
        "",
        f"Per daily reader per year: {year_before / 1000:,.0f} kB kept forever before; "
        f"{year_after / 1000:,.1f} kB a year after (sent_history), plus the retention window "
        f"(90 days of rows as sent, {results['bytes_per_reader_day_kept'] * 90 / 1000:,.0f} kB, "
        "which does not grow). At a million daily readers: "
        f"{year_before * MILLION / 1e9:,.0f} GB a year before, "
        f"{year_after * MILLION / 1e9:,.0f} GB a year after "
        f"(+ {results['bytes_per_reader_day_kept'] * 90 * MILLION / 1e9:,.0f} GB window).",
        "",
        f"Retention removed {readers:,} deliveries in {results['retention_seconds']:.1f} s "
        f"({results['retention_rows_per_s']:,.0f} rows/s, {results['retention_batches']} "
        f"batches); the edition's summary and compacted counts take "
        f"{results['edition_summary_bytes']} bytes.",
    ]
    return "\n".join(lines)
