"""The ledger: every (edition, reader) is mailed exactly once, or visibly not.

A delivery row moves through these states; only the sender holding its claim may move it:

    pending / retry (due) --claim--> claimed --mark--> sending --reply--> sent
                                                                 \\-----> retry (4xx, not sent)
                                                                 \\-----> failed (5xx: suppressed)
                                                                 \\-----> unknown (lost after DATA)

Why each step exists:
- claim: a batch is taken atomically (PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent senders
  take disjoint rows; SQLite: BEGIN IMMEDIATE, one writer at a time). Claimed rows are not yet
  sent, so a claim left behind by a dead sender is safely released to pending after a timeout
  (pipeline/delivery/recovery.py). The claim also lists its rows in delivery_claims, which is
  how the sweeps find rows in flight: no index of `deliveries` covers `status`, so the two
  per-message updates below are HOT on PostgreSQL (migration 0007 says why).
- mark "sending", committed BEFORE the message goes out: if the sender dies now, nobody can tell
  whether the server accepted the message, so the row becomes "unknown", never silently resent
  (a duplicate) nor silently dropped. At most one row per sender is ever in this state.
- settle right after the reply: the row says what the server said (code and text). To keep one
  commit per message, settling a message and marking the next one share a transaction
  (`Ledger.settle_and_mark`).
Retries back off exponentially; after `max_attempts` the row fails. The send loop that drives
these writes is pipeline/delivery/sending.py.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Dialect,
    Table,
    TextClause,
    and_,
    delete,
    literal_column,
    null,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.mail.transport import SendOutcome
from pipeline.readers.suppressions import suppress
from pipeline.store.db import write_transaction
from pipeline.store.models import (
    Delivery,
    DeliveryClaim,
    Edition,
    Segment,
    Subscriber,
    UTCDateTime,
)
from pipeline.store.sql import among, insert_rows, is_postgresql
from pipeline.store.status import (
    HALTED_EDITION,
    IN_FLIGHT_DELIVERY,
    AttemptKind,
    DeliveryStatus,
    SuppressionReason,
)

DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
_COMMAND_OK, _TUPLES_OK = 1, 2  # libpq's ExecStatusType (PGRES_COMMAND_OK, PGRES_TUPLES_OK)
CLAIMS: Table = DeliveryClaim.__table__  # type: ignore[assignment]
MAX_BACKOFF = timedelta(hours=6)
_S = DeliveryStatus


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """One delivery a sender holds, with what composing its message needs."""

    delivery_id: int
    edition_id: int
    segment_id: int
    paper_ids: tuple[int, ...]  # the segment's papers, in the order the digest shows them
    subscriber_id: int
    link_id: str  # the opaque id the reader's signed links carry
    email: str
    email_key: str
    token_version: int
    attempts: int
    # The segment's reasons and followed positions, read with the claim (one query per
    # batch, not one per segment while composing); None when the claim did not read them.
    segment_notes: tuple[list[list[str]] | None, list[int] | None] | None = None


@dataclass
class SendPolicy:
    batch_size: int = 100
    max_attempts: int = 5
    backoff: timedelta = timedelta(seconds=60)
    claim_timeout: timedelta = timedelta(minutes=10)
    # The breaker: this many connection failures in a row (refused, dropped, timed out) stop
    # the batch and leave the rest waiting, instead of one timeout per reader.
    breaker_failures: int = 3
    # The relay refusing this many messages in a row with the same reply pauses the edition.
    pause_same_refusals: int = 3
    # Failed or unknown outcomes above this share of the last PAUSE_WINDOW pause the edition.
    pause_error_rate: float = 0.5


class LostClaim(RuntimeError):
    """Another process released or took our claim (we were presumed dead): stop sending.

    `settled` is the status the previous message was settled in when only the next one's
    mark failed: that outcome is true and was committed."""

    def __init__(self, message: str, settled: DeliveryStatus | None = None) -> None:
        super().__init__(message)
        self.settled = settled


def rows_touched(result: object) -> int:
    """Rows an UPDATE touched (the driver reports it on the cursor result)."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


# --- claiming ----------------------------------------------------------------------------


