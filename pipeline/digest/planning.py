"""Planning an edition: its ranked papers, and one ledger row per reader who gets something.

An edition is (cadence, slot date). Its papers are those Paperround first saw since the previous
edition of that cadence (the first edition looks back one day or one week), ranked by trending
score. Each active, unpaused, unsuppressed reader of that cadence gets the matching papers not
sent to them before; readers with the same selection share a segment (rendered once). Planning
again adds only readers not yet in the edition, so planning twice creates nothing new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Table, and_, exists, select
from sqlalchemy.orm import Session

from pipeline.digest.selection import EditionIndex, ReaderFilter
from pipeline.ranking.ranked import RankedPaper, ranked_papers
from pipeline.store.models import Delivery, Edition, Segment, Subscriber, Suppression
from pipeline.store.sql import insert_for
from pipeline.store.status import Cadence, DeliveryStatus, EditionStatus, SubscriberStatus
from pipeline.timeutil import utcnow

FIRST_WINDOW = {Cadence.DAILY: timedelta(days=1), Cadence.WEEKLY: timedelta(days=7)}
HISTORY = timedelta(days=21)  # how far back "sent to this reader before" looks
EDITIONS: Table = Edition.__table__  # type: ignore[assignment]
SEGMENTS: Table = Segment.__table__  # type: ignore[assignment]
DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]


@dataclass
class PlanReport:
    edition_id: int
    cadence: Cadence
    slot_date: date
    created: bool
    papers: int
    readers: int  # eligible readers not yet in the edition
    deliveries: int
    segments: int
    no_match: int  # readers whose filters matched nothing: no empty email

    def as_json(self) -> dict[str, object]:
        return {
            "edition_id": self.edition_id,
            "cadence": str(self.cadence),
            "slot_date": self.slot_date.isoformat(),
            "created": self.created,
            "papers": self.papers,
            "readers": self.readers,
            "deliveries": self.deliveries,
            "segments": self.segments,
            "no_match": self.no_match,
        }


def slot_for(cadence: Cadence, day: date) -> date:
    """Weekly editions are keyed by the Monday of their ISO week."""
    if cadence == Cadence.WEEKLY:
        return day - timedelta(days=day.weekday())
    return day


def _lock_or_create_edition(
    session: Session, cadence: Cadence, slot: date, now: datetime, pool: int, gravity: float
) -> tuple[Edition, bool]:
    """The slot's edition, locked; created with its ranked papers if it did not exist."""
    # FOR UPDATE: the edition row stays locked until the caller commits the readers it adds,
    # so finish_if_done (which takes the same lock) cannot mark it done in between.
    found = session.scalar(
        select(Edition)
        .where(Edition.cadence == cadence, Edition.slot_date == slot)
        .with_for_update()
    )
    if found is not None:
        return found, False
    previous = session.scalar(
        select(Edition)
        .where(Edition.cadence == cadence, Edition.slot_date < slot)
        .order_by(Edition.slot_date.desc())
        .limit(1)
    )
    start = previous.window_end if previous is not None else now - FIRST_WINDOW[cadence]
    ranked = [
        p
        for p in ranked_papers(session, since=start, gravity=gravity, now=now)
        if p.listed_at is not None and p.listed_at <= now
    ]
    row = {
        "cadence": cadence,
        "slot_date": slot,
        "window_start": start,
        "window_end": now,
        "paper_ids": [p.id for p in ranked[:pool]],
        "status": EditionStatus.PLANNED,
        "subject": "",
        "created_at": now,
    }
    stmt = insert_for(session, EDITIONS).on_conflict_do_nothing(
        index_elements=["cadence", "slot_date"]
    )
    created = session.execute(stmt.returning(EDITIONS.c.id), [row]).first() is not None
    edition = session.scalars(
        select(Edition)
        .where(Edition.cadence == cadence, Edition.slot_date == slot)
        .with_for_update()
    ).one()
    return edition, created


def edition_papers(session: Session, edition: Edition, gravity: float = 1.5) -> list[RankedPaper]:
    """The edition's papers in its stored rank order (scores as of now, order as planned)."""
    by_id = {p.id: p for p in ranked_papers(session, ids=edition.paper_ids, gravity=gravity)}
    return [by_id[pid] for pid in edition.paper_ids if pid in by_id]


@dataclass(frozen=True, slots=True)
class EditionListing:
    id: int
    cadence: Cadence
    slot_date: date
    papers: int


def recent_editions(session: Session, limit: int) -> list[EditionListing]:
    """The latest editions by slot date, newest first (the public archive's index)."""
    rows = session.execute(
        select(Edition.id, Edition.cadence, Edition.slot_date, Edition.paper_ids)
        .order_by(Edition.slot_date.desc(), Edition.id.desc())
        .limit(limit)
    )
    return [EditionListing(i, c, d, len(ids)) for i, c, d, ids in rows]


def papers_of_edition(
    session: Session, edition_id: int, gravity: float = 1.5
) -> list[RankedPaper] | None:
    """The papers of edition `edition_id` in rank order; None when there is no such edition."""
    edition = session.get(Edition, edition_id)
    return edition_papers(session, edition, gravity) if edition is not None else None


@dataclass(frozen=True, slots=True)
class _Reader:
    id: int
    categories: list[str]
    keywords: list[str]
    papers_per_digest: int


