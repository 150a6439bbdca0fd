"""Per-edition counts that do not cost a scan of history.

An edition's rows stop changing once it is closed (done or cancelled, no row open), so its
counts are written then, once, onto the edition row (`editions.summary`), and `status` and
`editions show` read that instead of counting rows. Retention removes old rows
(pipeline/store/maintenance.py) and adds what it removed to `editions.compacted`, so a
count made later (a closed edition reopened by planning or a resend) still covers them.

Whatever changes rows of a closed edition (reconciling an unknown, a resend) refreshes or
clears the summary in the same transaction; a cleared summary means "count the rows".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from pipeline.store.models import Delivery, DeliveryClaim, Edition, Segment
from pipeline.store.status import DUE_DELIVERY, IN_FLIGHT_DELIVERY, EditionStatus

CLOSED_EDITION = (EditionStatus.DONE, EditionStatus.CANCELLED)
Summary = dict[str, Any]  # {"deliveries": {status: count}, "segments": count}


def empty() -> Summary:
    return {"deliveries": {}, "segments": 0}


def add(total: Summary, more: Summary | None) -> Summary:
    """`total` plus `more`, as a new summary."""
    deliveries = dict(total.get("deliveries", {}))
    for status, n in ((more or {}).get("deliveries") or {}).items():
        deliveries[status] = deliveries.get(status, 0) + int(n)
    segments = int(total.get("segments", 0)) + int((more or {}).get("segments", 0))
    return {"deliveries": deliveries, "segments": segments}


def rows_now(session: Session, edition_id: int) -> Summary:
    """The rows the edition has in the table right now (not what retention removed)."""
    counts = {
        str(status): int(n)
        for status, n in session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.edition_id == edition_id)
            .group_by(Delivery.status)
        )
    }
    segments = session.scalar(select(func.count()).where(Segment.edition_id == edition_id))
    return {"deliveries": counts, "segments": int(segments or 0)}


def has_open_rows(session: Session, edition_id: int) -> bool:
    """Whether a row of the edition is due or in flight: one statement, so one snapshot sees
    a row that moves between the two (a settle to retry, a claim) in one place or the other.

    Due rows come from ix_deliveries_waiting, rows in flight from delivery_claims: both as
    small as the work left, however many rows the edition has."""
    due = exists().where(Delivery.waiting.in_(DUE_DELIVERY), Delivery.edition_id == edition_id)
    in_flight = (
        select(Delivery.id)
        .join(DeliveryClaim, DeliveryClaim.delivery_id == Delivery.id)
        .where(
            Delivery.edition_id == edition_id,
            Delivery.claim_token == DeliveryClaim.claim_token,
            Delivery.status.in_(IN_FLIGHT_DELIVERY),
        )
        .exists()
    )
    return bool(session.scalar(select(due | in_flight)))


def counts_of(session: Session, edition: Edition) -> Summary:
    """What the edition's rows say, every row it ever had: the summary written when it
    closed, else its rows counted now plus those retention removed."""
    if edition.status in CLOSED_EDITION and edition.summary is not None:
        return add(empty(), edition.summary)
    return add(rows_now(session, edition.id), edition.compacted)


def close(session: Session, edition: Edition) -> None:
    """Write the summary of an edition that has no open row (the caller checked, holding
    the edition row's lock, planning's lock) and commits."""
    edition.summary = add(rows_now(session, edition.id), edition.compacted)


def refresh(session: Session, edition: Edition) -> None:
    """After rows of the edition changed: write the summary of a closed edition with no open
    row, clear it otherwise (the caller holds the edition row's lock and commits)."""
    if edition.status in CLOSED_EDITION and not has_open_rows(session, edition.id):
        close(session, edition)
    else:
        edition.summary = None