def _due_rows(
    session: Session, edition_id: int, now: datetime, limit: int
) -> list[tuple[int, str | None]]:
    """Up to `limit` due rows of the edition, (id, ctid on PostgreSQL): retries whose time
    came, then pending rows.

    Two queries, not one with OR: each reads ix_deliveries_waiting in (segment, id) order
    and stops at `limit`, where the OR made the database sort every due row of the edition
    per batch. Consecutive rows share a segment, so the composer reuses its per-segment parts.
    On PostgreSQL rows another sender is claiming right now are skipped, not waited for, and
    the rows' physical addresses come along: the claim updates them by address, a plan no
    table statistics can turn into a scan of the edition (a table planned a moment ago has
    none yet, and a scan per batch made an edition cost readers^2).
    """
    postgresql = is_postgresql(session)
    rows: list[tuple[int, str | None]] = []
    for due in (
        and_(Delivery.waiting == _S.RETRY, Delivery.next_attempt_at <= now),
        Delivery.waiting == _S.PENDING,
    ):
        query = (
            select(Delivery.id, literal_column("ctid") if postgresql else null())
            .where(Delivery.edition_id == edition_id, due)
            .order_by(Delivery.segment_id, Delivery.id)
            .limit(limit - len(rows))
        )
        if postgresql:
            query = query.with_for_update(skip_locked=True)
        rows.extend((int(i), None if t is None else str(t)) for i, t in session.execute(query))
        if len(rows) >= limit:
            break
    return rows


def claim_batch(
    factory: sessionmaker[Session], edition_id: int, claim: str, limit: int, now: datetime
) -> list[ClaimedDelivery]:
    """Atomically take up to `limit` due rows of the edition for the sender named `claim`.

    Each row comes with its reader and its segment's papers, in claim order (segment, id).
    Readers and segments are read by primary key, each in its own query: joined to the
    claimed rows, the planner hashed the whole subscribers table per batch (9 ms at 20,000
    readers), a cost that grew with the readers, not the batch."""
    with write_transaction(factory) as session:
        status = session.scalar(select(Edition.status).where(Edition.id == edition_id))
        if status in HALTED_EDITION:  # paused or cancelled: its rows wait (or were skipped)
            return []
        due = _due_rows(session, edition_id, now, limit)
        if not due:
            return []
        ids = [i for i, _ in due]
        where: list[ColumnElement[bool] | TextClause] = [among(DELIVERIES.c.id, ids)]
        if due[0][1] is not None:  # PostgreSQL: by address (rows locked by us stay put)
            addresses = ", ".join(f"'{t}'" for _, t in due if re.fullmatch(r"\(\d+,\d+\)", t or ""))
            where.append(text(f"ctid = ANY(ARRAY[{addresses}]::tid[])"))
        claimed = session.execute(
            update(DELIVERIES)
            .where(*where)
            .values(status=_S.CLAIMED, claim_token=claim, claimed_at=now, updated_at=now)
            .returning(
                DELIVERIES.c.id,
                DELIVERIES.c.segment_id,
                DELIVERIES.c.subscriber_id,
                DELIVERIES.c.attempts,
            )
        ).all()
        insert_rows(
            session,
            CLAIMS,
            [{"delivery_id": i, "claim_token": claim} for i in ids],
            conflict=["delivery_id", "claim_token"],
        )
        readers = {
            reader_id: (link_id, email, email_key, token_version)
            for reader_id, link_id, email, email_key, token_version in session.execute(
                select(
                    Subscriber.id,
                    Subscriber.link_id,
                    Subscriber.email,
                    Subscriber.email_key,
                    Subscriber.token_version,
                ).where(among(Subscriber.id, (c.subscriber_id for c in claimed)))
            ).tuples()
        }
        segments = {
            segment_id: (paper_ids, (reasons, followed))
            for segment_id, paper_ids, reasons, followed in session.execute(
                select(Segment.id, Segment.paper_ids, Segment.reasons, Segment.followed).where(
                    among(Segment.id, (c.segment_id for c in claimed))
                )
            ).tuples()
        }
    jobs = []
    for delivery_id, segment_id, subscriber_id, attempts in sorted(
        claimed, key=lambda c: (c[1], c[0])
    ):
        link_id, email, email_key, token_version = readers[subscriber_id]
        jobs.append(
            ClaimedDelivery(
                delivery_id,
                edition_id,
                segment_id,
                tuple(segments[segment_id][0]),
                subscriber_id,
                link_id,
                email,
                email_key,
                token_version,
                attempts,
                segments[segment_id][1],
            )
        )
    return jobs


