"""A store holding the real-looking abstracts as papers, and readers to rate them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.persist import store_entries
from pipeline.store.db import write_transaction
from pipeline.store.models import Paper, Source, Subscriber
from tests.pipeline.relevance.corpus import abstracts
from tests.support.world import add_readers

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
T = TypeVar("T")


def seed_fields(
    sessions: sessionmaker[Session],
    at: datetime = NOW,
    prefix: str = "2611",
    upvotes: bool = True,
    half: int | None = None,
) -> dict[str, list[int]]:
    """The abstracts as papers listed at `at` (all 48, or with `half` 0 or 1 the first or
    last six of each field), ids by field. Upvotes fall with the fixture's order (nlp
    first), so trending alone favors the first field."""
    corpus = abstracts()
    if half is not None:
        seen: dict[str, int] = {}
        kept = []
        for item in corpus:
            seen[item.field] = seen.get(item.field, 0) + 1
            if (seen[item.field] > 6) == bool(half):
                kept.append(item)
        corpus = kept
    with write_transaction(sessions) as session:
        source = session.scalar(select(Source).where(Source.name == "fields"))
        if source is None:
            source = Source(name="fields", kind="feed", url="https://example.org/fields")
            session.add(source)
            session.flush()
        entries = [
            PaperEntry(
                key=f"arxiv:{prefix}.{i:05d}",
                arxiv_id=f"{prefix}.{i:05d}",
                title=item.paper.title,
                external_id=f"{prefix}.{i:05d}",
                abstract=item.paper.abstract,
                authors=(f"{chr(65 + i % 26)}. Surname{i}",),
                categories=tuple(item.paper.categories),
                links={"abs": f"https://arxiv.org/abs/{prefix}.{i:05d}"},
                upvotes=(100 - i) if upvotes else None,
            )
            for i, item in enumerate(corpus)
        ]
        store_entries(session, source.id, entries, at)
    with sessions() as session:
        ids = dict(
            session.execute(
                select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.like(f"{prefix}.%"))
            )
            .tuples()
            .all()
        )
    by_field: dict[str, list[int]] = {}
    for i, item in enumerate(corpus):
        by_field.setdefault(item.field, []).append(ids[f"{prefix}.{i:05d}"])
    return by_field


def reader(sessions: sessionmaker[Session], email: str, **prefs: object) -> Subscriber:
    local, _, domain = email.partition("@")
    add_readers(sessions, 1, domain=domain, start=int(local.removeprefix("reader")), **prefs)
    with sessions() as session:
        found = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        session.expunge(found)
        return found


def a_day_later(when: datetime = NOW) -> datetime:
    return when + timedelta(days=1)


def get(session: Session, model: type[T], ident: int) -> T:
    """A row that must exist (a test that loses it should fail here, plainly)."""
    found = session.get(model, ident)
    assert found is not None, f"no {model.__name__} {ident}"
    return found
