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

from pipeline.delivery import summary
from pipeline.delivery.summary import counts_of
from pipeline.store.models import Delivery, Edition, Subscriber, Suppression
from pipeline.store.status import DUE_DELIVERY, HALTED_EDITION, DeliveryStatus, EditionStatus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_counts(session: Session, edition_id: int | None = None) -> dict[str, int]:
    """Rows per status, for one edition or the whole ledger, rows retention removed
    included. A closed edition answers from its summary (pipeline/delivery/summary.py), so
    this reads only the editions table and the rows of editions still open."""
    if edition_id is not None:
        edition = session.get(Edition, edition_id)
        return dict(counts_of(session, edition)["deliveries"]) if edition is not None else {}
    total = summary.empty()
    counted_live: list[int] = []
    for eid, status, frozen, compacted in session.execute(
        select(Edition.id, Edition.status, Edition.summary, Edition.compacted)
    ):
        if status in summary.CLOSED_EDITION and frozen is not None:
            total = summary.add(total, frozen)
        else:
            total = summary.add(total, compacted)
            counted_live.append(eid)
    for start in range(0, len(counted_live), 1000):
        rows = session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.edition_id.in_(counted_live[start : start + 1000]))
            .group_by(Delivery.status)
        )
        total = summary.add(total, {"deliveries": {str(st): int(n) for st, n in rows}})
    return dict(total["deliveries"])


def due_rows(session: Session, edition_id: int) -> int:
    """Rows of the edition waiting to be sent (pending, or waiting for a retry)."""
    return int(
        session.scalar(
            select(func.count()).where(
                Delivery.waiting.in_(DUE_DELIVERY), Delivery.edition_id == edition_id
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
            .where(Delivery.waiting.in_(DUE_DELIVERY), Edition.status.not_in(HALTED_EDITION))
            .group_by(Delivery.edition_id)
            .order_by(Delivery.edition_id)
        )
    )


def next_retry_in(session: Session, edition_id: int, now: datetime) -> float | None:
    """Seconds until the edition's next retry is due; None when none waits."""
    nxt = session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.waiting == DeliveryStatus.RETRY, Delivery.edition_id == edition_id
        )
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
                (Delivery.waiting == DeliveryStatus.PENDING) & (Delivery.updated_at <= now - idle),
                (Delivery.waiting == DeliveryStatus.RETRY) & (Delivery.next_attempt_at <= now),
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
    # When retention removed the edition's per-delivery rows (its counts stay; its failures
    # are no longer listed); None while they are kept.
    compacted_at: datetime | None = None

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
            "compacted_at": _iso(self.compacted_at),
        }


def _summary(session: Session, e: Edition) -> EditionSummary:
    counts = counts_of(session, e)
    return EditionSummary(
        id=e.id,
        cadence=str(e.cadence),
        slot_date=e.slot_date,
        status=e.status,
        status_reason=e.status_reason,
        papers=len(e.paper_ids),
        segments=int(counts["segments"]),
        deliveries=dict(counts["deliveries"]),
        created_at=e.created_at,
        completed_at=e.completed_at,
        window_start=e.window_start,
        window_end=e.window_end,
        compacted_at=e.compacted_at,
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
