"""Nightly housekeeping of the store: forget what no one needs any more.

Idempotent and safe to run twice at once (each is one DELETE in one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber, UpvoteSnapshot
from pipeline.store.status import SubscriberStatus
from pipeline.timeutil import utcnow


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
    """Forget never-confirmed sign-ups and old upvote history."""
    now = now or utcnow()
    with write_transaction(factory) as session:
        expired = session.execute(
            delete(Subscriber).where(
                Subscriber.status == SubscriberStatus.PENDING,
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
