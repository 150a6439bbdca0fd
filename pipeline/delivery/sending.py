"""The send loop: claim a batch, compose and send each message, settle it in the ledger.

One batch is one SMTP connection. Per message the loop commits once: the previous message's
outcome and the next message's "sending" mark share a transaction (pipeline/delivery/ledger.py
says why the mark must be committed before the body leaves). The loop never decides who gets
what: planning did (pipeline/digest/planning.py); it only moves rows it claimed.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery.control import pause_edition
from pipeline.delivery.ledger import (
    ClaimedDelivery,
    Ledger,
    LostClaim,
    SendPolicy,
    Settlement,
    claim_batch,
)
from pipeline.delivery.queries import due_rows, next_retry_in
from pipeline.mail.transport import SendOutcome, SendStatus, Transport
from pipeline.readers.addresses import smtp_address
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, Edition, Subscriber, Suppression
from pipeline.store.status import (
    HALTED_EDITION,
    OPEN_DELIVERY,
    DeliveryStatus,
    EditionStatus,
    SubscriberStatus,
)
from pipeline.timeutil import utcnow


@dataclass(frozen=True, slots=True)
class Composed:
    message: bytes
    message_id: str


class Composer(Protocol):
    """Builds one reader's message. Expensive work is cached per edition and segment."""

    envelope_from: str

    def compose(self, delivery: ClaimedDelivery) -> Composed: ...


