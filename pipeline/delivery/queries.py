"""Read-only questions about the ledger, shared by the CLI, the web and the Celery tasks.

Nothing here writes. Each answer is a small value type that knows how to become JSON, so every
door prints the same facts the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pipeline.store.models import Delivery, Edition, Segment, Subscriber, Suppression
from pipeline.store.status import DUE_DELIVERY, HALTED_EDITION, DeliveryStatus, EditionStatus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_counts(session: Session, edition_id: int | None = None) -> dict[str, int]:
    """Rows per status, for one edition or the whole ledger."""
    query = select(Delivery.status, func.count()).group_by(Delivery.status)
    if edition_id is not None:
        query = query.where(Delivery.edition_id == edition_id)
    return {str(status): int(n) for status, n in session.execute(query)}


def due_rows(session: Session, edition_id: int) -> int:
    """Rows of the edition waiting to be sent (pending, or waiting for a retry)."""
    return int(
        session.scalar(
            select(func.count()).where(
                Delivery.edition_id == edition_id, Delivery.status.in_(DUE_DELIVERY)
            )
        )
        or 0
    )


def editions_with_due_rows(session: Session) -> list[int]:
    """Editions that still have rows pending or waiting for a retry, oldest first (paused and
    cancelled editions are not among them)."""
    return list(
        session.scalars(
            select(Delivery.edition_id)
            .join(Edition, Edition.id == Delivery.edition_id)
            .where(Delivery.status.in_(DUE_DELIVERY), Edition.status.not_in(HALTED_EDITION))
            .group_by(Delivery.edition_id)
            .order_by(Delivery.edition_id)
        )
    )


def next_retry_in(session: Session, edition_id: int, now: datetime) -> float | None:
    """Seconds until the edition's next retry is due; None when none waits."""
    nxt = session.scalar(
        select(Delivery.next_attempt_at)
        .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.RETRY)
        .order_by(Delivery.next_attempt_at)
        .limit(1)
    )
    if nxt is None:
        return None
    return max(0.0, (nxt - now).total_seconds()) + 0.01


@dataclass(frozen=True)
class SendableWork:
    edition_id: int
    due: int


def editions_to_send(
    session: Session, now: datetime, idle: timedelta = timedelta(0)
) -> list[SendableWork]:
    """Editions with deliveries waiting to be sent now: retries whose time came, and pending
    rows nobody touched for `idle` (their queued task was lost, e.g. a broker restart; rows
    planned a moment ago already have tasks queued for them)."""
    rows = session.execute(
        select(Delivery.edition_id, func.count())
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(
            or_(
                (Delivery.status == DeliveryStatus.PENDING) & (Delivery.updated_at <= now - idle),
                (Delivery.status == DeliveryStatus.RETRY) & (Delivery.next_attempt_at <= now),
            ),
            Edition.status.not_in(HALTED_EDITION),
        )
        .group_by(Delivery.edition_id)
        .order_by(Delivery.edition_id)
    ).all()
    return [SendableWork(edition_id, count) for edition_id, count in rows]


@dataclass(frozen=True)
class EditionSummary:
    """One edition as `editions list`, `status` and the reports show it."""

    id: int
    cadence: str
    slot_date: date
    status: EditionStatus
    status_reason: str | None
    papers: int
    segments: int
    deliveries: dict[str, int]
    created_at: datetime
    completed_at: datetime | None
    window_start: datetime
    window_end: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cadence": self.cadence,
            "slot_date": self.slot_date.isoformat(),
            "status": str(self.status),
            "status_reason": self.status_reason,
            "papers": self.papers,
            "segments": self.segments,
            "deliveries": self.deliveries,
            "created_at": _iso(self.created_at),
            "completed_at": _iso(self.completed_at),
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
        }


def _summary(session: Session, e: Edition) -> EditionSummary:
    segments = session.scalar(select(func.count()).where(Segment.edition_id == e.id))
    return EditionSummary(
        id=e.id,
        cadence=str(e.cadence),
        slot_date=e.slot_date,
        status=e.status,
        status_reason=e.status_reason,
        papers=len(e.paper_ids),
        segments=int(segments or 0),
        deliveries=delivery_counts(session, e.id),
        created_at=e.created_at,
        completed_at=e.completed_at,
        window_start=e.window_start,
        window_end=e.window_end,
    )


def latest_editions(session: Session, limit: int) -> list[EditionSummary]:
    query = select(Edition).order_by(Edition.id.desc()).limit(limit)
    return [_summary(session, e) for e in session.scalars(query)]


def editions_in_flight(session: Session) -> list[EditionSummary]:
    """Editions not finished: planned, sending or paused (done and cancelled ones are over)."""
    over = (EditionStatus.DONE, EditionStatus.CANCELLED)
    query = select(Edition).where(Edition.status.not_in(over)).order_by(Edition.id)
    return [_summary(session, e) for e in session.scalars(query)]


@dataclass(frozen=True)
class Failure:
    delivery_id: int
    email: str
    status: DeliveryStatus
    code: int | None
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "email": self.email,
            "status": str(self.status),
            "code": self.code,
            "error": self.error,
        }


def failures(session: Session, edition_id: int, limit: int = 20) -> list[Failure]:
    """Deliveries of the edition that failed or whose fate is unknown, with their reader."""
    rows = session.execute(
        select(
            Delivery.id, Subscriber.email, Delivery.status, Delivery.last_code, Delivery.last_error
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.edition_id == edition_id,
            Delivery.status.in_([DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN]),
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [Failure(*row) for row in rows]


def edition_exists(session: Session, edition_id: int) -> bool:
    return session.scalar(select(Edition.id).where(Edition.id == edition_id)) is not None


def edition_summary(session: Session, edition_id: int) -> EditionSummary | None:
    edition = session.get(Edition, edition_id)
    return _summary(session, edition) if edition is not None else None


@dataclass(frozen=True)
class LedgerStatus:
    """The ledger at a glance: editions still open, rows per status, suppressions."""

    in_flight: Sequence[EditionSummary]
    deliveries: dict[str, int]
    suppressions: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "editions_in_flight": [e.as_json() for e in self.in_flight],
            "deliveries": self.deliveries,
            "suppressions": self.suppressions,
        }


def ledger_status(session: Session) -> LedgerStatus:
    suppressions = {
        str(reason): int(n)
        for reason, n in session.execute(
            select(Suppression.reason, func.count()).group_by(Suppression.reason)
        )
    }
    return LedgerStatus(editions_in_flight(session), delivery_counts(session), suppressions)
