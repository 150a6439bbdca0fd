"""Addresses we must not mail, and the audit trail of every one added or lifted.

A suppression is checked before every send and every subscribe or import. It is added by a
permanent refusal of the address (the send loop), a complaint, an admin, or an erasure; only an
admin lifts one (`paperround suppressions remove`), and lifting it re-activates nobody: the
reader must subscribe again and confirm. An erased reader is kept only as a hash of the
address, so a later import cannot bring them back while nobody can read who they were.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pipeline.store.models import Subscriber, Suppression, SuppressionLog
from pipeline.store.status import SubscriberStatus, SuppressionReason
from pipeline.text import one_line
from pipeline.timeutil import utcnow

ERASED_PREFIX = "sha256:"


def erased_key(email_key: str) -> str:
    """How an erased reader's address is remembered: a hash, never the address."""
    return ERASED_PREFIX + hashlib.sha256(email_key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SuppressionView:
    """A suppression as `suppressions list` shows it (an erased one has no address)."""

    email: str | None
    key: str
    reason: SuppressionReason
    detail: str | None
    created_at: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "email": self.email,
            "key": self.key,
            "reason": str(self.reason),
            "detail": self.detail,
            "created_at": self.created_at.isoformat(),
        }


def find_suppression(session: Session, email_key: str) -> Suppression | None:
    """The suppression of this address, whether it is kept in clear or as an erasure hash."""
    return session.scalar(
        select(Suppression).where(
            or_(Suppression.email_key == email_key, Suppression.email_key == erased_key(email_key))
        )
    )


def is_suppressed(session: Session, email_key: str) -> bool:
    return find_suppression(session, email_key) is not None


def _log(
    session: Session,
    key: str,
    action: str,
    reason: SuppressionReason,
    detail: str | None,
    actor: str,
    now: datetime,
) -> None:
    session.add(
        SuppressionLog(
            email_key=key, action=action, reason=reason, detail=detail, actor=actor, at=now
        )
    )


def suppress(
    session: Session,
    email_key: str,
    reason: SuppressionReason,
    detail: str | None = None,
    *,
    actor: str = "send loop",
    now: datetime | None = None,
) -> bool:
    """Never mail this address again. Idempotent; returns whether a suppression was added.

    A bounce or complaint also marks the reader bounced or complained; an admin suppression
    leaves their status as it is (lifting it then restores mail without a new opt-in)."""
    now = now or utcnow()
    detail = one_line(detail, 2000) if detail else None
    key = erased_key(email_key) if reason == SuppressionReason.ERASED else email_key
    added = False
    if session.scalar(select(Suppression.id).where(Suppression.email_key == key)) is None:
        session.add(Suppression(email_key=key, reason=reason, detail=detail, created_at=now))
        _log(session, key, "add", reason, detail, actor, now)
        added = True
    if reason in (SuppressionReason.BOUNCED, SuppressionReason.COMPLAINED):
        subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == email_key))
        if subscriber is not None:
            subscriber.status = SubscriberStatus(reason.value)
    return added


def lift(session: Session, email_key: str, *, actor: str, now: datetime | None = None) -> bool:
    """Remove the address's suppression (clear or erased), with an audit row. It re-activates
    nobody: a bounced reader stays bounced until they subscribe again and confirm."""
    found = find_suppression(session, email_key)
    if found is None:
        return False
    _log(session, found.email_key, "remove", found.reason, found.detail, actor, now or utcnow())
    session.delete(found)
    return True


def list_suppressions(session: Session) -> list[SuppressionView]:
    rows = session.scalars(select(Suppression).order_by(Suppression.created_at, Suppression.id))
    return [
        SuppressionView(
            email=None if s.email_key.startswith(ERASED_PREFIX) else s.email_key,
            key=s.email_key,
            reason=s.reason,
            detail=s.detail,
            created_at=s.created_at,
        )
        for s in rows
    ]


def suppression_log(session: Session, email_key: str) -> list[SuppressionLog]:
    """The audit rows of one address (clear and erased), oldest first."""
    keys = (email_key, erased_key(email_key))
    query = select(SuppressionLog).where(SuppressionLog.email_key.in_(keys))
    return list(session.scalars(query.order_by(SuppressionLog.at, SuppressionLog.id)))
