"""The send path's order of events: what overlaps and what must not.

Composing message N+1 overlaps the wait for N's reply and N+1's envelope overlaps the
ledger's commit, yet no body leaves before its "sending" mark is committed, and a mark that
fails drops the connection before the body. On PostgreSQL the per-message updates are HOT.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from pipeline.delivery import ClaimedDelivery, Composed
from pipeline.delivery.ledger import Ledger, SendPolicy, claim_batch
from pipeline.delivery.sending import SendReport, send_edition
from pipeline.digest.compose import DigestComposer
from pipeline.digest.planning import plan_edition
from pipeline.mail.smtp import SmtpExchange, SmtpTransport
from pipeline.mail.transport import SendOutcome
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery
from pipeline.timeutil import utcnow
from pipeline.wiring import Wiring
from tests.conftest import Store
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import add_readers, seed_papers, settings_for

Events = list[tuple[str, int, str]]  # (what, delivery id, its committed status then)


@pytest.fixture
def smtp() -> Iterator[ScriptedSmtpServer]:
    with ScriptedSmtpServer() as server:
        yield server


def _status(store: Store, delivery_id: int) -> str:
    """The row as another connection sees it: only what was committed."""
    with store.sessions() as session:
        return str(session.scalar(select(Delivery.status).where(Delivery.id == delivery_id)))


class _RecordingExchange:
    def __init__(self, inner: SmtpExchange, delivery_id: int, log: Events, store: Store):
        self.inner, self.delivery_id, self.log, self.store = inner, delivery_id, log, store

    def envelope_ready(self) -> SendOutcome | None:
        return self.inner.envelope_ready()

    def send_body(self) -> None:
        self.log.append(("body", self.delivery_id, _status(self.store, self.delivery_id)))
        self.inner.send_body()

    def outcome(self) -> SendOutcome:
        outcome = self.inner.outcome()
        self.log.append(("reply", self.delivery_id, str(outcome.status)))
        return outcome

    def abandon(self) -> None:
        self.log.append(("abandon", self.delivery_id, ""))
        self.inner.abandon()


class _RecordingTransport(SmtpTransport):
    def __init__(self, url: str, log: Events, store: Store, ids: dict[str, int]) -> None:
        super().__init__(SmtpTransport.from_url(url).config)
        self.log, self.store, self.ids = log, store, ids

    def begin(  # type: ignore[override]
        self, envelope_from: str, to_addr: str, message: bytes, *, transparent: bool = False
    ) -> _RecordingExchange:
        delivery_id = self.ids[to_addr]
        self.log.append(("envelope", delivery_id, _status(self.store, delivery_id)))
        inner = super().begin(envelope_from, to_addr, message, transparent=transparent)
        return _RecordingExchange(inner, delivery_id, self.log, self.store)


class _RecordingComposer:
    def __init__(self, inner: DigestComposer, log: Events, ids: dict[str, int]) -> None:
        self.inner, self.log, self.ids = inner, log, ids
        self.envelope_from = inner.envelope_from
        self.before_compose: dict[int, object] = {}

    def compose(self, delivery: ClaimedDelivery) -> Composed:
        self.ids[delivery.email] = delivery.delivery_id
        hook = self.before_compose.get(delivery.delivery_id)
        if callable(hook):
            hook()
        self.log.append(("compose", delivery.delivery_id, ""))
        return self.inner.compose(delivery)


def _setup(store: Store, tmp_path: Path, smtp: ScriptedSmtpServer, readers: int):
    seed_papers(store.sessions)
    add_readers(store.sessions, readers)
    with write_transaction(store.sessions) as session:
        edition_id = plan_edition(session).edition_id
    wiring = Wiring(settings_for(tmp_path, store.url, smtp.url), store.sessions)
    log: Events = []
    ids: dict[str, int] = {}
    composer = _RecordingComposer(wiring.composer(), log, ids)

    def send() -> SendReport:
        return send_edition(
            store.sessions,
            edition_id,
            composer,
            lambda: _RecordingTransport(smtp.url, log, store, ids),
            wiring.send_policy(),
        )

    return edition_id, log, composer, send


def test_compose_overlaps_the_reply_and_no_body_leaves_before_its_mark(
    store: Store, tmp_path: Path, smtp: ScriptedSmtpServer
) -> None:
    _edition, log, _composer, send = _setup(store, tmp_path, smtp, 6)
    assert send().sent == 6
    order = [(what, delivery_id) for what, delivery_id, _ in log]
    sent = [delivery_id for what, delivery_id in order if what == "body"]
    assert len(sent) == 6
    for what, delivery_id, committed in log:
        if what == "body":
            assert committed == "sending", (delivery_id, log)  # marked, and committed
        if what == "envelope":
            assert committed == "claimed"  # the envelope may go before the mark: no body
    for previous, current in itertools.pairwise(sent):
        # message N+1 is composed while N's reply is awaited, and its envelope is written
        # only after N's reply was read (one message in flight per connection)
        assert order.index(("compose", current)) < order.index(("reply", previous))
        assert order.index(("reply", previous)) < order.index(("envelope", current))
        assert order.index(("envelope", current)) < order.index(("body", current))


def test_a_mark_that_fails_after_the_envelope_drops_the_connection_before_the_body(
    store: Store, tmp_path: Path, smtp: ScriptedSmtpServer
) -> None:
    """Another process took the row while we composed it (we were presumed dead): our mark
    fails, so its body must never leave, although its envelope already went out."""
    _edition, log, composer, send = _setup(store, tmp_path, smtp, 4)
    with store.sessions() as session:
        ids = list(session.scalars(select(Delivery.id).order_by(Delivery.segment_id, Delivery.id)))
    victim = ids[2]

    def steal() -> None:
        with write_transaction(store.sessions) as session:
            session.execute(
                update(Delivery).where(Delivery.id == victim).values(claim_token="another-sender")
            )

    composer.before_compose[victim] = steal
    report = send()
    assert report.stopped and "no longer claimed" in report.stopped
    assert ("abandon", victim, "") in log
    assert all(not (what == "body" and d == victim) for what, d, _ in log)
    assert report.sent == 2  # the message before it was settled all the same
    assert _status(store, ids[1]) == "sent"
    assert len(smtp.messages) == 2  # the server got no message, not even an empty one
    assert victim not in {d for what, d, _ in log if what == "reply"}


def test_per_message_updates_are_hot_on_postgresql(pg_store: Store) -> None:
    """claimed -> sending -> sent, as the ledger writes them, rewrite the row in its page
    and add no index entry (PostgreSQL's own count of HOT updates in this transaction)."""
    store = pg_store
    seed_papers(store.sessions)
    add_readers(store.sessions, 5)
    with write_transaction(store.sessions) as session:
        edition_id = plan_edition(session).edition_id
    claimed = claim_batch(store.sessions, edition_id, "sender-a", 5, utcnow())
    ledger = Ledger(store.sessions, "sender-a", SendPolicy())
    sql = ledger._sql
    ledger.close()
    now = sql.time(utcnow())
    counts = text(
        "SELECT pg_stat_get_xact_tuples_updated(c.oid), "
        "pg_stat_get_xact_tuples_hot_updated(c.oid) FROM pg_class c "
        "WHERE c.relname = 'deliveries' AND c.relnamespace = current_schema()::regnamespace"
    )
    with store.engine.connect() as conn, conn.begin():
        # This backend's counts not yet reported (earlier transactions of a pooled
        # connection may be among them): the difference is this transaction's.
        updated_before, hot_before = conn.execute(counts).one()
        for job in claimed:
            mark = {
                "id": job.delivery_id,
                "claim": "sender-a",
                "attempts": 1,
                "message_id": f"<{job.delivery_id}@paperround.example.org>",
                "now": now,
            }
            assert conn.exec_driver_sql(sql.mark, mark).rowcount == 1
            settle = {
                "id": job.delivery_id,
                "claim": "sender-a",
                "status": "sent",
                "code": 250,
                "error": None,
                "sent": now,
                "next": None,
                "now": now,
            }
            assert conn.exec_driver_sql(sql.settle, settle).rowcount == 1
        updated, hot = conn.execute(counts).one()
    assert (updated - updated_before, hot - hot_before) == (10, 10)