def _eligible_readers(
    session: Session, edition: Edition, subscriber_ids: Sequence[int] | None
) -> list[_Reader]:
    """Only the columns selection needs: ORM objects for 100,000 readers would cost memory
    that grows with the list (bench/digest.py measures peak RSS)."""
    query = select(
        Subscriber.id, Subscriber.categories, Subscriber.keywords, Subscriber.papers_per_digest
    ).where(
        Subscriber.status == SubscriberStatus.ACTIVE,
        Subscriber.paused.is_(False),
        Subscriber.cadence == edition.cadence,
        ~exists().where(Suppression.email_key == Subscriber.email_key),
        ~exists().where(
            and_(Delivery.edition_id == edition.id, Delivery.subscriber_id == Subscriber.id)
        ),
    )
    if subscriber_ids is not None:
        query = query.where(Subscriber.id.in_(list(subscriber_ids)))
    return [_Reader(*row) for row in session.execute(query.order_by(Subscriber.id))]


def _already_sent(
    session: Session, edition: Edition, reader_ids: Iterable[int]
) -> dict[int, set[int]]:
    """Papers each reader got (or may have got) in other recent editions."""
    ids = list(reader_ids)
    result: dict[int, set[int]] = {}
    since = edition.window_start - HISTORY
    for start in range(0, len(ids), 5000):
        rows = session.execute(
            select(Delivery.subscriber_id, Segment.paper_ids)
            .join(Segment, Segment.id == Delivery.segment_id)
            .join(Edition, Edition.id == Delivery.edition_id)
            .where(
                Delivery.subscriber_id.in_(ids[start : start + 5000]),
                Delivery.edition_id != edition.id,
                Delivery.status.not_in([DeliveryStatus.FAILED, DeliveryStatus.SKIPPED]),
                Edition.created_at >= since,
            )
        )
        for subscriber_id, paper_ids in rows:
            result.setdefault(subscriber_id, set()).update(paper_ids)
    return result


def selection_hash(paper_ids: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, paper_ids)).encode()).hexdigest()


def plan_edition(
    session: Session,
    *,
    cadence: str = Cadence.DAILY,
    day: date | None = None,
    now: datetime | None = None,
    pool_size: int = 100,
    gravity: float = 1.5,
    subscriber_ids: Sequence[int] | None = None,
) -> PlanReport:
    """Create (or extend) the edition of `cadence` for `day`. The caller commits."""
    if cadence not in FIRST_WINDOW:
        raise ValueError(f"cadence must be daily or weekly, not {cadence!r}")
    cadence = Cadence(cadence)
    now = now or utcnow()
    slot = slot_for(cadence, day or now.date())
    edition, created = _lock_or_create_edition(session, cadence, slot, now, pool_size, gravity)
    readers = _eligible_readers(session, edition, subscriber_ids)
    index = EditionIndex(edition_papers(session, edition, gravity))
    sent_before = _already_sent(session, edition, (r.id for r in readers))

    selections: dict[int, list[int]] = {}
    for reader in readers:
        wanted = ReaderFilter(
            tuple(reader.categories), tuple(reader.keywords), reader.papers_per_digest
        )
        chosen = index.select(wanted, sent_before.get(reader.id, set()))
        if chosen:
            selections[reader.id] = chosen
    segment_ids = _segments(session, edition.id, selections.values())
    rows = [
        {
            "edition_id": edition.id,
            "subscriber_id": reader_id,
            "segment_id": segment_ids[selection_hash(chosen)],
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "updated_at": now,
        }
        for reader_id, chosen in selections.items()
    ]
    created_rows = 0
    if rows:
        stmt = insert_for(session, DELIVERIES).on_conflict_do_nothing(
            index_elements=["edition_id", "subscriber_id"]
        )
        created_rows = len(session.execute(stmt.returning(DELIVERIES.c.id), rows).all())
    if created_rows and edition.status == EditionStatus.DONE:
        # Readers whose send hour came later join a slot already sent to others: the
        # edition is in flight again (`paperround status` lists it until they are served).
        edition.status = EditionStatus.PLANNED
        edition.completed_at = None
    return PlanReport(
        edition_id=edition.id,
        cadence=cadence,
        slot_date=slot,
        created=created,
        papers=len(edition.paper_ids),
        readers=len(readers),
        deliveries=created_rows,
        segments=len({selection_hash(c) for c in selections.values()}),
        no_match=len(readers) - len(selections),
    )


def _segments(session: Session, edition_id: int, selections: Iterable[list[int]]) -> dict[str, int]:
    """Segment id per selection hash, creating the missing segments."""
    wanted = {selection_hash(chosen): chosen for chosen in selections}
    if not wanted:
        return {}
    rows = [
        {"edition_id": edition_id, "selection_hash": h, "paper_ids": ids}
        for h, ids in wanted.items()
    ]
    stmt = insert_for(session, SEGMENTS).on_conflict_do_nothing(
        index_elements=["edition_id", "selection_hash"]
    )
    for start in range(0, len(rows), 2000):
        session.execute(stmt, rows[start : start + 2000])
    found: dict[str, int] = {}
    hashes = list(wanted)
    for start in range(0, len(hashes), 5000):
        found.update(
            session.execute(
                select(Segment.selection_hash, Segment.id).where(
                    Segment.edition_id == edition_id,
                    Segment.selection_hash.in_(hashes[start : start + 5000]),
                )
            )
            .tuples()
            .all()
        )
    return found
