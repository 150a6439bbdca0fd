"""Retention: per-delivery rows and attempts are kept for `delivery_retention_days`, then an
edition keeps only what the rest of Paperround still reads.

At a million daily readers the ledger grew by one delivery row, one attempt row and their
index entries per reader per day, forever (docs/operations.md has the measured bytes). A
closed edition older than the retention period is compacted, in batches of readers, each in
its own transaction:
- its counts were frozen on the edition row when it closed (pipeline/delivery/summary.py);
  each batch adds what it removes to `editions.compacted`, so a later count still covers it;
- each reader who got (or may have got) the edition keeps one sent_history row with the
  papers it carried ("never twice" and the relevance model: pipeline/delivery/history.py);
- the batch's attempts and deliveries go; once none is left, the edition's segments go.
An edition still open (planned, sending, paused, or with a row due or in flight) is never
touched: every batch takes the edition row's lock (planning's) and checks first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery import summary
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, DeliveryAttempt, Edition, Segment, SentHistory
from pipeline.store.sql import insert_rows
from pipeline.store.status import DeliveryStatus
from pipeline.timeutil import utcnow

HISTORY: Table = SentHistory.__table__  # type: ignore[assignment]
BATCH = 5000  # readers per transaction: short locks, bounded memory
GOT_IT = (DeliveryStatus.SENT, DeliveryStatus.UNKNOWN)  # what a reader got, or may have


@dataclass
class RetentionReport:
    """What one retention run did."""

    summaries_written: int = 0  # closed editions whose counts were frozen only now
    editions_compacted: int = 0  # editions whose last delivery and segment went
    deliveries_removed: int = 0
    attempts_removed: int = 0
    history_rows: int = 0
    batches: int = 0
    more_left: bool = False  # stopped at max_batches: the next run goes on

    def as_json(self) -> dict[str, object]:
        return {
            "summaries_written": self.summaries_written,
            "editions_compacted": self.editions_compacted,
            "deliveries_removed": self.deliveries_removed,
            "attempts_removed": self.attempts_removed,
            "history_rows": self.history_rows,
            "batches": self.batches,
            "more_left": self.more_left,
        }


def _locked_if_closed(session: Session, edition_id: int) -> Edition | None:
    """The edition row, locked, when it is closed with no row open; None otherwise."""
    edition = session.scalar(select(Edition).where(Edition.id == edition_id).with_for_update())
    if edition is None or edition.status not in summary.CLOSED_EDITION:
        return None
    if summary.has_open_rows(session, edition_id):
        return None
    return edition


def _write_missing_summaries(factory: sessionmaker[Session], report: RetentionReport) -> None:
    """Closed editions whose counts were never frozen (cancelled with nothing in flight,
    or a reconciled row cleared them) get them now, so `status` stops counting their rows."""
    with factory() as session:
        ids = list(
            session.scalars(
                select(Edition.id).where(
                    Edition.status.in_(summary.CLOSED_EDITION), Edition.summary.is_(None)
                )
            )
        )
    for edition_id in ids:
        with write_transaction(factory) as session:
            edition = _locked_if_closed(session, edition_id)
            if edition is not None and edition.summary is None:
                summary.close(session, edition)
                report.summaries_written += 1


def _compact_batch(
    session: Session, edition: Edition, after: int, limit: int, report: RetentionReport
) -> int | None:
    """Move up to `limit` readers of the edition (subscriber id > `after`) into sent_history
    and delete their rows; returns the last subscriber id, None when none was left."""
    rows = session.execute(
        select(Delivery.id, Delivery.subscriber_id, Delivery.segment_id, Delivery.status)
        .where(Delivery.edition_id == edition.id, Delivery.subscriber_id > after)
        .order_by(Delivery.subscriber_id)
        .limit(limit)
    ).all()
    if not rows:
        return None
    segments = {
        seg: list(papers)
        for seg, papers in session.execute(
            select(Segment.id, Segment.paper_ids).where(
                Segment.id.in_(sorted({r.segment_id for r in rows if r.status in GOT_IT}))
            )
        ).tuples()
    }
    history = [
        {
            "subscriber_id": r.subscriber_id,
            "edition_id": edition.id,
            "paper_ids": segments[r.segment_id],
        }
        for r in rows
        if r.status in GOT_IT and r.segment_id in segments
    ]
    for start in range(0, len(history), 1000):
        insert_rows(
            session,
            HISTORY,
            history[start : start + 1000],
            conflict=["subscriber_id", "edition_id"],
        )
    ids = [r.id for r in rows]
    attempts = session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids)))
    session.execute(delete(Delivery).where(Delivery.id.in_(ids)))
    removed = Counter(str(r.status) for r in rows)
    edition.compacted = summary.add(
        summary.add(summary.empty(), edition.compacted), {"deliveries": dict(removed)}
    )
    report.deliveries_removed += len(ids)
    report.attempts_removed += int(getattr(attempts, "rowcount", 0) or 0)
    report.history_rows += len(history)
    return int(rows[-1].subscriber_id)


def _finish(session: Session, edition: Edition, now: datetime) -> None:
    """No delivery left: the segments go too (counted), and the edition is compacted."""
    segments = session.scalar(select(func.count()).where(Segment.edition_id == edition.id))
    session.execute(delete(Segment).where(Segment.edition_id == edition.id))
    edition.compacted = summary.add(
        summary.add(summary.empty(), edition.compacted), {"segments": int(segments or 0)}
    )
    edition.compacted_at = now


def compact_ledger(
    factory: sessionmaker[Session],
    keep_days: int,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH,
    max_batches: int | None = None,
) -> RetentionReport:
    """Compact closed editions that closed more than `keep_days` ago (0: keep everything),
    oldest first, `batch_size` readers per transaction, at most `max_batches` transactions
    (the rest is left for the next run). Safe to run twice at once: each batch holds the
    edition row's lock, and a batch that finds nothing left only finishes the edition."""
    now = now or utcnow()
    report = RetentionReport()
    _write_missing_summaries(factory, report)
    if keep_days <= 0:
        return report
    cutoff = now - timedelta(days=keep_days)
    with factory() as session:
        due = list(
            session.scalars(
                select(Edition.id)
                .where(
                    Edition.status.in_(summary.CLOSED_EDITION),
                    Edition.compacted_at.is_(None),
                    func.coalesce(Edition.completed_at, Edition.created_at) < cutoff,
                )
                .order_by(Edition.id)
            )
        )
    for edition_id in due:
        after = -1
        while True:
            if max_batches is not None and report.batches >= max_batches:
                report.more_left = True
                return report
            with write_transaction(factory) as session:
                edition = _locked_if_closed(session, edition_id)
                if edition is None:  # reopened since (planning, a resend): not ours now
                    break
                if edition.summary is None:  # counts first, while every row is still here
                    summary.close(session, edition)
                report.batches += 1
                last = _compact_batch(session, edition, after, batch_size, report)
                if last is None:
                    _finish(session, edition, now)
                    report.editions_compacted += 1
                    break
                after = last
    return report
