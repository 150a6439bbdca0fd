"""The ledger and send loop against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.delivery import release_stale_claims, request_resend, send_edition
from pipeline.digest.planning import plan_edition
from pipeline.settings import Settings
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, DeliveryAttempt, Subscriber, Suppression
from pipeline.store.status import (
    AttemptKind,
    DeliveryStatus,
    SubscriberStatus,
    SuppressionReason,
)
from pipeline.timeutil import utcnow
from pipeline.wiring import Wiring
from tests.conftest import Store
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import add_readers, seed_papers, settings_for


def _plan(store: Store) -> int:
    with write_transaction(store.sessions) as session:
        return plan_edition(session, cadence="daily").edition_id


def _send(store: Store, settings: Settings, edition_id: int, **kw: object):
    return send_edition(
        store.sessions,
        edition_id,
        Wiring(settings, store.sessions).composer(),
        Wiring(settings).transports,
        Wiring(settings).send_policy(),
        **kw,  # type: ignore[arg-type]
    )


class FakeClock:
    """Real time plus whatever the send loop slept, so backoff can be tested without waiting."""

    def __init__(self) -> None:
        self.slept = 0.0

    def now(self) -> datetime:
        return utcnow() + timedelta(seconds=self.slept)

    def sleep(self, seconds: float) -> None:
        self.slept += seconds


def _statuses(store: Store) -> Counter[str]:
    with store.sessions() as session:
        return Counter(session.scalars(select(Delivery.status)))


@pytest.fixture
def smtp() -> Iterator[ScriptedSmtpServer]:
    with ScriptedSmtpServer() as server:
        yield server


def test_edition_to_1000_readers_arrives_once_each(
    store: Store, smtp: ScriptedSmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, store.url, smtp.url, send_batch_size=200)
    seed_papers(store.sessions)
    readers = add_readers(store.sessions, 1000)
    edition_id = _plan(store)
    report = _send(store, settings, edition_id)
    assert report.sent == 1000 and report.failed == report.unknown == 0
    received = Counter(rcpt for m in smtp.messages for rcpt in m.rcpt_tos)
    assert received == Counter(readers)  # every reader exactly once
    assert smtp.sessions == 5  # one connection per batch of 200
    message = message_from_bytes(smtp.messages[0].data, policy=policy.default)
    assert message["To"] == smtp.messages[0].rcpt_tos[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://papers.example.org/unsubscribe/" in message["List-Unsubscribe"]
    assert message["Message-ID"].endswith("@paperround.example.org>")
    assert message.get_content_type() == "multipart/alternative"
    assert _statuses(store) == Counter(sent=1000)
    with store.sessions() as session:
        ids = set(session.scalars(select(Delivery.message_id)))
        assert len(ids) == 1000  # each delivery records its own Message-ID
    again = _send(store, settings, edition_id)  # a second run finds nothing due
    assert again.sent == 0 and len(smtp.messages) == 1000


def test_451_retries_550_fails_and_suppresses(
    store: Store, smtp: ScriptedSmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(
        tmp_path, store.url, smtp.url, send_max_attempts=3, retry_backoff_seconds=60
    )
    seed_papers(store.sessions)
    add_readers(store.sessions, 20)
    smtp.reply_to_rcpt("reader3@example.net", "451 4.3.0 Mailbox busy, try again later")
    smtp.reply_to_rcpt("reader7@example.net", "550 5.1.1 No such user here")
    edition_id = _plan(store)
    first = _send(store, settings, edition_id)
    assert (first.sent, first.failed, first.retry) == (18, 1, 1)
    with store.sessions() as session:
        gone = session.scalars(
            select(Delivery).join(Subscriber).where(Subscriber.email == "reader7@example.net")
        ).one()
        assert gone.status == "failed" and gone.last_code == 550
        assert gone.last_error and "No such user" in gone.last_error
        assert (
            session.scalar(select(Subscriber.status).where(Subscriber.id == gone.subscriber_id))
            == "bounced"
        )
        assert session.scalar(select(func.count()).select_from(Suppression)) == 1
    # the busy mailbox keeps answering 451: retried with backoff (60 s, then 120 s on a fake
    # clock that the loop's sleeps advance), then given up
    clock = FakeClock()
    final = _send(
        store, settings, edition_id, wait_for_retries=True, clock=clock.now, sleep=clock.sleep
    )
    assert final.failed == 1
    assert 175 <= clock.slept <= 185
    with store.sessions() as session:
        busy = session.scalars(
            select(Delivery).join(Subscriber).where(Subscriber.email == "reader3@example.net")
        ).one()
        assert busy.status == "failed" and busy.attempts == 3
        assert busy.last_error and "gave up after 3 attempts" in busy.last_error
        assert (
            session.scalar(select(func.count()).select_from(Suppression)) == 1
        )  # 4xx never suppresses
        attempts = session.scalar(
            select(func.count()).where(DeliveryAttempt.delivery_id == busy.id)
        )
        assert attempts == 3


def test_dropped_connection_mid_batch_completes_without_duplicates(
    store: Store, smtp: ScriptedSmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, store.url, smtp.url)
    seed_papers(store.sessions)
    readers = add_readers(store.sessions, 30)
    smtp.drop_after_messages(10)
    edition_id = _plan(store)
    report = _send(store, settings, edition_id, wait_for_retries=True)
    received = Counter(rcpt for m in smtp.messages for rcpt in m.rcpt_tos)
    assert received == Counter(readers)
    assert report.unknown == 0
    assert _statuses(store) == Counter(sent=30)


def test_lost_after_data_is_unknown_and_never_retried(
    store: Store, smtp: ScriptedSmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, store.url, smtp.url)
    seed_papers(store.sessions)
    add_readers(store.sessions, 5)
    smtp.drop_after_data("reader2@example.net")
    edition_id = _plan(store)
    report = _send(store, settings, edition_id, wait_for_retries=True)
    assert report.unknown == 1 and report.sent == 4
    assert len(smtp.unanswered) == 1
    again = _send(store, settings, edition_id, wait_for_retries=True)
    assert again.sent == 0  # unknown is settled: only an admin resend sends it again
    smtp.clear_rules()
    with write_transaction(store.sessions) as session:
        assert request_resend(session, edition_id, failed=True) == 1
    resent = _send(store, settings, edition_id)
    assert resent.sent == 1
    with store.sessions() as session:
        kinds = Counter(session.scalars(select(DeliveryAttempt.kind)))
    assert kinds[AttemptKind.RESEND] == 1


def test_unreachable_server_keeps_everything_waiting(store: Store, tmp_path: Path) -> None:
    from tests.support import unused_port

    settings = settings_for(tmp_path, store.url, f"smtp://127.0.0.1:{unused_port()}?timeout=2")
    seed_papers(store.sessions)
    add_readers(store.sessions, 10)
    edition_id = _plan(store)
    report = _send(store, settings, edition_id)
    assert report.stopped and "unreachable" in report.stopped
    statuses = _statuses(store)
    assert statuses["sent"] == 0 and statuses["failed"] == 0
    assert statuses["pending"] + statuses["retry"] == 10  # none lost, none burnt
    assert report.waiting == 10
    batch = _send(store, settings, edition_id, max_batches=1)
    assert batch.waiting is None  # a single batch does not count the whole edition


def test_stale_claims_are_released_and_in_flight_becomes_unknown(
    store: Store, tmp_path: Path
) -> None:
    from datetime import timedelta

    from pipeline.delivery.ledger import Ledger, SendPolicy, claim_batch
    from pipeline.timeutil import utcnow

    seed_papers(store.sessions)
    add_readers(store.sessions, 6)
    edition_id = _plan(store)
    jobs = claim_batch(store.sessions, edition_id, "dead-sender", 6, utcnow())
    ledger = Ledger(store.sessions, "dead-sender", SendPolicy())
    in_flight = (jobs[0], "<x@paperround.example.org>")
    ledger.settle_and_mark(None, in_flight, utcnow())  # in flight, then the sender "dies"
    ledger.close()
    assert release_stale_claims(store.sessions, timedelta(minutes=10)) == (0, 0)  # not stale yet
    released, unknown = release_stale_claims(
        store.sessions, timedelta(minutes=10), now=utcnow() + timedelta(minutes=11)
    )
    assert (released, unknown) == (5, 1)
    assert _statuses(store) == Counter(pending=5, unknown=1)


def test_suppressed_or_unsubscribed_reader_is_skipped_at_send_time(
    store: Store, smtp: ScriptedSmtpServer, tmp_path: Path
) -> None:
    from pipeline.readers.suppressions import suppress

    settings = settings_for(tmp_path, store.url, smtp.url)
    seed_papers(store.sessions)
    add_readers(store.sessions, 3)
    edition_id = _plan(store)
    with write_transaction(store.sessions) as session:
        suppress(session, "reader1@example.net", SuppressionReason.COMPLAINED)
        session.scalars(
            select(Subscriber).where(Subscriber.email == "reader2@example.net")
        ).one().status = SubscriberStatus.UNSUBSCRIBED
    report = _send(store, settings, edition_id)
    assert (report.sent, report.skipped) == (1, 2)
    assert [m.rcpt_tos for m in smtp.messages] == [("reader0@example.net",)]


def test_claims_take_due_retries_first_then_pending_in_segment_order(store: Store) -> None:
    from pipeline.delivery import claim_batch

    seed_papers(store.sessions)
    add_readers(store.sessions, 12)
    edition_id = _plan(store)
    now = utcnow()
    with write_transaction(store.sessions) as session:
        rows = session.execute(
            select(Delivery.id, Delivery.segment_id)
            .where(Delivery.edition_id == edition_id)
            .order_by(Delivery.id)
        ).all()
        ids = [r.id for r in rows]
        due_retry, later_retry = ids[7], ids[9]
        for delivery_id, when in (
            (due_retry, now - timedelta(seconds=1)),
            (later_retry, now + timedelta(hours=1)),
        ):
            delivery = session.get(Delivery, delivery_id)
            assert delivery is not None
            delivery.status, delivery.next_attempt_at = DeliveryStatus.RETRY, when
    order = {r.id: (r.segment_id, r.id) for r in rows}
    pending = sorted((i for i in ids if i not in (due_retry, later_retry)), key=order.__getitem__)

    first = claim_batch(store.sessions, edition_id, "sender-a", 4, now)
    assert sorted(j.delivery_id for j in first) == sorted([due_retry, *pending[:3]])
    rest = claim_batch(store.sessions, edition_id, "sender-b", 100, now)
    assert sorted(j.delivery_id for j in rest) == sorted(pending[3:])  # not the later retry
    assert claim_batch(store.sessions, edition_id, "sender-c", 100, now) == []


def test_readers_added_to_a_sent_edition_reopen_it_until_they_are_served(
    store: Store, smtp: ScriptedSmtpServer, tmp_path: Path
) -> None:
    from pipeline.store.models import Edition

    settings = settings_for(tmp_path, store.url, smtp.url)
    seed_papers(store.sessions)
    add_readers(store.sessions, 3)
    edition_id = _plan(store)
    assert _send(store, settings, edition_id).sent == 3

    def edition_status() -> tuple[str, object]:
        with store.sessions() as session:
            edition = session.get(Edition, edition_id)
            assert edition is not None
            return edition.status, edition.completed_at

    assert edition_status()[0] == "done"
    assert _plan(store) == edition_id and edition_status()[0] == "done"  # nothing new
    add_readers(store.sessions, 2, start=3)  # their send hour came later the same day
    assert _plan(store) == edition_id
    assert edition_status() == ("planned", None)
    assert _send(store, settings, edition_id).sent == 2
    assert edition_status()[0] == "done"
    assert len(smtp.messages) == 5


def test_finishing_waits_for_a_plan_adding_readers_to_the_edition(
    store: Store, smtp: ScriptedSmtpServer, tmp_path: Path
) -> None:
    """The race the edition lock closes: a sender finishing its last batch while the
    scheduler plans later readers into the same edition must not mark it done under them."""
    import threading

    from pipeline.delivery import finish_if_done
    from pipeline.store.models import Edition

    settings = settings_for(tmp_path, store.url, smtp.url)
    seed_papers(store.sessions)
    add_readers(store.sessions, 2)
    edition_id = _plan(store)
    assert _send(store, settings, edition_id).sent == 2
    add_readers(store.sessions, 1, start=2)

    outcome: list[bool] = []
    with write_transaction(store.sessions) as planning:  # held open, like a plan in progress
        assert plan_edition(planning, cadence="daily").deliveries == 1
        finisher = threading.Thread(
            target=lambda: outcome.append(finish_if_done(store.sessions, edition_id, utcnow()))
        )
        finisher.start()
        finisher.join(timeout=1.0)
        assert finisher.is_alive(), "finish_if_done did not wait for the planning transaction"
    finisher.join(timeout=30)
    assert outcome == [False]  # it saw the new reader's pending row
    with store.sessions() as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None and edition.status == "planned"
    assert _send(store, settings, edition_id).sent == 1
