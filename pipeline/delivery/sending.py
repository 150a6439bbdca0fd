"""The send loop: claim a batch, compose and send each message, settle it in the ledger.

One batch is one SMTP connection. Per message the loop commits once: the previous message's
outcome and the next message's "sending" mark share a transaction (pipeline/delivery/ledger.py
says why the mark must be committed before the body leaves). The loop never decides who gets
what: planning did (pipeline/digest/planning.py); it only moves rows it claimed.

With a transport that sends in steps (SMTP: pipeline/mail/transport.py StagedTransport) the
waits overlap the work. Per message N, the previous one's reply read:

    envelope N written -> commit (settle N-1, mark N) sent -> [compose N+1] -> commit answered
      -> envelope replies read -> body N written -> [compose N+1] -> reply N read -> ...

Message N+1 is composed while something waits for N: on PostgreSQL while the commit of N's
mark is on its way (the ledger sends it without waiting, Ledger.write_soon), elsewhere while
the server reads and answers N's body (SQLite's commit is work in this process, nothing to
wait for). The envelope's round trip runs during the commit. A body still leaves only after
its mark is committed: an envelope alone delivers nothing, and if the mark fails the
connection is dropped before the body.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery import summary
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
from pipeline.mail.transport import Exchange, SendOutcome, SendStatus, StagedTransport, Transport
from pipeline.readers.addresses import smtp_address
from pipeline.store.db import write_transaction
from pipeline.store.models import Edition, SentHistory, Subscriber, Suppression
from pipeline.store.sql import among
from pipeline.store.status import (
    HALTED_EDITION,
    DeliveryStatus,
    EditionStatus,
    SubscriberStatus,
)
from pipeline.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Composed:
    message: bytes
    message_id: str
    # No line of `message` starts with "." (pipeline/mail/qp.py makes bodies so): the SMTP
    # transport may skip dot-stuffing. Only a composer that knows it may say so.
    transparent: bool = False


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


NOT_MAILABLE = "not sent: reader no longer mailable"
GOT_IT_BEFORE = "not sent: the reader got this edition already (its rows were compacted)"


def _not_to_send(
    factory: sessionmaker[Session], deliveries: Sequence[ClaimedDelivery]
) -> dict[int, str]:
    """Deliveries that must not be sent, with why: the reader must not get mail any more
    (suppressed, left), or got this edition already and retention compacted that row away
    (a reader planned into an old edition again must not get it twice)."""
    keys = [d.email_key for d in deliveries]
    reader_ids = [d.subscriber_id for d in deliveries]
    with factory() as session:
        suppressed = set(
            session.scalars(select(Suppression.email_key).where(Suppression.email_key.in_(keys)))
        )
        inactive = set(
            session.scalars(
                select(Subscriber.id).where(
                    among(Subscriber.id, reader_ids), Subscriber.status != SubscriberStatus.ACTIVE
                )
            )
        )
        got_it = set(
            session.execute(
                select(SentHistory.subscriber_id, SentHistory.edition_id).where(
                    among(SentHistory.subscriber_id, reader_ids),
                    among(SentHistory.edition_id, (d.edition_id for d in deliveries)),
                )
            ).tuples()
        )
    reasons = {}
    for d in deliveries:
        if d.email_key in suppressed or d.subscriber_id in inactive:
            reasons[d.delivery_id] = NOT_MAILABLE
        elif (d.subscriber_id, d.edition_id) in got_it:
            reasons[d.delivery_id] = GOT_IT_BEFORE
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


class _WholeSend:
    """An Exchange over a transport that cannot send in steps: the whole send happens in
    `send_body`, which the loop calls only after the mark is committed."""

    def __init__(
        self, transport: Transport, envelope_from: str, to_addr: str, message: bytes
    ) -> None:
        self._transport = transport
        self._envelope = (envelope_from, to_addr, message)
        self._outcome: SendOutcome | None = None

    def envelope_ready(self) -> SendOutcome | None:
        return None

    def send_body(self) -> None:
        self._outcome = self._transport.send(*self._envelope)

    def outcome(self) -> SendOutcome:
        assert self._outcome is not None, "outcome() before send_body()"
        return self._outcome

    def abandon(self) -> None:
        """Nothing was written yet."""


@dataclass
class _OnWire:
    """A message whose body was written and whose reply is not read yet."""

    delivery: ClaimedDelivery
    message_id: str
    exchange: Exchange


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
        self.staged = transport if isinstance(transport, StagedTransport) else None

    def tally(self, status: DeliveryStatus | None, times: int = 1) -> None:
        if status is None:
            return
        for _ in range(times):
            self.report.count(status)
            if self.on_settled is not None:
                self.on_settled(status)

    def _begin(self, delivery: ClaimedDelivery, composed: Composed) -> Exchange:
        recipient = smtp_address(delivery.email)  # IDN domains as A-labels (RFC 5891)
        sender = self.composer.envelope_from
        message = composed.message
        if self.staged is not None:
            return self.staged.begin(sender, recipient, message, transparent=composed.transparent)
        return _WholeSend(self.transport, sender, recipient, message)

    def _stopped(
        self,
        outcome: SendOutcome | None,
        in_flight: Settlement | None,
        rest: Sequence[ClaimedDelivery],
    ) -> bool:
        """Observe one more outcome; when it says stop, settle what is in flight, give the
        rest back untouched (it would fare the same and burn an attempt each) and say so."""
        stop, pause = self.watch.observe(outcome)
        if outcome is not None and outcome.systemic:
            stop = f"SMTP server unreachable or refusing us: {outcome.detail}"
        if stop is None:
            return False
        self.tally(self.ledger.settle_and_mark(in_flight, None, self.clock()))
        self.ledger.release(rest, self.clock())
        self.report.stopped = stop
        self.report.paused = pause
        return True

    def _compose(self, delivery: ClaimedDelivery) -> Composed | str:
        """The message, or why it could not be made (a rendering bug must not wedge the
        batch: that reader's row fails, the others go on)."""
        try:
            return self.composer.compose(delivery)
        except Exception as exc:
            return f"could not compose the message: {type(exc).__name__}: {exc}"

    def send(self, deliveries: Sequence[ClaimedDelivery]) -> None:
        blocked = _not_to_send(self.ledger.factory, deliveries)
        for reason in sorted(set(blocked.values())):
            skipped = [d for d in deliveries if blocked.get(d.delivery_id) == reason]
            self.ledger.close_claimed(skipped, DeliveryStatus.SKIPPED, reason, self.clock())
            self.tally(DeliveryStatus.SKIPPED, len(skipped))
        todo = [d for d in deliveries if d.delivery_id not in blocked]
        in_flight: Settlement | None = None  # its outcome is known, not written yet
        on_wire: _OnWire | None = None  # its body is written, its reply not read yet
        upcoming = self._compose(todo[0]) if todo else None
        for position, delivery in enumerate(todo):
            composed, upcoming = upcoming, None
            if on_wire is not None:
                outcome = on_wire.exchange.outcome()
                in_flight = Settlement(on_wire.delivery, outcome, on_wire.message_id)
                on_wire = None
                if self._stopped(outcome, in_flight, todo[position:]):
                    return
            later = todo[position + 1] if position + 1 < len(todo) else None
            if not isinstance(composed, Composed):
                self.tally(self.ledger.settle_and_mark(in_flight, None, self.clock()))
                in_flight = None
                error = str(composed)
                self.report.errors.append(error)
                self.ledger.close_claimed([delivery], DeliveryStatus.FAILED, error, self.clock())
                self.tally(DeliveryStatus.FAILED)
                if self._stopped(None, None, todo[position + 1 :]):
                    return
                upcoming = self._compose(later) if later is not None else None
                continue
            exchange = self._begin(delivery, composed)  # the envelope, not the body
            try:
                next_up = (delivery, composed.message_id)
                write = self.ledger.write_soon(in_flight, next_up, self.clock())
                in_flight = None
                if write.deferred and later is not None:
                    # While the database commits (and the server answers the envelope):
                    # the next message. It is wasted only if this batch stops now.
                    upcoming = self._compose(later)
                self.tally(write.wait())
            except BaseException as exc:
                exchange.abandon()  # not marked: the body must not leave
                if isinstance(exc, LostClaim):
                    self.tally(exc.settled)  # the previous message's outcome was committed
                raise
            refused = exchange.envelope_ready()
            if refused is None:
                exchange.send_body()
                on_wire = _OnWire(delivery, composed.message_id, exchange)
            else:
                in_flight = Settlement(delivery, refused, composed.message_id)
                if self._stopped(refused, in_flight, todo[position + 1 :]):
                    return
            if upcoming is None and later is not None:
                upcoming = self._compose(later)  # while the server reads and answers the body
        if on_wire is not None:
            outcome = on_wire.exchange.outcome()
            in_flight = Settlement(on_wire.delivery, outcome, on_wire.message_id)
            if self._stopped(outcome, in_flight, ()):
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
            _end_batch(ledger, claimed)
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


def _end_batch(ledger: Ledger, claimed: Sequence[ClaimedDelivery]) -> None:
    try:
        ledger.end_batch(claimed)
    except SQLAlchemyError as exc:  # the stale-claim sweep removes them instead
        log.warning("could not forget the claims of a finished batch: %s", exc)


def finish_if_done(factory: sessionmaker[Session], edition_id: int, now: datetime) -> bool:
    """Mark the edition done once no row is open; returns whether it is.

    The check and the mark are one transaction holding the edition row, the lock planning
    takes before it adds readers: a reader planned in between can never be left in a done
    edition. Runs after every batch, so it asks whether one open row exists rather than
    counting them (at 100,000 readers a count cost ~7 ms per batch). Closing writes the
    edition's summary (pipeline/delivery/summary.py): its rows are counted once, then."""
    with write_transaction(factory) as session:
        edition = session.scalar(select(Edition).where(Edition.id == edition_id).with_for_update())
        if summary.has_open_rows(session, edition_id):
            return False
        if edition is None:
            return True
        if edition.status in HALTED_EDITION:
            if edition.status == EditionStatus.CANCELLED and edition.summary is None:
                summary.close(session, edition)
            return edition.status == EditionStatus.CANCELLED
        if edition.status != EditionStatus.DONE:
            edition.status = EditionStatus.DONE
            edition.completed_at = now
            summary.close(session, edition)
        elif edition.summary is None:
            summary.close(session, edition)
    return True