# --- settling ----------------------------------------------------------------------------


@dataclass
class Settlement:
    """What the server said about one message, waiting to be written."""

    delivery: ClaimedDelivery
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
            f"UPDATE deliveries SET status = '{_S.SENDING}', attempts = {p('attempts')}, "
            f"message_id = {p('message_id')}, claimed_at = {p('now')}, updated_at = {p('now')} "
            f"WHERE id = {p('id')} AND claim_token = {p('claim')} AND status = '{_S.CLAIMED}'"
        )
        self.settle = (
            f"UPDATE deliveries SET status = {p('status')}, claim_token = NULL, "
            f"last_code = {p('code')}, last_error = {p('error')}, "
            f"sent_at = COALESCE({sent}, sent_at), next_attempt_at = {p('next')}, "
            f"updated_at = {p('now')} "
            f"WHERE id = {p('id')} AND claim_token = {p('claim')} AND status = '{_S.SENDING}'"
        )
        self.attempt = (
            "INSERT INTO delivery_attempts (delivery_id, kind, outcome, code, detail, "
            f"message_id, at) VALUES ({p('id')}, '{AttemptKind.SEND}', {p('status')}, "
            f"{p('code')}, {p('detail')}, {p('message_id')}, {p('now')})"
        )
        # PostgreSQL: settle + audit row + next mark as ONE statement in its own transaction
        # (data-modifying CTEs). One round trip and one commit per message instead of five
        # round trips; with two senders on two cores the database's share of the CPU is what
        # limits how far sending scales (bench/service.py).
        self.sqlite = dialect.name == "sqlite"
        self.combined = None
        if dialect.name == "postgresql":
            settle_cte = self.settle.replace(
                f"status = '{_S.SENDING}'", f"status = '{_S.SENDING}' RETURNING id"
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
                f"detail, message_id, at) SELECT id, '{AttemptKind.SEND}', {p('status')}, "
                f"{p('code')}, {p('detail')}, {p('message_id')}, {p('now')} FROM settled), "
                f"marked AS ({mark_cte}) "
                "SELECT (SELECT count(*) FROM settled), (SELECT count(*) FROM marked)"
            )
        processor = UTCDateTime().bind_processor(dialect)
        self.time: Callable[[datetime | None], object] = (
            processor if processor is not None else (lambda value: value)
        )
        # The same statement with $n placeholders and declared types, prepared once per
        # connection and sent without waiting (Ledger.write_soon).
        self.positional: tuple[bytes, list[str], list[int]] | None = None
        if self.combined is not None:
            names: list[str] = []

            def number(match: re.Match[str]) -> str:
                if match.group(1) not in names:
                    names.append(match.group(1))
                return f"${names.index(match.group(1)) + 1}"

            sql = re.sub(r"%\((\w+)\)s", number, self.combined)
            self.positional = (sql.encode(), names, [_PG_TYPES[n] for n in names])


# PostgreSQL type oids of the per-message statement's parameters (pg_type).
_INT8, _INT4, _TEXT, _TIMESTAMPTZ = 20, 23, 25, 1184
_PG_TYPES = {
    "id": _INT8,
    "m_id": _INT8,
    "attempts": _INT4,
    "m_attempts": _INT4,
    "code": _INT4,
    "sent": _TIMESTAMPTZ,
    "next": _TIMESTAMPTZ,
    "now": _TIMESTAMPTZ,
    **dict.fromkeys(("claim", "status", "error", "detail", "message_id", "m_message_id"), _TEXT),
}
_STATEMENTS = itertools.count(1)  # prepared statement names, unique in this process


