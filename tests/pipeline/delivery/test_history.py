"""SentBefore: what planning asks to keep "never the same paper twice", whichever of the
ledger or the compacted history holds an edition's rows, reading only editions that share a
candidate."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.delivery.history import SentBefore
from pipeline.delivery.retention import compact_ledger
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, Edition, Segment, Subscriber
from pipeline.store.status import DeliveryStatus, EditionStatus
from tests.conftest import Store
from tests.support.world import add_readers

T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)
EVERY_PAPER = range(1, 20)


def papers_sent_to(
    session: Session,
    readers: Sequence[int],
    candidates: Collection[int] = EVERY_PAPER,
    *,
    since: datetime = T0 - timedelta(days=1),
    exclude_edition_id: int | None = None,
) -> dict[int, set[int]]:
    history = SentBefore(session, candidates, since=since, exclude_edition_id=exclude_edition_id)
    return history.for_readers(session, readers)


def _edition(store: Store, day: int, rows: dict[int, tuple[str, list[int]]]) -> int:
    """An edition on day `day` with one delivery per reader: {reader id: (status, papers)}."""
    when = T0 + timedelta(days=day)
    with write_transaction(store.sessions) as session:
        edition = Edition(
            cadence="daily",
            slot_date=date(2026, 1, 1) + timedelta(days=day),
            window_start=when - timedelta(days=1),
            window_end=when,
            paper_ids=sorted({p for _, papers in rows.values() for p in papers}),
            status=EditionStatus.DONE,
            created_at=when,
            completed_at=when,
        )
        session.add(edition)
        session.flush()
        for reader_id, (status, papers) in rows.items():
            segment = Segment(
                edition_id=edition.id, selection_hash=f"{reader_id}-{day}", paper_ids=papers
            )
            session.add(segment)
            session.flush()
            session.add(
                Delivery(
                    edition_id=edition.id,
                    subscriber_id=reader_id,
                    segment_id=segment.id,
                    status=DeliveryStatus(status),
                    updated_at=when,
                )
            )
        return edition.id


def _readers(store: Store, n: int) -> list[int]:
    add_readers(store.sessions, n)
    with store.sessions() as session:
        return list(session.scalars(select(Subscriber.id).order_by(Subscriber.id)))


def test_what_counts_as_sent_and_the_filters(store: Store) -> None:
    a, b, c, d = _readers(store, 4)
    old = _edition(
        store,
        0,
        {a: ("sent", [1, 2]), b: ("failed", [1, 2]), c: ("unknown", [3]), d: ("sent", [9])},
    )
    new = _edition(store, 10, {a: ("pending", [5]), b: ("skipped", [6]), c: ("sent", [4, 7])})
    with store.sessions() as session:
        everything = papers_sent_to(session, [a, b, c, d])
        assert everything == {a: {1, 2, 5}, c: {3, 4, 7}, d: {9}}  # failed/skipped: not shown
        assert papers_sent_to(session, [a, b, c], [2, 7, 8]) == {a: {2}, c: {7}}
        assert papers_sent_to(session, [a, c], since=T0 + timedelta(days=5)) == {
            a: {5},
            c: {4, 7},
        }
        assert papers_sent_to(session, [a, c, d], exclude_edition_id=new) == {
            a: {1, 2},
            c: {3},
            d: {9},
        }
        assert papers_sent_to(session, []) == {}
    assert old != new


def test_the_answer_is_the_same_after_retention_compacted_the_edition(store: Store) -> None:
    a, b, c = _readers(store, 3)
    old = _edition(store, 0, {a: ("sent", [1, 2]), b: ("failed", [1]), c: ("unknown", [3])})
    _edition(store, 200, {a: ("sent", [4])})
    with store.sessions() as session:
        before = {
            "all": papers_sent_to(session, [a, b, c]),
            "some": papers_sent_to(session, [a, b, c], [1, 3, 4]),
            "since": papers_sent_to(session, [a, c], since=T0 + timedelta(days=100)),
            "but": papers_sent_to(session, [a, c], exclude_edition_id=old),
        }
    report = compact_ledger(store.sessions, 90, now=T0 + timedelta(days=201))
    assert report.editions_compacted == 1 and report.history_rows == 2
    with store.sessions() as session:
        assert session.scalar(select(Delivery.id).where(Delivery.edition_id == old)) is None
        after = {
            "all": papers_sent_to(session, [a, b, c]),
            "some": papers_sent_to(session, [a, b, c], [1, 3, 4]),
            "since": papers_sent_to(session, [a, c], since=T0 + timedelta(days=100)),
            "but": papers_sent_to(session, [a, c], exclude_edition_id=old),
        }
    assert after == before
    assert before["all"] == {a: {1, 2, 4}, c: {3}}


def test_only_editions_that_share_a_candidate_are_read(store: Store) -> None:
    a, b = _readers(store, 2)
    first = _edition(store, 0, {a: ("sent", [1, 2]), b: ("sent", [3])})
    second = _edition(store, 1, {a: ("sent", [4]), b: ("sent", [5])})
    with store.sessions() as session:
        fresh = SentBefore(session, [10, 11], since=T0 - timedelta(days=1))
        assert fresh.editions == [] and fresh.for_readers(session, [a, b]) == {}
        relisted = SentBefore(session, [3, 4, 10], since=T0 - timedelta(days=1))
        assert relisted.editions == sorted([first, second])
        assert relisted.for_readers(session, [a, b]) == {a: {4}, b: {3}}
        recent = SentBefore(session, [3, 4], since=T0 + timedelta(hours=12))
        assert recent.editions == [second]
        assert recent.for_readers(session, [a, b]) == {a: {4}}
