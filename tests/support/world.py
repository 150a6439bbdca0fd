"""Seeding a store with papers and readers for digest and delivery tests."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.persist import store_entries
from pipeline.settings import Settings, load_settings
from pipeline.store.db import write_transaction
from pipeline.store.models import Source, Subscriber
from tests.conftest import REDIS_PREFIX

CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "stat.ML", "cs.AI"]


def settings_for(
    tmp_path: Path, database_url: str, smtp_url: str = "capture", **kw: object
) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "var",
        "database_url": database_url,
        "smtp_url": smtp_url,
        "secret_key": "test-secret-key-0123456789abcdef",
        "base_url": "https://papers.example.org",
        "retry_backoff_seconds": 0.05,
        "redis_key_prefix": REDIS_PREFIX,
    }
    values.update(kw)
    return dataclasses.replace(load_settings({}), **values)  # type: ignore[arg-type]


def seed_papers(sessions, n: int = 30, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    with write_transaction(sessions) as session:
        source = Source(name="seed", kind="hf-daily", url="https://example.org/seed")
        session.add(source)
        session.flush()
        entries = [
            PaperEntry(
                key=f"arxiv:2411.{i:05d}",
                arxiv_id=f"2411.{i:05d}",
                title=f"Paper number {i} on {'diffusion' if i % 3 == 0 else 'transformers'}",
                external_id=f"2411.{i:05d}",
                abstract=f"We study problem {i}. " * 20,
                authors=tuple(f"Author {i}-{k}" for k in range(4)),
                categories=(CATEGORIES[i % len(CATEGORIES)],),
                links={
                    "abs": f"https://arxiv.org/abs/2411.{i:05d}",
                    "pdf": f"https://arxiv.org/pdf/2411.{i:05d}",
                },
                upvotes=100 - i,
            )
            for i in range(n)
        ]
        store_entries(session, source.id, entries, now)


def add_readers(
    sessions, n: int, *, domain: str = "example.net", start: int = 0, **prefs: object
) -> list[str]:
    """Active readers reader<i>@domain, inserted in bulk (like an import of confirmed readers)."""
    now = datetime.now(UTC)
    rows = []
    for i in range(start, start + n):
        email = f"reader{i}@{domain}"
        row: dict[str, object] = {
            "email": email,
            "email_key": email,
            "status": "active",
            "categories": [],
            "keywords": [],
            "cadence": "daily",
            "papers_per_digest": 5,
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
        rows.append(row)
    with write_transaction(sessions) as session:
        for s in range(0, len(rows), 2000):
            session.execute(insert(Subscriber), rows[s : s + 2000])
    return [str(r["email"]) for r in rows]


def link_id_of(sessions, email: str) -> str:
    """The opaque id in a reader's signed links."""
    from sqlalchemy import select

    from pipeline.store.models import Subscriber

    with sessions() as session:
        return str(
            session.scalars(select(Subscriber.link_id).where(Subscriber.email == email)).one()
        )