def _text(value: object) -> bytes | None:
    """A parameter in PostgreSQL's text format."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().encode()
    return str(value).encode()


class PendingWrite:
    """A settle-and-mark sent to the database, its answer not read yet: the sender composes
    the next message while PostgreSQL commits. `wait()` returns what `settle_and_mark`
    returns and raises what it raises."""

    def __init__(self, wait: Callable[[], DeliveryStatus | None], *, deferred: bool) -> None:
        self.wait = wait
        self.deferred = deferred  # False: the write is done already, nothing to wait for


class Ledger:
    """The writes of one sender: mark, settle, close, release. Only rows holding `claim` move.

    The per-message writes go through one connection held for the sender's life (`close()`
    it): a Session per message cost more than the SQL it ran.
    """

    def __init__(self, factory: sessionmaker[Session], claim: str, policy: SendPolicy) -> None:
        self.factory = factory
        self.claim = claim
        self.policy = policy
        self._conn: Connection | None = None
        self._auto: Connection | None = None  # PostgreSQL: one statement, its own transaction
        self._prepared: bytes | None = None  # the statement's name on self._auto, once prepared
        self._sql = _LedgerSql(factory.kw["bind"].dialect)

    def _connection(self) -> Connection:
        if self._conn is None:
            engine = self.factory.kw["bind"]
            # BEGIN IMMEDIATE on SQLite (see pipeline/store/db.py); ignored elsewhere.
            self._conn = engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
        return self._conn

    def close(self) -> None:
        if self._auto is not None and self._prepared is not None:
            # The connection goes back to the pool: leave no statement behind (a broken
            # connection is discarded by the pool anyway).
            with contextlib.suppress(SQLAlchemyError):
                self._auto.exec_driver_sql(f"DEALLOCATE {self._prepared.decode()}")
        for conn in (self._conn, self._auto):
            if conn is not None:
                conn.close()
        self._conn = self._auto = None
        self._prepared = None

    def settle_and_mark(
        self,
        settled: Settlement | None,
        next_up: tuple[ClaimedDelivery, str] | None,
        now: datetime,
    ) -> DeliveryStatus | None:
        """Write the previous message's outcome and mark the next (delivery, message id) as
        in flight, in one transaction. Either may be None.

        Returns the status the settled row ended in (None when nothing was settled)."""
        values = self._settlement(settled, now) if settled is not None else None
        mark_params = self._mark_params(next_up, now)
        final = DeliveryStatus(str(values["status"])) if values is not None else None
        # A permanent refusal of the address (RFC 3463 X.1.x, pipeline/mail/replies.py) also
        # suppresses it: a rare path, kept in the same transaction.
        bounced = settled is not None and settled.outcome.suppress
        if self._sql.combined is not None and not bounced:
            self._settle_and_mark_in_one_statement(values, mark_params, final)
            return final
        if self._sql.sqlite and not bounced:
            self._settle_and_mark_on_sqlite(values, mark_params, final)
            return final
        conn = self._connection()
        mark_lost = False
        with conn.begin():
            if settled is not None and values is not None:
                if bounced:
                    # A hard bounce (5xx): never mail this address again. Same transaction.
                    with Session(bind=conn) as session:
                        outcome = settled.outcome
                        detail = f"{outcome.code} {outcome.detail}"
                        suppress(
                            session,
                            settled.delivery.email_key,
                            SuppressionReason.BOUNCED,
                            detail,
                        )
                        session.flush()
                if rows_touched(conn.exec_driver_sql(self._sql.settle, values)) != 1:
                    raise LostClaim(f"delivery {values['id']} was taken from this sender mid-send")
                conn.exec_driver_sql(self._sql.attempt, values)
            if mark_params is not None:
                # A failed mark leaves the settle to commit: that outcome is what happened.
                mark_lost = rows_touched(conn.exec_driver_sql(self._sql.mark, mark_params)) != 1
        if mark_lost and mark_params is not None:
            raise LostClaim(
                f"delivery {mark_params['id']} is no longer claimed by this sender", final
            )
        return final

    def write_soon(
        self,
        settled: Settlement | None,
        next_up: tuple[ClaimedDelivery, str] | None,
        now: datetime,
    ) -> PendingWrite:
        """`settle_and_mark`, sent now and answered at `wait()`. On PostgreSQL the statement
        goes out without waiting for its commit, so the caller can work meanwhile; it must
        call `wait()` before anything else uses the ledger. Elsewhere (SQLite, a bounce to
        suppress in the same transaction) the write is done before this returns."""
        values = self._settlement(settled, now) if settled is not None else None
        bounced = settled is not None and settled.outcome.suppress
        if self._sql.positional is None or bounced:
            status = self.settle_and_mark(settled, next_up, now)
            return PendingWrite(lambda: status, deferred=False)
        mark_params = self._mark_params(next_up, now)
        final = DeliveryStatus(str(values["status"])) if values is not None else None
        pgconn, statement = self._pgconn()
        _sql, names, _types = self._sql.positional
        params = self._combined_params(values, mark_params)
        pgconn.send_query_prepared(statement, [_text(params[n]) for n in names])

        def wait() -> DeliveryStatus | None:
            row = self._answer(pgconn)
            self._check(values, mark_params, final, row)
            return final

        return PendingWrite(wait, deferred=True)

    def _pgconn(self) -> tuple[Any, bytes]:
        """libpq's connection under the autocommit connection, and the name the statement is
        prepared under there (prepared once per connection this ledger holds: the pool may
        hand it to others, and drivers may drop statements between checkouts)."""
        auto = self._autocommit()
        pgconn = auto.connection.driver_connection.pgconn  # type: ignore[union-attr]
        if self._prepared is None:
            assert self._sql.positional is not None
            sql, _names, types = self._sql.positional
            name = f"paperround_ledger_{self.claim[:12]}_{next(_STATEMENTS)}".encode()
            result = pgconn.prepare(name, sql, types)
            if result.status != _COMMAND_OK:
                message = result.error_message.decode(errors="replace").strip()
                raise OperationalError("prepare", None, RuntimeError(message))
            self._prepared = name
        return pgconn, self._prepared

    def _answer(self, pgconn: Any) -> tuple[int, int]:
        """Read the statement's result (blocking until PostgreSQL committed it)."""
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
        failed = [r for r in results if r.status != _TUPLES_OK]
        if failed or not results:
            message = failed[0].error_message.decode(errors="replace") if failed else "no result"
            self.close()  # the connection's state is unknown: start a new one
            raise OperationalError("settle and mark", None, RuntimeError(message.strip()))
        last = results[-1]
        return int(last.get_value(0, 0)), int(last.get_value(0, 1))

    def _autocommit(self) -> Connection:
        if self._auto is None:
            engine = self.factory.kw["bind"]
            self._auto = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._auto

    def _combined_params(
        self, values: dict[str, object] | None, mark_params: dict[str, object] | None
    ) -> dict[str, object]:
        blank = dict.fromkeys(
            ("id", "status", "code", "error", "sent", "next", "detail", "message_id"), None
        )
        params: dict[str, object] = {**blank, **(values or {}), "claim": self.claim}
        params["now"] = (values or mark_params or {}).get("now")
        params.update(m_id=None, m_attempts=None, m_message_id=None)
        if mark_params is not None:
            params.update(
                m_id=mark_params["id"],
                m_attempts=mark_params["attempts"],
                m_message_id=mark_params["message_id"],
                now=mark_params["now"],
            )
        return params

    @staticmethod
    def _check(
        values: dict[str, object] | None,
        mark_params: dict[str, object] | None,
        final: DeliveryStatus | None,
        row: tuple[int, int] | Any,
    ) -> None:
        if values is not None and row[0] != 1:
            raise LostClaim(f"delivery {values['id']} was taken from this sender mid-send")
        if mark_params is not None and row[1] != 1:
            raise LostClaim(
                f"delivery {mark_params['id']} is no longer claimed by this sender", final
            )

    def _settle_and_mark_on_sqlite(
        self,
        values: dict[str, object] | None,
        mark_params: dict[str, object] | None,
        final: DeliveryStatus | None,
    ) -> None:
        """The settle, its audit row and the next mark through sqlite3 itself, in one
        BEGIN IMMEDIATE transaction: through SQLAlchemy's execution layer the five calls cost
        ~0.25 ms of Python per message, more than SQLite's own work (bench/digest.py). The
        statements and their parameters are the ones `settle_and_mark` runs otherwise."""
        driver = self._connection().connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        statement, params = "BEGIN IMMEDIATE", None
        marked = 0
        try:
            driver.execute(statement)
            try:
                if values is not None:
                    statement, params = self._sql.settle, values
                    if driver.execute(statement, params).rowcount != 1:
                        raise LostClaim(
                            f"delivery {values['id']} was taken from this sender mid-send"
                        )
                    statement = self._sql.attempt
                    driver.execute(statement, params)
                if mark_params is not None:
                    # A failed mark leaves the settle to commit: that outcome is what happened.
                    statement, params = self._sql.mark, mark_params
                    marked = driver.execute(statement, params).rowcount
                statement, params = "COMMIT", None
                driver.execute(statement)
            except BaseException:
                if driver.in_transaction:
                    driver.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:  # as SQLAlchemy would raise it, for the callers' handlers
            raise DBAPIError.instance(statement, params, exc, sqlite3.Error) from exc
        self._check(values, mark_params, final, (1, marked))  # the settle was checked above

    def _settle_and_mark_in_one_statement(
        self,
        values: dict[str, object] | None,
        mark_params: dict[str, object] | None,
        final: DeliveryStatus | None,
    ) -> None:
        assert self._sql.combined is not None
        params = self._combined_params(values, mark_params)
        row = self._autocommit().exec_driver_sql(self._sql.combined, params).one()
        self._check(values, mark_params, final, row)

    def _mark_params(
        self, next_up: tuple[ClaimedDelivery, str] | None, now: datetime
    ) -> dict[str, object] | None:
        if next_up is None:
            return None
        delivery, message_id = next_up
        return {
            "id": delivery.delivery_id,
            "claim": self.claim,
            "attempts": delivery.attempts + 1,
            "message_id": message_id,
            "now": self._sql.time(now),
        }

    def _settlement(self, s: Settlement, now: datetime) -> dict[str, object]:
        """The parameters settling `s`: what the server said, after the retry policy."""
        outcome, delivery = s.outcome, s.delivery
        attempt_no = delivery.attempts + 1
        status = DeliveryStatus(outcome.status.value)
        error = None if status == _S.SENT else outcome.detail
        next_attempt = None
        if status == _S.RETRY:
            if attempt_no >= self.policy.max_attempts:
                status = _S.FAILED
                error = f"gave up after {attempt_no} attempts: {outcome.detail}"
            else:
                next_attempt = now + min(self.policy.backoff * (2 ** (attempt_no - 1)), MAX_BACKOFF)
        when = self._sql.time(now)
        return {
            "id": delivery.delivery_id,
            "claim": self.claim,
            "status": status.value,
            "code": outcome.code,
            "error": error,
            "sent": when if status == _S.SENT else None,
            "next": self._sql.time(next_attempt),
            "now": when,
            "detail": outcome.detail,
            "message_id": s.message_id,
        }

    def close_claimed(
        self,
        deliveries: Sequence[ClaimedDelivery],
        status: DeliveryStatus,
        reason: str,
        now: datetime,
    ) -> None:
        """Settle claimed, never-started rows without sending: skipped (reader no longer
        mailable) or failed (the message could not even be composed)."""
        self._unclaim(deliveries, now, status=status, last_error=reason)

    def release(self, deliveries: Sequence[ClaimedDelivery], now: datetime) -> None:
        """Give claimed, never-started rows back (e.g. the SMTP server is unreachable)."""
        self._unclaim(deliveries, now, status=_S.PENDING, claimed_at=None)

    def _unclaim(
        self, deliveries: Sequence[ClaimedDelivery], now: datetime, **values: object
    ) -> None:
        if not deliveries:
            return
        with write_transaction(self.factory) as session:
            session.execute(
                update(DELIVERIES)
                .where(
                    among(DELIVERIES.c.id, (d.delivery_id for d in deliveries)),
                    DELIVERIES.c.claim_token == self.claim,
                    DELIVERIES.c.status == _S.CLAIMED,
                )
                .values(claim_token=None, updated_at=now, **values)
            )

    def end_batch(self, deliveries: Sequence[ClaimedDelivery]) -> None:
        """Forget this sender's claims on rows it no longer holds (settled or given back).

        A row still claimed or sending by this sender (the batch stopped on an error) keeps
        its claim, so the stale-claim sweep can find it."""
        if not deliveries:
            return
        held = (
            select(DELIVERIES.c.id)
            .where(
                DELIVERIES.c.id == CLAIMS.c.delivery_id,
                DELIVERIES.c.claim_token == self.claim,
                DELIVERIES.c.status.in_(IN_FLIGHT_DELIVERY),
            )
            .exists()
        )
        with write_transaction(self.factory) as session:
            session.execute(
                delete(CLAIMS).where(
                    CLAIMS.c.claim_token == self.claim,
                    among(CLAIMS.c.delivery_id, (d.delivery_id for d in deliveries)),
                    ~held,
                )
            )
