"""Every state a stored row can be in, as enums: one vocabulary for the code and the database.

The values are the strings stored in the `status`-like columns (and shown by the CLI and
`--json`); `StrEnum` members compare equal to those strings, so SQL written by hand and rows
read back agree with the enum. `EnumText` stores an enum as plain text (VARCHAR), so the
schema stays what the migrations made and a new state needs no ALTER TYPE.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import String
from sqlalchemy.types import TypeDecorator


class DeliveryStatus(StrEnum):
    """A ledger row's state (see pipeline/delivery/ledger.py for the transitions)."""

    PENDING = "pending"  # planned, waiting for a sender
    RETRY = "retry"  # a temporary failure; due again at next_attempt_at
    CLAIMED = "claimed"  # taken by a sender, not started: safe to give back
    SENDING = "sending"  # in flight: the server may or may not have it
    SENT = "sent"  # the server accepted it
    FAILED = "failed"  # refused for good, or gave up after max attempts
    UNKNOWN = "unknown"  # lost after the body was sent: never resent automatically
    SKIPPED = "skipped"  # not sent: the reader was no longer mailable at send time


# Rows a sender may still act on, and rows no sweep has settled yet.
OPEN_DELIVERY = (
    DeliveryStatus.PENDING,
    DeliveryStatus.RETRY,
    DeliveryStatus.CLAIMED,
    DeliveryStatus.SENDING,
)
DUE_DELIVERY = (DeliveryStatus.PENDING, DeliveryStatus.RETRY)
IN_FLIGHT_DELIVERY = (DeliveryStatus.CLAIMED, DeliveryStatus.SENDING)


class SubscriberStatus(StrEnum):
    """A reader's life cycle (pipeline/readers/lifecycle.py)."""

    PENDING = "pending"  # asked to subscribe, not confirmed yet
    ACTIVE = "active"  # confirmed: gets digests
    UNSUBSCRIBED = "unsubscribed"  # left; may subscribe again (double opt-in again)
    BOUNCED = "bounced"  # a permanent delivery failure: suppressed for good
    COMPLAINED = "complained"  # marked a digest as spam: suppressed for good


SUPPRESSED_READER = (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


class SuppressionReason(StrEnum):
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    ADMIN = "admin"
    ERASED = "erased"  # the reader asked to be forgotten: only a hash of the address is kept


class EditionStatus(StrEnum):
    PLANNED = "planned"  # rows planned, none sent yet (or new readers joined a sent edition)
    SENDING = "sending"  # a deliberate resend put rows back to pending
    DONE = "done"  # no open row left
    PAUSED = "paused"  # no row is claimed until an admin resumes it (status_reason says why)
    CANCELLED = "cancelled"  # an admin stopped it: its waiting rows were skipped


HALTED_EDITION = (EditionStatus.PAUSED, EditionStatus.CANCELLED)


class SourceStatus(StrEnum):
    """How a source's last fetch went."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"


class AttemptKind(StrEnum):
    """Why a delivery_attempts row was written."""

    SEND = "send"  # a sender settled a message
    RESEND = "resend"  # an admin asked for a deliberate resend
    RECONCILE = "reconcile"  # an "unknown" row settled from the capture server's log


class AttemptOutcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    UNKNOWN = "unknown"
    REQUESTED = "requested"  # a resend request (no message went out)


class ConsentChannel(StrEnum):
    """Where a reader asked to subscribe (kept with the consent record)."""

    WEB = "web"
    API = "api"
    CLI = "cli"
    IMPORT = "import"


class Cadence(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class RatingVia(StrEnum):
    """Where a reader rated a paper."""

    EMAIL = "email"  # a "more / less like this" link in a digest, then the page's button
    WEB = "web"  # their preferences page
    CLI = "cli"  # `paperround feedback`


E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E], Generic[E]):
    """A StrEnum stored as its value in a VARCHAR; an unknown value is refused on write."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 20) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return str(self.enum(value).value)

    def process_result_value(self, value: Any, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)

    @property
    def python_type(self) -> type[E]:
        return self.enum
