"""One scale benchmark run in its own process, so its peak RSS is its own:

    python -m bench.scale_run READERS EDITIONS cli|beat

On a fresh PostgreSQL schema: READERS confirmed daily readers (a third following nothing, a
third one or two categories, a third a few keywords; inserted by the database itself, so
seeding costs the process no memory) and EDITIONS days of papers, 300 new ones a day plus 20
of the day before listed again (new versions: what "never twice" is for). Then, day after
day: plan the day's edition by the CLI's path (one `plan_edition` call) or the beat's
(`plan_due`, one transaction per 5,000 readers), timed; mark every row sent with the rows a
sender writes (the delivery settled, one attempt each, the edition closed with its
summary); ANALYZE, as autovacuum would before the next morning.

Peak RSS (VmHWM) is reset after seeding, so it is planning's own. Prints JSON.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bench.common import postgres_engine
from bench.digest_run import peak_rss_mb
from pipeline.delivery.sending import finish_if_done
from pipeline.digest.due import plan_due
from pipeline.digest.planning import plan_edition
from pipeline.ingest.formats import parse_body
from pipeline.ingest.formats.synthetic import arxiv_rss_feed
from pipeline.ingest.persist import store_entries
from pipeline.store.db import session_factory, write_transaction
from pipeline.store.models import Paper, Source

NEW_A_DAY = 300
RELISTED_A_DAY = 20
POOL, GRAVITY, CATCH_UP = 20_000, 1.5, 6

READERS_SQL = """
INSERT INTO subscribers (email, email_key, link_id, status, categories, keywords, cadence,
    papers_per_digest, send_hour, timezone, weekly_day, paused, token_version, consent_at,
    consent_channel, confirmed_at, created_at, updated_at)
SELECT 'reader' || i || '@scale.example.net', 'reader' || i || '@scale.example.net',
    md5('scale' || i), 'active',
    CAST(CASE WHEN i % 3 = 1 THEN (ARRAY['["cs.LG"]', '["cs.CL", "cs.AI"]', '["cs.CV"]',
        '["stat.ML", "cs.LG"]'])[1 + i % 4] ELSE '[]' END AS JSON),
    CAST(CASE WHEN i % 3 = 2 THEN (ARRAY['["diffusion"]', '["graphs", "latency"]',
        '["attention", "sparse", "scaling"]'])[1 + i % 3] ELSE '[]' END AS JSON),
    'daily', 10, 8, 'UTC', 0, false, 1, :now, 'import', :now, :now, :now
FROM generate_series(1, :readers) AS i
"""

MARK_SENT_SQL = [
    """
    INSERT INTO delivery_attempts (delivery_id, kind, outcome, code, detail, message_id, at)
    SELECT id, 'send', 'sent', 250, '2.0.0 Ok: queued', '<' || id || '@scale.example.net>', :now
    FROM deliveries WHERE edition_id = :edition
    """,
    """
    UPDATE deliveries SET status = 'sent', attempts = 1, sent_at = :now, last_code = 250,
        message_id = '<' || id || '@scale.example.net>', claim_token = NULL, updated_at = :now
    WHERE edition_id = :edition
    """,
]


def _reset_peak_rss() -> None:
    """Start VmHWM again from the current RSS (Linux: clear_refs value 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def _seed(factory: sessionmaker[Session], readers: int, days: int, first: datetime) -> None:
    feed = arxiv_rss_feed(NEW_A_DAY * days, seed=3)
    _kind, parsed = parse_body("arxiv-rss", feed, "https://rss.arxiv.org/rss/cs.LG")
    with write_transaction(factory) as session:
        source = Source(name="scale", kind="arxiv-rss", url="https://example.org/scale")
        session.add(source)
        session.flush()
        for day in range(days):
            batch = parsed.entries[day * NEW_A_DAY : (day + 1) * NEW_A_DAY]
            store_entries(session, source.id, batch, first + timedelta(days=day, hours=-2))
        session.execute(text(READERS_SQL), {"now": first - timedelta(days=1), "readers": readers})


def _relist(factory: sessionmaker[Session], day_start: datetime) -> None:
    """Some of yesterday's papers come back as new versions in today's window."""
    with write_transaction(factory) as session:
        yesterday = list(
            session.scalars(
                select(Paper.id)
                .where(
                    Paper.listed_at >= day_start - timedelta(days=1),
                    Paper.listed_at < day_start - timedelta(hours=12),
                )
                .order_by(Paper.id)
                .limit(RELISTED_A_DAY)
            )
        )
        session.execute(update(Paper).where(Paper.id.in_(yesterday)).values(listed_at=day_start))


def _mark_sent(engine: Engine, factory: sessionmaker[Session], edition: int, now: datetime) -> None:
    with engine.begin() as conn:
        for sql in MARK_SENT_SQL:
            conn.execute(text(sql), {"now": now, "edition": edition})
    finish_if_done(factory, edition, now)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def _autovacuum(engine: Engine) -> dict[str, int]:
    """How often autovacuum and autoanalyze have processed `deliveries` so far: they run
    beside planning on the same cores once its chunks are committed."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT autovacuum_count, autoanalyze_count FROM pg_stat_user_tables "
                "WHERE relname = 'deliveries' AND schemaname = current_schema()"
            )
        ).one()
    return {"autovacuum_count": int(row[0]), "autoanalyze_count": int(row[1])}


def _plan(factory: sessionmaker[Session], path: str, now: datetime) -> tuple[int, int]:
    """(edition id, deliveries) of the day's edition, planned by the CLI's or beat's path."""
    if path == "cli":
        with write_transaction(factory) as session:
            report = plan_edition(session, now=now, pool_size=POOL, gravity=GRAVITY)
        return report.edition_id, report.deliveries
    reports = plan_due(factory, pool_size=POOL, gravity=GRAVITY, catch_up_hours=CATCH_UP, now=now)
    return reports[0].edition_id, sum(r.deliveries for r in reports)


def main(readers: int, editions: int, path: str) -> dict[str, Any]:
    if path not in ("cli", "beat"):
        raise SystemExit(f"path must be cli or beat, not {path!r}")
    today = datetime.now(UTC).replace(hour=8, minute=10, second=0, microsecond=0)
    first = today - timedelta(days=editions)
    runs = []
    with postgres_engine() as engine:
        factory = session_factory(engine)
        start = time.perf_counter()
        _seed(factory, readers, editions, first)
        seed_s = time.perf_counter() - start
        for day in range(editions):
            now = first + timedelta(days=day)
            if day:
                _relist(factory, now - timedelta(hours=1))
            _reset_peak_rss()
            start = time.perf_counter()
            edition, deliveries = _plan(factory, path, now)
            plan_s = time.perf_counter() - start
            runs.append(
                {
                    "plan_s": plan_s,
                    "deliveries": deliveries,
                    "peak_rss_mb": peak_rss_mb(),
                    **_autovacuum(engine),
                }
            )
            _mark_sent(engine, factory, edition, now + timedelta(minutes=30))
    return {"readers": readers, "editions": editions, "path": path, "seed_s": seed_s, "runs": runs}


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(int(args[0]), int(args[1]), args[2])))
