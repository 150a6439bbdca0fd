"""top_trending: the same top N as ranked_papers, from a few batches instead of the window."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, insert, select
from sqlalchemy.engine import Engine

from pipeline.ranking import ranked_papers, top_trending
from pipeline.store.db import write_transaction
from pipeline.store.models import Paper, Sighting, Source, UpvoteSnapshot
from tests.conftest import Store

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=1)


@dataclass(frozen=True)
class Spec:
    """One paper as a test writes it: ages in hours before NOW."""

    upvotes: int = 0
    seen_hours_ago: float = 1.0
    published_shift: float | None = None  # hours after first sight (negative: before)
    sources: tuple[int, ...] = (0,)
    snapshots: tuple[tuple[float, int], ...] = ()  # (hours ago, upvotes then)


def _write(store: Store, specs: list[Spec], n_sources: int = 3) -> None:
    with write_transaction(store.sessions) as session:
        for table in (UpvoteSnapshot, Sighting, Paper, Source):
            session.execute(delete(table))
        source_ids = [
            session.execute(
                insert(Source)
                .values(name=f"s{i}", kind="rss", url=f"https://example.org/{i}", created_at=NOW)
                .returning(Source.id)
            ).scalar_one()
            for i in range(n_sources)
        ]
        papers = []
        for i, spec in enumerate(specs):
            seen = NOW - timedelta(hours=spec.seen_hours_ago)
            published = (
                None
                if spec.published_shift is None
                else seen + timedelta(hours=spec.published_shift)
            )
            papers.append(
                {
                    "key": f"k{i:05d}",
                    "title": f"Paper {i}",
                    "upvotes": spec.upvotes,
                    "first_seen_at": seen,
                    "listed_at": seen,
                    "updated_at": seen,
                    "published_at": published,
                }
            )
        if not papers:
            return
        ids = list(
            session.scalars(insert(Paper).returning(Paper.id, sort_by_parameter_order=True), papers)
        )
        sightings = [
            {
                "paper_id": pid,
                "source_id": source_ids[s],
                "first_seen_at": NOW,
                "last_seen_at": NOW,
            }
            for pid, spec in zip(ids, specs, strict=True)
            for s in sorted({k % n_sources for k in spec.sources})
        ]
        snapshots = [
            {
                "paper_id": pid,
                "source_id": source_ids[0],
                "upvotes": up,
                "observed_at": NOW - timedelta(hours=hours),
            }
            for pid, spec in zip(ids, specs, strict=True)
            for hours, up in spec.snapshots
        ]
        if sightings:
            session.execute(insert(Sighting), sightings)
        if snapshots:
            session.execute(insert(UpvoteSnapshot), snapshots)


def _both(store: Store, top: int, gravity: float = 1.5, batch: int = 2) -> tuple[Any, Any]:
    with store.sessions() as session:
        fast = top_trending(session, top, since=SINCE, gravity=gravity, now=NOW, batch=batch)
        full = ranked_papers(session, top=top, since=SINCE, gravity=gravity, now=NOW)
    return fast, full


@st.composite
def _specs(draw: st.DrawFn) -> Spec:
    upvotes = draw(st.sampled_from([0, 0, 0, 0, 1, 2, 3, 5, 9, 40, 300]))
    snapshots = draw(
        st.lists(
            st.tuples(st.sampled_from([1.0, 12.0, 23.5, 30.0, 48.0]), st.integers(0, upvotes)),
            max_size=3,
        )
    )
    return Spec(
        upvotes=upvotes,
        # Half-hour steps: papers of one ingestion share their first sight.
        seen_hours_ago=draw(st.integers(0, 56).map(lambda half_hours: half_hours / 2)),
        # Often published long after first sight: their age counts from publication.
        published_shift=draw(
            st.sampled_from([None, None, None, -30.0, -2.0, 0.0, 0.25, 5.0, 19.0, 23.0, 30.0])
        ),
        sources=tuple(draw(st.lists(st.integers(0, 2), min_size=1, max_size=3))),
        snapshots=tuple(snapshots),
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(_specs(), max_size=50),
    top=st.sampled_from([1, 1, 2, 3, 5, 8]),
    gravity=st.sampled_from([0.6, 1.5, 2.2]),
    batch=st.integers(1, 3),
    n_sources=st.integers(1, 3),
)
def test_same_top_as_ranking_the_whole_window(
    store: Store, specs: list[Spec], top: int, gravity: float, batch: int, n_sources: int
) -> None:
    _write(store, specs, n_sources)
    fast, full = _both(store, top, gravity, batch)
    assert fast == full


def test_a_paper_published_long_after_it_was_first_seen_is_not_missed(store: Store) -> None:
    """Its age counts from publication: first seen 23 hours ago, it is the freshest paper,
    though it comes last both by first sight and by upvotes."""
    crowd = [Spec(seen_hours_ago=0.5 + i / 10) for i in range(60)]
    relisted = Spec(seen_hours_ago=23.0, published_shift=22.99)
    _write(store, [*crowd, relisted], n_sources=1)
    fast, full = _both(store, top=1, batch=1)
    assert fast == full and fast[0].key == "k00060"


def test_velocity_can_triple_a_papers_points(store: Store) -> None:
    """Nine upvotes, all gained today: 28 points, where nine stale upvotes make 10."""
    old_hits = [Spec(upvotes=100, seen_hours_ago=3.0), Spec(upvotes=100, seen_hours_ago=8.0)]
    stale = [Spec(upvotes=9, seen_hours_ago=0.5) for _ in range(50)]
    climbing = Spec(upvotes=9, seen_hours_ago=0.55, snapshots=((30.0, 0),))
    _write(store, [*old_hits, *stale, climbing], n_sources=1)
    fast, full = _both(store, top=2, batch=1)
    assert fast == full and [p.key for p in fast] == ["k00000", "k00052"]
    assert fast[1].velocity == 9


def test_a_paper_carried_by_every_source_counts_them(store: Store) -> None:
    """No votes, but three sources: two points per extra source lift it over an old hit."""
    hits = [Spec(upvotes=100, seen_hours_ago=3.0), Spec(upvotes=100, seen_hours_ago=20.0)]
    crowd = [Spec(seen_hours_ago=0.5) for _ in range(50)]
    everywhere = Spec(seen_hours_ago=0.55, sources=(0, 1, 2))
    _write(store, [*hits, *crowd, everywhere], n_sources=3)
    fast, full = _both(store, top=2, batch=1)
    assert fast == full and [p.key for p in fast] == ["k00000", "k00052"]


def test_ties_and_an_empty_window(store: Store) -> None:
    _write(store, [])
    assert _both(store, top=5) == ([], [])
    _write(store, [Spec(seen_hours_ago=2.0) for _ in range(12)])  # equal scores: by key
    fast, full = _both(store, top=5, batch=1)
    assert fast == full and [p.key for p in fast] == [f"k{i:05d}" for i in range(5)]
    with store.sessions() as session:
        assert top_trending(session, 0, since=SINCE, now=NOW) == []


def test_equal_scores_are_ordered_newest_first_then_by_key(store: Store) -> None:
    """3 points 10 hours old and 1 point 2 hours old both score 0.25 at gravity 1: the
    newer paper first, whatever its upvotes; the same score and date go by key."""
    older_voted = Spec(upvotes=2, seen_hours_ago=10.0)
    _write(store, [older_voted, Spec(seen_hours_ago=2.0), Spec(seen_hours_ago=2.0)])
    fast, full = _both(store, top=3, gravity=1.0, batch=1)
    assert {p.score for p in full} == {0.25}
    assert fast == full and [p.key for p in full] == ["k00001", "k00002", "k00000"]


@contextmanager
def _rows_read(engine: Engine) -> Iterator[list[int]]:
    """Rows every SELECT returned: each statement is run again on a raw cursor and counted."""
    counts: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            raw = conn.connection.dbapi_connection.cursor()
            try:
                raw.execute(statement, parameters)
                counts.append(len(raw.fetchall()))
            finally:
                raw.close()

    event.listen(engine, "after_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "after_cursor_execute", count)


def test_reads_a_few_batches_not_the_window(store: Store) -> None:
    """A day like a busy one: 3,000 papers in a few ingestions (thousands share an instant),
    a handful with votes. The top 5 must cost a few hundred rows, not the whole window."""
    specs = [
        Spec(
            upvotes=(90 - i) if i < 40 else 0,
            seen_hours_ago=[0.2, 2.0, 6.0, 11.0, 17.0, 22.0][i % 6],
            published_shift=-3.0,
            sources=(0, 1) if i % 7 == 0 else (0,),
            snapshots=((30.0, max(0, 60 - i)),) if i < 40 else (),
        )
        for i in range(3000)
    ]
    specs.append(Spec(upvotes=1, seen_hours_ago=20.0, published_shift=19.9))  # re-listed now
    _write(store, specs)
    with _rows_read(store.engine) as fast_rows, store.sessions() as session:
        fast = top_trending(session, 5, since=SINCE, now=NOW)
    with _rows_read(store.engine) as full_rows, store.sessions() as session:
        full = ranked_papers(session, top=5, since=SINCE, now=NOW)
    assert fast == full
    assert sum(full_rows) > 3000  # the counter sees the whole window being read
    assert sum(fast_rows) < len(specs) // 5, fast_rows  # a first step: ~400 rows
    assert len(fast_rows) < 30  # a few steps, not a query per paper


def test_papers_outside_the_window_are_never_returned(store: Store) -> None:
    _write(store, [Spec(upvotes=500, seen_hours_ago=30.0, published_shift=29.5), Spec()])
    fast, full = _both(store, top=2)
    assert fast == full and [p.key for p in fast] == ["k00001"]
    with store.sessions() as session:
        assert session.scalar(select(Paper.upvotes).where(Paper.key == "k00000")) == 500
