"""The ledger and the send loop: every (edition, reader) is mailed exactly once, or visibly not.

A delivery row moves through these states; only the sender holding its claim token may move it:

    pending / retry (due) --claim--> claimed --mark--> sending --reply--> sent
                                                                 \\-----> retry (4xx, not sent)
                                                                 \\-----> failed (5xx: suppressed)
                                                                 \\-----> unknown (lost after DATA)

Why each step exists:
- claim: a batch is taken atomically (PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent senders
  take disjoint rows; SQLite: BEGIN IMMEDIATE, one writer at a time). Claimed rows are not yet
  sent, so a claim left behind by a dead sender is safely released to pending after a timeout.
- mark "sending", committed BEFORE the message goes out: if the sender dies now, nobody can tell
  whether the server accepted the message, so the row becomes "unknown", never silently resent
  (a duplicate) nor silently dropped. At most one row per sender is ever in this state.
- settle right after the reply: the row says what the server said (code and text). To keep one
  commit per message, settling a message and marking the next one share a transaction.
Retries back off exponentially; after `max_attempts` the row fails. Resends are deliberate:
an admin request resets rows to pending and leaves an audit row (DeliveryAttempt kind="resend").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import (
    Connection,
    CursorResult,
    Dialect,
    Table,
    and_,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from pipeline.mail.transport import SendOutcome, Transport
from pipeline.readers.addresses import smtp_address
from pipeline.readers.lifecycle import suppress
from pipeline.store.db import write_transaction
from pipeline.store.models import (
    Delivery,
    DeliveryAttempt,
    Edition,
    Subscriber,
    Suppression,
    UTCDateTime,
)
from pipeline.timeutil import utcnow

DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
OPEN_STATES = ("pending", "retry", "claimed", "sending")
MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery, with what composing its message needs."""

    delivery_id: int
    edition_id: int
    segment_id: int
    subscriber_id: int
    email: str
    email_key: str
    token_version: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Composed:
    message: bytes
    message_id: str


class Composer(Protocol):
    """Builds one reader's message. Expensive work is cached per edition and segment."""

    envelope_from: str

    def compose(self, job: Job) -> Composed: ...


@dataclass
class SendPolicy:
    batch_size: int = 100
    max_attempts: int = 5
    backoff: timedelta = timedelta(seconds=60)
    claim_timeout: timedelta = timedelta(minutes=10)


@dataclass
class SendReport:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    waiting: int | None = None  # rows left pending or in retry (counted by whole-edition runs)
    stopped: str | None = None  # why the loop stopped early (e.g. SMTP unreachable)
    errors: list[str] = field(default_factory=list)

    def count(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)


