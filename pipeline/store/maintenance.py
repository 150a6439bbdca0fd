"""The periodic jobs' logic (the beat schedule calls these through thin Celery tasks).

Each job is idempotent and safe to run twice at once: the ledger's unique rows and atomic
claims decide, so two beat processes started by mistake cannot double-send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.digest.due import ReaderClock, due_groups
from pipeline.digest.planning import PlanReport, plan_edition
from pipeline.settings import Settings
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, Source, Subscriber, UpvoteSnapshot
from pipeline.timeutil import utcnow

PLAN_CHUNK = 5000


def sources_due(session: Session, now: datetime) -> list[int]:
    """Enabled sources never fetched or whose interval has passed since their last fetch."""
    sources = session.execute(
        select(Source.id, Source.last_fetched_at, Source.interval_minutes).where(Source.enabled)
    ).all()
    return [
        sid
        for sid, last, minutes in sources
        if last is None or now - last >= timedelta(minutes=max(1, minutes))
    ]


def plan_due(
    factory: sessionmaker[Session], settings: Settings, now: datetime | None = None
) -> list[PlanReport]:
    """Plan the editions of every reader whose local send hour has come."""
    now = now or utcnow()
    with factory() as session:
        rows = session.execute(
            select(
                Subscriber.id,
                Subscriber.cadence,
                Subscriber.send_hour,
                Subscriber.timezone,
                Subscriber.weekly_day,
            ).where(Subscriber.status == "active", Subscriber.paused.is_(False))
        ).all()
    groups = due_groups((ReaderClock(*row) for row in rows), now, settings.send_catch_up_hours)
    reports = []
    for (cadence, slot), reader_ids in sorted(groups.items()):
        for start in range(0, len(reader_ids), PLAN_CHUNK):
            with write_transaction(factory) as session:
                report = plan_edition(
                    session,
                    cadence=cadence,
                    day=slot,
                    now=now,
                    pool_size=settings.edition_pool_size,
                    gravity=settings.ranking_gravity,
                    subscriber_ids=reader_ids[start : start + PLAN_CHUNK],
                )
            if report.deliveries:
                reports.append(report)
    return reports


@dataclass(frozen=True)
class DueWork:
    edition_id: int
    due: int


def editions_with_due_work(
    session: Session, now: datetime, idle: timedelta = timedelta(0)
) -> list[DueWork]:
    """Editions with deliveries waiting to be sent now: retries whose time came, and pending
    rows nobody touched for `idle` (their queued task was lost, e.g. a broker restart; rows
    planned a moment ago already have tasks queued for them)."""
    rows = session.execute(
        select(Delivery.edition_id, func.count())
        .where(
            or_(
                (Delivery.status == "pending") & (Delivery.updated_at <= now - idle),
                (Delivery.status == "retry") & (Delivery.next_attempt_at <= now),
            )
        )
        .group_by(Delivery.edition_id)
        .order_by(Delivery.edition_id)
    ).all()
    return [DueWork(edition_id, count) for edition_id, count in rows]


@dataclass
class CleanupReport:
    expired_pending: int
    snapshots_pruned: int


def cleanup(
    factory: sessionmaker[Session],
    now: datetime | None = None,
    pending_days: int = 30,
    snapshot_days: int = 90,
) -> CleanupReport:
    """Nightly: forget never-confirmed sign-ups and old upvote history."""
    now = now or utcnow()
    with write_transaction(factory) as session:
        expired = session.execute(
            delete(Subscriber).where(
                Subscriber.status == "pending",
                Subscriber.created_at < now - timedelta(days=pending_days),
            )
        )
        pruned = session.execute(
            delete(UpvoteSnapshot).where(
                UpvoteSnapshot.observed_at < now - timedelta(days=snapshot_days)
            )
        )
    return CleanupReport(
        expired_pending=int(getattr(expired, "rowcount", 0) or 0),
        snapshots_pruned=int(getattr(pruned, "rowcount", 0) or 0),
    )