@dataclass
class SendReport:
    """What a send run did, row by row, and why it stopped if it stopped early."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    waiting: int | None = None  # rows left pending or in retry (counted by whole-edition runs)
    stopped: str | None = None  # why the loop stopped early (e.g. SMTP unreachable)
    paused: str | None = None  # why the loop paused the edition (the relay refuses alike)
    errors: list[str] = field(default_factory=list)

    def count(self, status: DeliveryStatus) -> None:
        setattr(self, status.value, getattr(self, status.value) + 1)

    def add(self, other: SendReport) -> None:
        for name in ("sent", "retry", "failed", "unknown", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.waiting is not None:
            self.waiting = (self.waiting or 0) + other.waiting
        self.errors.extend(other.errors)
        self.stopped = other.stopped or self.stopped
        self.paused = other.paused or self.paused

    def as_json(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "retry": self.retry,
            "failed": self.failed,
            "unknown": self.unknown,
            "skipped": self.skipped,
            "waiting": self.waiting,
            "stopped": self.stopped,
            "paused": self.paused,
            "errors": list(self.errors),
        }


def _not_mailable(
    factory: sessionmaker[Session], deliveries: Sequence[ClaimedDelivery]
) -> dict[int, str]:
    """Deliveries whose reader must not get mail any more, with the reason."""
    keys = [d.email_key for d in deliveries]
    with factory() as session:
        suppressed = set(
            session.scalars(select(Suppression.email_key).where(Suppression.email_key.in_(keys)))
        )
        inactive = dict(
            session.execute(
                select(Subscriber.id, Subscriber.status).where(
                    Subscriber.id.in_([d.subscriber_id for d in deliveries]),
                    Subscriber.status != SubscriberStatus.ACTIVE,
                )
            )
            .tuples()
            .all()
        )
    reasons = {}
    for d in deliveries:
        if d.email_key in suppressed:
            reasons[d.delivery_id] = "address is suppressed"
        elif d.subscriber_id in inactive:
            reasons[d.delivery_id] = f"reader is {inactive[d.subscriber_id]}"
    return reasons


PAUSE_WINDOW = 20  # outcomes the error rate is read over


class _Watch:
    """What the outcomes so far say about the relay: go on, stop this batch, or pause the
    edition. A reader's own bounce says nothing about the relay; the same refusal for every
    reader, or most messages failing, does."""

    def __init__(self, policy: SendPolicy) -> None:
        self.policy = policy
        self.connection_failures = 0
        self.same_refusals = 0
        self.last_refusal: tuple[int | None, str | None] | None = None
        self.recent: deque[bool] = deque(maxlen=PAUSE_WINDOW)  # True: failed or unknown

    def observe(self, outcome: SendOutcome | None) -> tuple[str | None, str | None]:
        """(why to stop the batch, why to pause the edition) after one more outcome;
        None for an outcome means the message could not even be composed."""
        status = outcome.status if outcome is not None else SendStatus.FAILED
        self.recent.append(status in (SendStatus.FAILED, SendStatus.UNKNOWN))
        if outcome is not None and outcome.connection:
            self.connection_failures += 1
        else:
            self.connection_failures = 0
        refused_message = (
            outcome is not None and status == SendStatus.FAILED and not outcome.suppress
        )
        if refused_message and outcome is not None and outcome.signature == self.last_refusal:
            self.same_refusals += 1
        elif refused_message and outcome is not None:
            self.same_refusals, self.last_refusal = 1, outcome.signature
        else:
            self.same_refusals, self.last_refusal = 0, None
        detail = outcome.detail if outcome is not None else "the message could not be composed"
        if self.same_refusals >= self.policy.pause_same_refusals:
            why = f"the relay refused {self.same_refusals} messages in a row alike: {detail}"
            return why, why
        bad = sum(self.recent)
        if len(self.recent) == PAUSE_WINDOW and bad / PAUSE_WINDOW > self.policy.pause_error_rate:
            why = f"{bad} of the last {PAUSE_WINDOW} messages failed (last: {detail})"
            return why, why
        if self.connection_failures >= self.policy.breaker_failures:
            why = f"{self.connection_failures} connection failures in a row: {detail}"
            return why, None
        return None, None


class _Batch:
    """One claimed batch over one transport: every settled row is tallied in one place."""

    def __init__(
        self,
        ledger: Ledger,
        composer: Composer,
        transport: Transport,
        report: SendReport,
        clock: Callable[[], datetime],
        on_settled: Callable[[DeliveryStatus], None] | None,
    ) -> None:
        self.ledger = ledger
        self.composer = composer
        self.transport = transport
        self.report = report
        self.clock = clock
        self.on_settled = on_settled
        self.watch = _Watch(ledger.policy)

    def tally(self, status: DeliveryStatus | None, times: int = 1) -> None:
        if status is None:
            return
        for _ in range(times):
            self.report.count(status)
            if self.on_settled is not None:
                self.on_settled(status)

    def send(self, deliveries: Sequence[ClaimedDelivery]) -> None:
        blocked = _not_mailable(self.ledger.factory, deliveries)
        if blocked:
            self.ledger.close_claimed(
                [d for d in deliveries if d.delivery_id in blocked],
                DeliveryStatus.SKIPPED,
                "not sent: reader no longer mailable",
                self.clock(),
            )
            self.tally(DeliveryStatus.SKIPPED, len(blocked))
        todo = [d for d in deliveries if d.delivery_id not in blocked]
        in_flight: Settlement | None = None
        for position, delivery in enumerate(todo):
            try:
                composed: Composed | None = self.composer.compose(delivery)
            except Exception as exc:  # a rendering bug must not wedge the batch
                composed = None
                error = f"could not compose the message: {type(exc).__name__}: {exc}"
            next_up = (delivery, composed.message_id) if composed is not None else None
            self.tally(self.ledger.settle_and_mark(in_flight, next_up, self.clock()))
            in_flight = None
            outcome: SendOutcome | None = None
            if composed is None:
                self.report.errors.append(error)
                self.ledger.close_claimed([delivery], DeliveryStatus.FAILED, error, self.clock())
                self.tally(DeliveryStatus.FAILED)
            else:
                recipient = smtp_address(delivery.email)  # IDN domains as A-labels (RFC 5891)
                outcome = self.transport.send(
                    self.composer.envelope_from, recipient, composed.message
                )
                in_flight = Settlement(delivery, outcome, composed.message_id)
            stop, pause = self.watch.observe(outcome)
            if outcome is not None and outcome.systemic:
                stop = f"SMTP server unreachable or refusing us: {outcome.detail}"
            if stop is not None:
                # The rest of the batch would fare the same and burn an attempt each: settle
                # this one, give the others back untouched, stop.
                self.tally(self.ledger.settle_and_mark(in_flight, None, self.clock()))
                self.ledger.release(todo[position + 1 :], self.clock())
                self.report.stopped = stop
                self.report.paused = pause
                return
        if in_flight is not None:
            self.tally(self.ledger.settle_and_mark(in_flight, None, self.clock()))


def send_edition(
    factory: sessionmaker[Session],
    edition_id: int,
    composer: Composer,
    transport_factory: Callable[[], Transport],
    policy: SendPolicy,
    *,
    wait_for_retries: bool = False,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    on_settled: Callable[[DeliveryStatus], None] | None = None,
    max_batches: int | None = None,
) -> SendReport:
    """Send every due delivery of an edition, batch by batch, until none is due.

    With `wait_for_retries`, keeps going (sleeping) until rows waiting for a retry are settled.
    `max_batches` bounds the run (a Celery task sends one batch and leaves the rest to others).
    """
    ledger = Ledger(factory, uuid.uuid4().hex, policy)
    report = SendReport()
    batches = 0
    while max_batches is None or batches < max_batches:
        claimed = claim_batch(factory, edition_id, ledger.claim, policy.batch_size, clock())
        if not claimed:
            with factory() as session:
                wait = next_retry_in(session, edition_id, clock())
            if wait is None or not wait_for_retries or report.stopped:
                break
            sleep(wait)
            continue
        batches += 1
        transport = transport_factory()
        try:
            _Batch(ledger, composer, transport, report, clock, on_settled).send(claimed)
        except LostClaim as exc:  # we were presumed dead and our rows were released
            report.stopped = f"stopped sending: {exc}"
        finally:
            transport.close()
            ledger.close()
        if report.paused:
            pause_edition(factory, edition_id, report.paused)
        if report.stopped:
            break
    if max_batches is None:  # a batch task's report leaves the rest of the edition to others
        with factory() as session:
            report.waiting = due_rows(session, edition_id)
    finish_if_done(factory, edition_id, clock())
    return report


def finish_if_done(factory: sessionmaker[Session], edition_id: int, now: datetime) -> bool:
    """Mark the edition done once no row is open; returns whether it is.

    The check and the mark are one transaction holding the edition row, the lock planning
    takes before it adds readers: a reader planned in between can never be left in a done
    edition. Runs after every batch, so it asks whether one open row exists rather than
    counting them (at 100,000 readers a count cost ~7 ms per batch)."""
    with write_transaction(factory) as session:
        edition = session.scalar(select(Edition).where(Edition.id == edition_id).with_for_update())
        still_open = session.scalar(
            select(Delivery.id)
            .where(Delivery.edition_id == edition_id, Delivery.status.in_(OPEN_DELIVERY))
            .limit(1)
        )
        if still_open is not None:
            return False
        if edition is not None and edition.status in HALTED_EDITION:
            return edition.status == EditionStatus.CANCELLED
        if edition is not None and edition.status != EditionStatus.DONE:
            edition.status = EditionStatus.DONE
            edition.completed_at = now
    return True