def _rows(result: object) -> int:
    """Rows an UPDATE touched (the driver reports it on the cursor result)."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


# --- claiming ----------------------------------------------------------------------------


def _due_ids(session: Session, edition_id: int, now: datetime, limit: int) -> list[int]:
    """Up to `limit` due rows of the edition: retries whose time came, then pending rows.

    Two queries, not one with OR: each reads ix_deliveries_claim_order in (segment, id) order
    and stops at `limit`, where the OR made the database sort every due row of the edition
    per batch. Consecutive rows share a segment, so the composer reuses its per-segment parts.
    On PostgreSQL rows another sender is claiming right now are skipped, not waited for.
    """
    skip_locked = session.get_bind().dialect.name == "postgresql"
    ids: list[int] = []
    for due in (
        and_(Delivery.status == "retry", Delivery.next_attempt_at <= now),
        Delivery.status == "pending",
    ):
        query = (
            select(Delivery.id)
            .where(Delivery.edition_id == edition_id, due)
            .order_by(Delivery.segment_id, Delivery.id)
            .limit(limit - len(ids))
        )
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        ids.extend(session.scalars(query))
        if len(ids) >= limit:
            break
    return ids


def claim_batch(
    factory: sessionmaker[Session], edition_id: int, token: str, limit: int, now: datetime
) -> list[Job]:
    """Atomically take up to `limit` due rows of the edition for sender `token`."""
    with write_transaction(factory) as session:
        ids = _due_ids(session, edition_id, now, limit)
        if not ids:
            return []
        session.execute(
            update(DELIVERIES)
            .where(DELIVERIES.c.id.in_(ids))
            .values(status="claimed", claim_token=token, claimed_at=now, updated_at=now)
        )
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.edition_id,
                Delivery.segment_id,
                Subscriber.id,
                Subscriber.email,
                Subscriber.email_key,
                Subscriber.token_version,
                Delivery.attempts,
            )
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.segment_id, Delivery.id)
        ).all()
    return [Job(*row) for row in rows]


def release_stale_claims(
    factory: sessionmaker[Session], timeout: timedelta, now: datetime | None = None
) -> tuple[int, int]:
    """Free claims of senders that died. Returns (released to pending, marked unknown).

    "claimed" rows were never started: back to pending. "sending" rows were in flight when
    their sender stopped: the server may or may not have the message, so they become unknown.
    """
    now = now or utcnow()
    cutoff = now - timeout
    with write_transaction(factory) as session:
        released = _rows(
            session.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.status == "claimed", DELIVERIES.c.claimed_at < cutoff)
                .values(status="pending", claim_token=None, claimed_at=None, updated_at=now)
            )
        )
        unknown = _rows(
            session.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.status == "sending", DELIVERIES.c.claimed_at < cutoff)
                .values(
                    status="unknown",
                    claim_token=None,
                    last_error="the sender stopped while this message was in flight; "
                    "check whether it arrived before `paperround resend`",
                    updated_at=now,
                )
            )
        )
    return released, unknown


def reconcile_unknown(
    factory: sessionmaker[Session],
    was_accepted: Callable[[str], bool | None],
    now: datetime | None = None,
) -> tuple[int, int]:
    """Settle "unknown" rows where the receiving server can say whether it took the message
    (the embedded capture server can: pipeline/capture_log.py). Returns (sent, to retry).

    `was_accepted(message_id)`: True (it has it), False (it never got it), None (cannot tell).
    """
    now = now or utcnow()
    sent = retry = 0
    with write_transaction(factory) as session:
        rows = session.execute(
            select(Delivery.id, Delivery.message_id).where(
                Delivery.status == "unknown", Delivery.message_id.is_not(None)
            )
        ).all()
        for delivery_id, message_id in rows:
            answer = was_accepted(message_id)
            if answer is None:
                continue
            status = "sent" if answer else "retry"
            values: dict[str, object] = {"status": status, "updated_at": now, "last_error": None}
            if answer:
                values["sent_at"] = now
                sent += 1
            else:
                values["next_attempt_at"] = now
                retry += 1
            session.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == "unknown")
                .values(**values)
            )
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery_id,
                    kind="reconcile",
                    outcome=status,
                    detail="the receiving server "
                    + ("has" if answer else "never received")
                    + f" message {message_id}",
                    message_id=message_id,
                    at=now,
                )
            )
    return sent, retry


# --- settling ----------------------------------------------------------------------------


@dataclass
class _Settlement:
    job: Job
    outcome: SendOutcome
    message_id: str | None


class _LedgerSql:
    """The three statements of the per-message path as driver-level SQL, per dialect.

    The loop commits once per message; through the SQL expression layer each statement cost
    ~0.3 ms of Python (parameter processing, execution context), more than the database work
    and enough to halve the send rate (bench/digest.py). Timestamps still go through the
    column type's own bind processor, so they are stored exactly as the ORM stores them.
    """

    def __init__(self, dialect: Dialect) -> None:
        if dialect.name == "postgresql":

            def p(name: str) -> str:
                return f"%({name})s"

            sent = f"CAST({p('sent')} AS TIMESTAMP WITH TIME ZONE)"
        else:

            def p(name: str) -> str:
                return f":{name}"

            sent = p("sent")
        self.mark = (
            f"UPDATE deliveries SET status = 'sending', attempts = {p('attempts')}, "
            f"message_id = {p('message_id')}, claimed_at = {p('now')}, updated_at = {p('now')} "
            f"WHERE id = {p('id')} AND claim_token = {p('token')} AND status = 'claimed'"
        )
        self.settle = (
            f"UPDATE deliveries SET status = {p('status')}, claim_token = NULL, "
            f"last_code = {p('code')}, last_error = {p('error')}, "
            f"sent_at = COALESCE({sent}, sent_at), next_attempt_at = {p('next')}, "
            f"updated_at = {p('now')} "
            f"WHERE id = {p('id')} AND claim_token = {p('token')} AND status = 'sending'"
        )
        self.attempt = (
            "INSERT INTO delivery_attempts (delivery_id, kind, outcome, code, detail, "
            f"message_id, at) VALUES ({p('id')}, 'send', {p('status')}, {p('code')}, "
            f"{p('detail')}, {p('message_id')}, {p('now')})"
        )
        # PostgreSQL: settle + audit row + next mark as ONE statement in its own transaction
        # (data-modifying CTEs). One round trip and one commit per message instead of five
        # round trips; with two senders on two cores the database's share of the CPU is what
        # limits how far sending scales (bench/service.py).
        self.combined = None
        if dialect.name == "postgresql":
            settle_cte = self.settle.replace(
                "status = 'sending'", "status = 'sending' RETURNING id"
            )
            mark_cte = (
                self.mark.replace(p("id"), p("m_id"))
                .replace(p("attempts"), p("m_attempts"))
                .replace(p("message_id"), p("m_message_id"))
                + " RETURNING id"
            )
            self.combined = (
                f"WITH settled AS ({settle_cte}), "
                "attempt AS (INSERT INTO delivery_attempts (delivery_id, kind, outcome, code, "
                f"detail, message_id, at) SELECT id, 'send', {p('status')}, {p('code')}, "
                f"{p('detail')}, {p('message_id')}, {p('now')} FROM settled), "
                f"marked AS ({mark_cte}) "
                "SELECT (SELECT count(*) FROM settled), (SELECT count(*) FROM marked)"
            )
        processor = UTCDateTime().bind_processor(dialect)
        self.time: Callable[[datetime | None], object] = (
            processor if processor is not None else (lambda value: value)
        )


class Ledger:
    """The writes of one sender: mark, settle, release. Only rows holding `token` move.

    The per-message writes go through one connection held for the sender's life (`close()`
    it): a Session per message cost more than the SQL it ran.
    """

    def __init__(self, factory: sessionmaker[Session], token: str, policy: SendPolicy) -> None:
        self.factory = factory
        self.token = token
        self.policy = policy
        self._conn: Connection | None = None
        self._auto: Connection | None = None  # PostgreSQL: one statement, its own transaction
        self._sql = _LedgerSql(factory.kw["bind"].dialect)

    def _mine(self, delivery_id: int) -> object:
        return and_(DELIVERIES.c.id == delivery_id, DELIVERIES.c.claim_token == self.token)

    def _connection(self) -> Connection:
        if self._conn is None:
            engine = self.factory.kw["bind"]
            # BEGIN IMMEDIATE on SQLite (see pipeline/store/db.py); ignored elsewhere.
            self._conn = engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
        return self._conn

    def close(self) -> None:
        for conn in (self._conn, self._auto):
            if conn is not None:
                conn.close()
        self._conn = self._auto = None

    def commit(
        self, settle: _Settlement | None, mark: tuple[Job, str] | None, now: datetime
    ) -> str | None:
        """Settle the previous message and mark the next as in flight, in one transaction.

        Returns the status the settled row ended in (None when nothing was settled)."""
        values = self._settlement(settle, now) if settle is not None else None
        mark_params = self._mark_params(mark, now)
        final = str(values["status"]) if values is not None else None
        # A permanent refusal (5xx) also suppresses the address: a rare path kept transactional.
        bounced = settle is not None and settle.outcome.status == "failed"
        if self._sql.combined is not None and not bounced:
            self._commit_combined(values, mark_params)
            return final
        conn = self._connection()
        with conn.begin():
            if settle is not None and values is not None:
                if bounced:
                    # A hard bounce (5xx): never mail this address again. Same transaction.
                    with Session(bind=conn) as session:
                        outcome = settle.outcome
                        detail = f"{outcome.code} {outcome.detail}"
                        suppress(session, settle.job.email_key, "bounced", detail)
                        session.flush()
                if _rows(conn.exec_driver_sql(self._sql.settle, values)) != 1:
                    raise LostClaim(f"delivery {values['id']} was taken from this sender mid-send")
                conn.exec_driver_sql(self._sql.attempt, values)
            if mark_params is not None and (
                _rows(conn.exec_driver_sql(self._sql.mark, mark_params)) != 1
            ):
                raise LostClaim(f"delivery {mark_params['id']} is no longer claimed by this sender")
        return final

    def _commit_combined(
        self, values: dict[str, object] | None, mark_params: dict[str, object] | None
    ) -> None:
        if self._auto is None:
            engine = self.factory.kw["bind"]
            self._auto = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        blank = dict.fromkeys(
            ("id", "status", "code", "error", "sent", "next", "detail", "message_id"), None
        )
        params: dict[str, object] = {**blank, **(values or {}), "token": self.token}
        params["now"] = (values or mark_params or {}).get("now")
        params.update(m_id=None, m_attempts=None, m_message_id=None)
        if mark_params is not None:
            params.update(
                m_id=mark_params["id"],
                m_attempts=mark_params["attempts"],
                m_message_id=mark_params["message_id"],
                now=mark_params["now"],
            )
        assert self._sql.combined is not None
        row = self._auto.exec_driver_sql(self._sql.combined, params).one()
        if values is not None and row[0] != 1:
            raise LostClaim(f"delivery {values['id']} was taken from this sender mid-send")
        if mark_params is not None and row[1] != 1:
            raise LostClaim(f"delivery {mark_params['id']} is no longer claimed by this sender")

    def _mark_params(self, mark: tuple[Job, str] | None, now: datetime) -> dict[str, object] | None:
        if mark is None:
            return None
        job, message_id = mark
        return {
            "id": job.delivery_id,
            "token": self.token,
            "attempts": job.attempts + 1,
            "message_id": message_id,
            "now": self._sql.time(now),
        }

    def _settlement(self, s: _Settlement, now: datetime) -> dict[str, object]:
        """The parameters settling `s`: what the server said, after the retry policy."""
        outcome, job = s.outcome, s.job
        attempt_no = job.attempts + 1
        status = outcome.status
        error = None if status == "sent" else outcome.detail
        next_attempt = None
        if status == "retry":
            if attempt_no >= self.policy.max_attempts:
                status = "failed"
                error = f"gave up after {attempt_no} attempts: {outcome.detail}"
            else:
                next_attempt = now + min(self.policy.backoff * (2 ** (attempt_no - 1)), MAX_BACKOFF)
        when = self._sql.time(now)
        return {
            "id": job.delivery_id,
            "token": self.token,
            "status": status,
            "code": outcome.code,
            "error": error,
            "sent": when if status == "sent" else None,
            "next": self._sql.time(next_attempt),
            "now": when,
            "detail": outcome.detail,
            "message_id": s.message_id,
        }

    def close_claimed(self, jobs: Sequence[Job], status: str, reason: str, now: datetime) -> None:
        """Settle claimed, never-started rows without sending: skipped (reader no longer
        mailable) or failed (the message could not even be composed)."""
        with write_transaction(self.factory) as session:
            for job in jobs:
                session.execute(
                    update(DELIVERIES)
                    .where(self._mine(job.delivery_id), DELIVERIES.c.status == "claimed")  # type: ignore[arg-type]
                    .values(status=status, claim_token=None, last_error=reason, updated_at=now)
                )

    def release(self, jobs: Sequence[Job], now: datetime) -> None:
        """Give claimed, never-started rows back (e.g. the SMTP server is unreachable)."""
        if not jobs:
            return
        with write_transaction(self.factory) as session:
            session.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.id.in_([j.delivery_id for j in jobs]),
                    DELIVERIES.c.claim_token == self.token,
                    DELIVERIES.c.status == "claimed",
                )
                .values(status="pending", claim_token=None, claimed_at=None, updated_at=now)
            )


class LostClaim(RuntimeError):
    """Another process released or took our claim (we were presumed dead): stop sending."""


# --- the loop ----------------------------------------------------------------------------


def _not_sendable(factory: sessionmaker[Session], jobs: Sequence[Job]) -> dict[int, str]:
    """Jobs whose reader must not get mail any more, with the reason."""
    keys = [j.email_key for j in jobs]
    with factory() as session:
        suppressed = set(
            session.scalars(select(Suppression.email_key).where(Suppression.email_key.in_(keys)))
        )
        inactive = dict(
            session.execute(
                select(Subscriber.id, Subscriber.status).where(
                    Subscriber.id.in_([j.subscriber_id for j in jobs]),
                    Subscriber.status != "active",
                )
            )
            .tuples()
            .all()
        )
    reasons = {}
    for job in jobs:
        if job.email_key in suppressed:
            reasons[job.delivery_id] = "address is suppressed"
        elif job.subscriber_id in inactive:
            reasons[job.delivery_id] = f"reader is {inactive[job.subscriber_id]}"
    return reasons


def send_batch(
    factory: sessionmaker[Session],
    jobs: Sequence[Job],
    composer: Composer,
    transport: Transport,
    ledger: Ledger,
    report: SendReport,
    clock: Callable[[], datetime] = utcnow,
    on_settled: Callable[[str], None] | None = None,
) -> None:
    """Send claimed `jobs` over one transport (one SMTP connection), settling each one."""
    blocked = _not_sendable(factory, jobs)
    if blocked:
        ledger.close_claimed(
            [j for j in jobs if j.delivery_id in blocked],
            "skipped",
            "not sent: reader no longer mailable",
            clock(),
        )
        for _ in blocked:
            report.count("skipped")
            if on_settled:
                on_settled("skipped")
    pending: _Settlement | None = None
    todo = [j for j in jobs if j.delivery_id not in blocked]
    for position, job in enumerate(todo):
        try:
            composed = composer.compose(job)
        except Exception as exc:  # a rendering bug must not wedge the batch
            composed = None
            error = f"could not compose the message: {type(exc).__name__}: {exc}"
        final = ledger.commit(pending, (job, composed.message_id) if composed else None, clock())
        pending = None
        if final is not None and on_settled:
            on_settled(final)
        if final is not None:
            report.count(final)
        if composed is None:
            report.errors.append(error)
            ledger.close_claimed([job], "failed", error, clock())
            report.count("failed")
            continue
        recipient = smtp_address(job.email)  # IDN domains in A-label form (RFC 5891)
        outcome = transport.send(composer.envelope_from, recipient, composed.message)
        pending = _Settlement(job, outcome, composed.message_id)
        if outcome.systemic:
            # The server is unreachable: the rest of the batch would fail the same way and burn
            # an attempt each. Settle this one, give the others back untouched, stop.
            final = ledger.commit(pending, None, clock())
            pending = None
            report.count(final or "retry")
            if on_settled and final:
                on_settled(final)
            ledger.release(todo[position + 1 :], clock())
            report.stopped = f"SMTP server unreachable or refusing us: {outcome.detail}"
            return
    if pending is not None:
        final = ledger.commit(pending, None, clock())
        if final is not None:
            report.count(final)
            if on_settled:
                on_settled(final)


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
    on_settled: Callable[[str], None] | None = None,
    max_batches: int | None = None,
) -> SendReport:
    """Send every due delivery of an edition, batch by batch, until none is due.

    With `wait_for_retries`, keeps going (sleeping) until rows waiting for a retry are settled.
    """
    token = uuid.uuid4().hex
    ledger = Ledger(factory, token, policy)
    report = SendReport()
    batches = 0
    while max_batches is None or batches < max_batches:
        jobs = claim_batch(factory, edition_id, token, policy.batch_size, clock())
        if not jobs:
            wait = _next_retry_in(factory, edition_id, clock())
            if wait is None or not wait_for_retries or report.stopped:
                break
            sleep(wait)
            continue
        batches += 1
        transport = transport_factory()
        try:
            send_batch(factory, jobs, composer, transport, ledger, report, clock, on_settled)
        except LostClaim as exc:  # we were presumed dead and our rows were released
            report.stopped = f"stopped sending: {exc}"
        finally:
            transport.close()
            ledger.close()
        if report.stopped:
            break
    if max_batches is None:  # a batch task's report leaves the rest of the edition to others
        report.waiting = _count(factory, edition_id, ("retry", "pending"))
    finish_if_done(factory, edition_id, clock())
    return report


def _next_retry_in(factory: sessionmaker[Session], edition_id: int, now: datetime) -> float | None:
    with factory() as session:
        nxt = session.scalar(
            select(Delivery.next_attempt_at)
            .where(Delivery.edition_id == edition_id, Delivery.status == "retry")
            .order_by(Delivery.next_attempt_at)
            .limit(1)
        )
    if nxt is None:
        return None
    return max(0.0, (nxt - now).total_seconds()) + 0.01


def _count(factory: sessionmaker[Session], edition_id: int, states: Sequence[str]) -> int:

    with factory() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    Delivery.edition_id == edition_id, Delivery.status.in_(states)
                )
            )
            or 0
        )


def finish_if_done(factory: sessionmaker[Session], edition_id: int, now: datetime) -> bool:
    """Mark the edition done once no row is open; returns whether it is.

    The check and the mark are one transaction holding the edition row, the lock planning
    takes before it adds readers: a reader planned in between can never be left in a done
    edition. Runs after every batch, so it asks whether one open row exists rather than
    counting them (at 100,000 readers a count cost ~7 ms per batch)."""
    with write_transaction(factory) as session:
        edition = session.scalar(
            select(Edition).where(Edition.id == edition_id).with_for_update()
        )
        still_open = session.scalar(
            select(Delivery.id)
            .where(Delivery.edition_id == edition_id, Delivery.status.in_(OPEN_STATES))
            .limit(1)
        )
        if still_open is not None:
            return False
        if edition is not None and edition.status != "done":
            edition.status = "done"
            edition.completed_at = now
    return True


# --- deliberate resends --------------------------------------------------------------------


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
        Delivery.edition_id == edition_id, Delivery.status.not_in(["claimed", "sending"])
    )
    if subscriber_id is not None:
        query = query.where(Delivery.subscriber_id == subscriber_id)
    elif failed:
        query = query.where(Delivery.status.in_(["failed", "unknown"]))
    elif not everyone:
        raise ValueError("choose a reader, the failed deliveries, or all of them")
    count = 0
    for delivery in session.scalars(query):
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                kind="resend",
                outcome="requested",
                detail=f"resend requested (was {delivery.status})",
                at=now,
            )
        )
        delivery.status = "pending"
        delivery.next_attempt_at = None
        delivery.claim_token = None
        delivery.attempts = 0
        count += 1
    if count:
        edition = session.get(Edition, edition_id)
        if edition is not None:
            edition.status = "sending"
            edition.completed_at = None
    return count
