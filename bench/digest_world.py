"""Synthetic papers and readers for the digest benchmarks (bench/digest.py).

Papers carry a unique marker word ("kw007") so a reader following a few marker words gets
exactly those papers: 10,000 readers with 6 random markers each have 10,000 distinct
selections, the worst case for segmenting.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.persist import store_entries
from pipeline.store.db import write_transaction
from pipeline.store.models import Source, Subscriber

CATEGORIES = ("cs.LG", "cs.CL", "cs.CV", "stat.ML", "cs.AI")
ABSTRACT = (
    "We introduce a method that improves sample efficiency of large models by routing tokens "
    "through sparse experts, and we evaluate it on language, vision and speech benchmarks. "
)


def marker(i: int) -> str:
    return f"kw{i:03d}"


def seed_papers(factory: sessionmaker[Session], n: int = 100) -> None:
    entries = [
        PaperEntry(
            key=f"arxiv:2502.{i:05d}",
            arxiv_id=f"2502.{i:05d}",
            external_id=f"2502.{i:05d}",
            title=f"Scaling sparse experts for multimodal reasoning, study {marker(i)}",
            abstract=ABSTRACT * 5,
            authors=tuple(f"Author {k} Surname{i}" for k in range(8)),
            categories=(CATEGORIES[i % len(CATEGORIES)],),
            links={
                "abs": f"https://arxiv.org/abs/2502.{i:05d}",
                "pdf": f"https://arxiv.org/pdf/2502.{i:05d}",
                "code": f"https://github.com/example/paper-{i}",
            },
            upvotes=1000 - i,
        )
        for i in range(n)
    ]
    with write_transaction(factory) as session:
        source = Source(name="bench", kind="hf-daily", url="https://example.org/bench")
        session.add(source)
        session.flush()
        store_entries(session, source.id, entries, datetime.now(UTC))


def _row(i: int, now: datetime, **prefs: object) -> dict[str, object]:
    email = f"reader{i}@bench.example.net"
    row: dict[str, object] = {
        "email": email,
        "email_key": email,
        "status": "active",
        "categories": [],
        "keywords": [],
        "cadence": "daily",
        "papers_per_digest": 10,
        "send_hour": 8,
        "timezone": "UTC",
        "weekly_day": 0,
        "paused": False,
        "token_version": 1,
        "consent_at": now,
        "consent_channel": "import",
        "confirmed_at": now,
        "created_at": now,
        "updated_at": now,
    }
    row.update(prefs)
    return row


def _insert(factory: sessionmaker[Session], rows: list[dict[str, object]]) -> None:
    with write_transaction(factory) as session:
        for start in range(0, len(rows), 2000):
            session.execute(insert(Subscriber), rows[start : start + 2000])


def add_distinct_readers(factory: sessionmaker[Session], n: int, papers: int = 100) -> None:
    """n readers, each following 6 random marker words (6-10 papers per digest): every
    reader's selection is the 6 papers with their markers, all selections distinct."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    seen: set[tuple[int, ...]] = set()
    rows: list[dict[str, object]] = []
    while len(rows) < n:
        chosen = tuple(sorted(rng.sample(range(papers), 6)))
        if chosen in seen:
            continue
        seen.add(chosen)
        rows.append(
            _row(
                len(rows),
                now,
                keywords=[marker(i) for i in chosen],
                papers_per_digest=rng.randint(6, 10),
            )
        )
    _insert(factory, rows)


def add_grouped_readers(factory: sessionmaker[Session], n: int) -> None:
    """n readers spread over every non-empty set of the 5 categories (31 segments), the
    realistic case: many readers share a selection."""
    combos = [c for k in range(1, 6) for c in itertools.combinations(CATEGORIES, k)]
    now = datetime.now(UTC)
    _insert(factory, [_row(i, now, categories=list(combos[i % len(combos)])) for i in range(n)])
