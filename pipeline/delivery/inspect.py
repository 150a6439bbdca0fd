"""Read-only questions about editions for the archive, the browser view and `editions show`.

Kept apart from queries.py (the ledger's counts for status and the send loop): these are the
views an admin or a visitor asks for, never the send path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from pipeline.delivery.queries import Failure
from pipeline.store.models import Delivery, Edition, Segment, Subscriber
from pipeline.store.status import DUE_DELIVERY, Cadence, DeliveryStatus

# An edition is published (in the archive) once some reader is to get it: a delivery that was
# not skipped. One planned for nobody (every filter matched nothing) was never an edition.
_PUBLISHED = exists().where(
    Delivery.edition_id == Edition.id, Delivery.status != DeliveryStatus.SKIPPED
)


@dataclass(frozen=True, slots=True)
class PublishedEdition:
    id: int
    cadence: Cadence
    slot_date: date
    papers: int


def published_editions(session: Session, limit: int) -> list[PublishedEdition]:
    """The latest published editions by slot date, newest first (the archive's index)."""
    rows = session.execute(
        select(Edition.id, Edition.cadence, Edition.slot_date, Edition.paper_ids)
        .where(_PUBLISHED)
        .order_by(Edition.slot_date.desc(), Edition.id.desc())
        .limit(limit)
    )
    return [PublishedEdition(i, c, d, len(ids or [])) for i, c, d, ids in rows]


def published_edition(session: Session, edition_id: int) -> Edition | None:
    return session.scalar(select(Edition).where(Edition.id == edition_id, _PUBLISHED))


def reader_selection(session: Session, edition_id: int, subscriber_id: int) -> list[int] | None:
    """The paper ids the reader was given in the edition, in their order; None: not in it."""
    ids = session.scalar(
        select(Segment.paper_ids)
        .join(Delivery, Delivery.segment_id == Segment.id)
        .where(Delivery.edition_id == edition_id, Delivery.subscriber_id == subscriber_id)
    )
    return list(ids) if ids is not None else None


def edition_failures(
    session: Session, edition_id: int, limit: int = 50
) -> tuple[list[Failure], int]:
    """Failed and unknown deliveries with their reader's address (the first `limit`), and
    how many there are in all."""
    where = (
        Delivery.edition_id == edition_id,
        Delivery.status.in_([DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN]),
    )
    total = session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0
    rows = session.execute(
        select(
            Delivery.id, Subscriber.email, Delivery.status, Delivery.last_code, Delivery.last_error
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(*where)
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [Failure(*row) for row in rows], int(total)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def send_time(
    cadence: Cadence, slot: date, send_hour: int, timezone: str, weekly_day: int
) -> datetime:
    """When a reader's digest of the edition (cadence, slot) is due: their send hour, in their
    zone, on the slot date (weekly: on their weekday of the slot's week)."""
    day = slot + timedelta(days=weekly_day) if cadence == Cadence.WEEKLY else slot
    return datetime(day.year, day.month, day.day, send_hour, tzinfo=_zone(timezone))


@dataclass(frozen=True, slots=True)
class EarlyReader:
    email: str
    due_at: datetime  # aware, in the reader's zone


def readers_not_due_yet(
    session: Session, edition_ids: Sequence[int], now: datetime
) -> list[EarlyReader]:
    """Readers with deliveries waiting in these editions whose local send hour for it has not
    come, soonest first: what a manual `digest send` would mail ahead of their time."""
    rows = session.execute(
        select(
            Edition.cadence,
            Edition.slot_date,
            Subscriber.email,
            Subscriber.send_hour,
            Subscriber.timezone,
            Subscriber.weekly_day,
        )
        .join(Delivery, Delivery.edition_id == Edition.id)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Edition.id.in_(list(edition_ids)), Delivery.status.in_(DUE_DELIVERY))
    )
    early = []
    for cadence, slot, email, hour, zone, weekday in rows:
        due = send_time(cadence, slot, hour, zone, weekday)
        if due > now:
            early.append(EarlyReader(email, due))
    return sorted(early, key=lambda r: (r.due_at, r.email))
