"""Recovery: what happens to rows after a crash, a lost reply or an admin's decision.

- A dead sender's claims time out: never-started rows go back to pending, the one in flight
  becomes unknown (`release_stale_claims`).
- Unknown rows are settled where the receiving server can say whether it took the message
  (the embedded capture server can: pipeline/mail/capture_log.py) (`reconcile_unknown`).
- Resends are deliberate: an admin request resets chosen rows to pending and leaves an audit
  row (kind resend) per delivery (`request_resend`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery import summary
from pipeline.delivery.ledger import CLAIMS, DELIVERIES, rows_touched
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, DeliveryAttempt, Edition
from pipeline.store.status import (
    IN_FLIGHT_DELIVERY,
    AttemptKind,
    AttemptOutcome,
    DeliveryStatus,
    EditionStatus,
)
from pipeline.timeutil import utcnow

_S = DeliveryStatus


def release_stale_claims(
    factory: sessionmaker[Session], timeout: timedelta, now: datetime | None = None
) -> tuple[int, int]:
    """Free claims of senders that died. Returns (released to pending, marked unknown).

    "claimed" rows were never started: back to pending. "sending" rows were in flight when
    their sender stopped: the server may or may not have the message, so they become unknown.
    Rows in flight are found through delivery_claims (as small as the work in flight), whose
    entries for rows no longer held are dropped here too.
    """
    now = now or utcnow()
    cutoff = now - timeout
    claimed = select(CLAIMS.c.delivery_id)
    with write_transaction(factory) as session:
        released = rows_touched(
            session.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.id.in_(claimed),
                    DELIVERIES.c.status == _S.CLAIMED,
                    DELIVERIES.c.claimed_at < cutoff,
                )
                .values(status=_S.PENDING, claim_token=None, claimed_at=None, updated_at=now)
            )
        )
        unknown = rows_touched(
            session.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.id.in_(claimed),
                    DELIVERIES.c.status == _S.SENDING,
                    DELIVERIES.c.claimed_at < cutoff,
                )
                .values(
                    status=_S.UNKNOWN,
                    claim_token=None,
                    last_error="the sender stopped while this message was in flight; "
                    "check whether it arrived before `paperround resend`",
                    updated_at=now,
                )
            )
        )
        held = (
            select(DELIVERIES.c.id)
            .where(
                DELIVERIES.c.id == CLAIMS.c.delivery_id,
                DELIVERIES.c.claim_token == CLAIMS.c.claim_token,
                DELIVERIES.c.status.in_(IN_FLIGHT_DELIVERY),
            )
            .exists()
        )
        session.execute(delete(CLAIMS).where(~held))
    return released, unknown


def reconcile_unknown(
    factory: sessionmaker[Session],
    was_accepted: Callable[[str], bool | None],
    now: datetime | None = None,
) -> tuple[int, int]:
    """Settle "unknown" rows where the receiving server can say whether it took the message
    (the embedded capture server can). Returns (sent, to retry).

    `was_accepted(message_id)`: True (it has it), False (it never got it), None (cannot tell).
    """
    now = now or utcnow()
    sent = retry = 0
    with write_transaction(factory) as session:
        rows = session.execute(
            select(Delivery.id, Delivery.message_id, Delivery.edition_id).where(
                Delivery.waiting == _S.UNKNOWN, Delivery.message_id.is_not(None)
            )
        ).all()
        changed: set[int] = set()
        for delivery_id, message_id, edition_id in rows:
            answer = was_accepted(message_id)
            if answer is None:
                continue
            status = _S.SENT if answer else _S.RETRY
            values: dict[str, object] = {"status": status, "updated_at": now, "last_error": None}
            if answer:
                values["sent_at"] = now
                sent += 1
            else:
                values["next_attempt_at"] = now
                retry += 1
            session.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == _S.UNKNOWN)
                .values(**values)
            )
            changed.add(edition_id)
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery_id,
                    kind=AttemptKind.RECONCILE,
                    outcome=AttemptOutcome(status.value),
                    detail="the receiving server "
                    + ("has" if answer else "never received")
                    + f" message {message_id}",
                    message_id=message_id,
                    at=now,
                )
            )
        session.flush()
        for edition_id in sorted(changed):  # a closed edition's summary must say it too
            edition = session.scalar(
                select(Edition).where(Edition.id == edition_id).with_for_update()
            )
            if edition is not None:
                summary.refresh(session, edition)
    return sent, retry


def request_resend(
    session: Session,
    edition_id: int,
    *,
    subscriber_id: int | None = None,
    failed: bool = False,
    everyone: bool = False,
    now: datetime | None = None,
) -> int:
    """Put chosen deliveries back to pending, with an audit row each. The caller commits.

    Rows in flight (claimed/sending) are left alone: resending them could duplicate."""
    now = now or utcnow()
    query = select(Delivery).where(
        Delivery.edition_id == edition_id, Delivery.status.not_in(IN_FLIGHT_DELIVERY)
    )
    if subscriber_id is not None:
        query = query.where(Delivery.subscriber_id == subscriber_id)
    elif failed:
        query = query.where(Delivery.status.in_([_S.FAILED, _S.UNKNOWN]))
    elif not everyone:
        raise ValueError("choose a reader, the failed deliveries, or all of them")
    count = 0
    for delivery in session.scalars(query):
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                kind=AttemptKind.RESEND,
                outcome=AttemptOutcome.REQUESTED,
                detail=f"resend requested (was {delivery.status})",
                at=now,
            )
        )
        delivery.status = _S.PENDING
        delivery.next_attempt_at = None
        delivery.claim_token = None
        delivery.attempts = 0
        count += 1
    if count:
        edition = session.get(Edition, edition_id)
        if edition is not None:
            edition.status = EditionStatus.SENDING
            edition.completed_at = None
            edition.summary = None  # open again: counted from its rows until it closes
    return count
