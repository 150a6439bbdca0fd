"""Upserting papers on SQLite and PostgreSQL: dedupe, merge, sightings, upvote history, races."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.persist import store_entries
from pipeline.store.db import write_transaction
from pipeline.store.models import Paper, Sighting, Source, UpvoteSnapshot
from tests.conftest import Store

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _source(store: Store, name: str) -> int:
    with write_transaction(store.sessions) as session:
        source = Source(name=name, kind="arxiv-rss", url=f"https://example.org/{name}")
        session.add(source)
        session.flush()
        return source.id


def _entry(n: int, **kw: object) -> PaperEntry:
    arxiv_id = f"2411.{n:05d}"
    fields: dict[str, object] = {
        "key": f"arxiv:{arxiv_id}",
        "arxiv_id": arxiv_id,
        "title": f"Paper {n}",
        "external_id": f"oai:arXiv.org:{arxiv_id}v1",
        "abstract": "Short.",
        "authors": ("Ann Author",),
        "categories": ("cs.LG",),
        "links": {"abs": f"https://arxiv.org/abs/{arxiv_id}"},
        "version": 1,
    }
    fields.update(kw)
    return PaperEntry(**fields)  # type: ignore[arg-type]


def _store(store: Store, source_id: int, entries: list[PaperEntry], now: datetime = NOW):
    with write_transaction(store.sessions) as session:
        return store_entries(session, source_id, entries, now)


def test_same_feed_twice_adds_nothing(store: Store) -> None:
    src = _source(store, "rss")
    entries = [_entry(n) for n in range(1200)]  # more than one chunk
    first = _store(store, src, entries)
    assert (first.new, first.updated, first.unchanged) == (1200, 0, 0)
    second = _store(store, src, entries, NOW + timedelta(hours=1))
    assert (second.new, second.updated, second.unchanged) == (0, 0, 1200)
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 1200
        assert session.scalar(select(func.count()).select_from(Sighting)) == 1200
        last_seen = session.scalar(select(func.max(Sighting.last_seen_at)))
        assert last_seen == NOW + timedelta(hours=1)


def test_one_paper_across_sources_richest_wins(store: Store) -> None:
    rss, hf = _source(store, "rss"), _source(store, "hf")
    _store(store, rss, [_entry(1, categories=("cs.LG", "cs.AI"))])
    richer = _entry(
        1,
        abstract="A much longer abstract that says a lot more than the short one.",
        authors=("Ann Author", "Bob Builder"),
        categories=("cs.CL",),
        links={"code": "https://github.com/x/y"},
        upvotes=12,
        version=None,
    )
    counts = _store(store, hf, [richer])
    assert (counts.new, counts.updated) == (0, 1)
    with store.sessions() as session:
        paper = session.scalars(select(Paper)).one()
        assert paper.abstract.startswith("A much longer")
        assert paper.authors == ["Ann Author", "Bob Builder"]
        assert paper.categories == ["cs.LG", "cs.AI", "cs.CL"]
        assert paper.links == {
            "abs": "https://arxiv.org/abs/2411.00001",
            "code": "https://github.com/x/y",
        }
        assert paper.upvotes == 12
        assert len(paper.sightings) == 2


def test_newer_version_replaces_title(store: Store) -> None:
    src = _source(store, "rss")
    _store(store, src, [_entry(1, title="Old title", version=1)])
    _store(store, src, [_entry(1, title="New title", version=2)])
    _store(store, src, [_entry(1, title="Stale v1 again", version=1)])
    with store.sessions() as session:
        paper = session.scalars(select(Paper)).one()
        assert (paper.title, paper.version) == ("New title", 2)


def test_upvote_history_only_on_change(store: Store) -> None:
    hf = _source(store, "hf")
    for hours, votes in [(0, 3), (1, 3), (2, 9), (3, 9), (4, 7)]:
        _store(store, hf, [_entry(1, upvotes=votes)], NOW + timedelta(hours=hours))
    with store.sessions() as session:
        history = session.execute(
            select(UpvoteSnapshot.upvotes).order_by(UpvoteSnapshot.observed_at)
        ).scalars()
        assert list(history) == [3, 9, 7]
        # a decrease is honored: the paper shows what sources report now
        assert session.scalars(select(Paper.upvotes)).one() == 7


def test_duplicates_inside_one_feed_collapse(store: Store) -> None:
    src = _source(store, "rss")
    counts = _store(store, src, [_entry(1, announce_type="new"), _entry(1, announce_type="cross")])
    assert counts.new == 1
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 1


def test_concurrent_ingestions_create_no_duplicates(store: Store) -> None:
    a, b = _source(store, "a"), _source(store, "b")
    entries = [_entry(n) for n in range(300)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(source_id: int) -> None:
        try:
            barrier.wait()
            _store(store, source_id, entries)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(sid,)) for sid in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 300
        assert session.scalar(select(func.count()).select_from(Sighting)) == 600


def test_removing_a_source_keeps_papers(store: Store) -> None:
    src = _source(store, "rss")
    _store(store, src, [_entry(1)])
    with write_transaction(store.sessions) as session:
        session.delete(session.get(Source, src))
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 1
        assert session.scalar(select(func.count()).select_from(Sighting)) == 0
