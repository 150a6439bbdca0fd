"""An edition's brakes: pause, resume, cancel. The send loop pulls them too.

A paused edition keeps its rows; nothing claims them until it is resumed (planning may still
add readers to it). A cancelled edition's waiting rows are skipped for good; rows a sender
holds right now are left to it (resending them could duplicate). Every change is recorded in
`editions.status_reason`, which `paperround status` shows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery.ledger import DELIVERIES
from pipeline.store.db import write_transaction
from pipeline.store.models import Edition
from pipeline.store.status import DUE_DELIVERY, DeliveryStatus, EditionStatus
from pipeline.text import one_line
from pipeline.timeutil import utcnow


class EditionStateError(ValueError):
    """The edition is not in a state that allows this; the message says what it is in."""


def _locked(session: Session, edition_id: int) -> Edition:
    edition = session.scalar(select(Edition).where(Edition.id == edition_id).with_for_update())
    if edition is None:
        raise LookupError(f"edition {edition_id} does not exist; see `paperround editions list`")
    return edition


def pause_edition(factory: sessionmaker[Session], edition_id: int, reason: str) -> bool:
    """Stop claims of this edition until it is resumed. False when it was already halted."""
    with write_transaction(factory) as session:
        edition = _locked(session, edition_id)
        if edition.status in (EditionStatus.PAUSED, EditionStatus.CANCELLED):
            return False
        edition.status = EditionStatus.PAUSED
        edition.status_reason = one_line(reason, 1000)
    return True


def resume_edition(factory: sessionmaker[Session], edition_id: int) -> None:
    with write_transaction(factory) as session:
        edition = _locked(session, edition_id)
        if edition.status != EditionStatus.PAUSED:
            raise EditionStateError(f"edition {edition_id} is {edition.status}, not paused")
        edition.status = EditionStatus.PLANNED
        edition.status_reason = None


def cancel_edition(
    factory: sessionmaker[Session], edition_id: int, reason: str, now: datetime | None = None
) -> int:
    """Skip every waiting row of the edition; returns how many. Sent rows stay sent."""
    now = now or utcnow()
    with write_transaction(factory) as session:
        edition = _locked(session, edition_id)
        if edition.status == EditionStatus.CANCELLED:
            raise EditionStateError(f"edition {edition_id} is already cancelled")
        skipped = session.execute(
            update(DELIVERIES)
            .where(DELIVERIES.c.edition_id == edition_id, DELIVERIES.c.status.in_(DUE_DELIVERY))
            .values(
                status=DeliveryStatus.SKIPPED,
                last_error=f"not sent: the edition was cancelled ({one_line(reason, 200)})",
                updated_at=now,
            )
        )
        edition.status = EditionStatus.CANCELLED
        edition.status_reason = one_line(reason, 1000)
        edition.completed_at = now
    return int(getattr(skipped, "rowcount", 0) or 0)


def is_halted(session: Session, edition_id: int) -> bool:
    """Paused or cancelled: no row of it may be claimed."""
    status = session.scalar(select(Edition.status).where(Edition.id == edition_id))
    return status in (EditionStatus.PAUSED, EditionStatus.CANCELLED)
