"""A relay's "no" is not always the reader's fault: refusals, stalls and drops, end to end.

Each test sends a real edition through the send loop to a scripted SMTP server on loopback
and checks the ledger, the suppressions and the edition's state afterwards, on both engines.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select

from pipeline.delivery.control import cancel_edition, resume_edition
from pipeline.delivery.queries import ledger_status
from pipeline.delivery.recovery import request_resend
from pipeline.delivery.sending import SendReport, send_edition
from pipeline.digest.planning import plan_edition
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, Edition, Subscriber, Suppression
from pipeline.store.status import DeliveryStatus, EditionStatus, SubscriberStatus
from pipeline.wiring import Wiring
from tests.conftest import Store
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import add_readers, seed_papers, settings_for


def _edition(store: Store, readers: int) -> int:
    seed_papers(store.sessions)
    add_readers(store.sessions, readers)
    with write_transaction(store.sessions) as session:
        return plan_edition(session).edition_id


def _send(store: Store, tmp_path: Path, url: str, edition_id: int, **kw: object) -> SendReport:
    wiring = Wiring(settings_for(tmp_path, store.url, url, **kw), store.sessions)
    return send_edition(
        store.sessions, edition_id, wiring.composer(), wiring.transports, wiring.send_policy()
    )


def _statuses(store: Store) -> Counter[str]:
    with store.sessions() as session:
        return Counter(str(s) for s in session.scalars(select(Delivery.status)))


def _suppressed(store: Store) -> set[str]:
    with store.sessions() as session:
        return set(session.scalars(select(Suppression.email_key)))


def _edition_state(store: Store, edition_id: int) -> tuple[EditionStatus, str | None]:
    with store.sessions() as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None
        return edition.status, edition.status_reason


def _reader_statuses(store: Store) -> Counter[str]:
    with store.sessions() as session:
        return Counter(str(s) for s in session.scalars(select(Subscriber.status)))


def test_spam_rejection_after_data_pauses_the_edition_and_suppresses_nobody(
    store: Store, tmp_path: Path
) -> None:
    edition_id = _edition(store, 10)
    with ScriptedSmtpServer() as smtp:
        smtp.reply_to_data("*", "554 5.7.1 content rejected as spam")
        report = _send(store, tmp_path, smtp.url, edition_id)
        assert report.failed == 3 and report.sent == 0  # three alike, then the brakes
        assert report.paused and "5.7.1" in report.paused
        assert _suppressed(store) == set()
        assert _reader_statuses(store) == Counter(active=10)
        assert _statuses(store) == Counter(failed=3, pending=7)
        status, reason = _edition_state(store, edition_id)
        assert status == EditionStatus.PAUSED and reason and "554 5.7.1" in reason
        with store.sessions() as session:
            shown = ledger_status(session).as_json()["editions_in_flight"]
        assert shown[0]["status"] == "paused" and "content rejected" in shown[0]["status_reason"]
        # paused: another sender takes nothing
        assert _send(store, tmp_path, smtp.url, edition_id).sent == 0
        smtp.clear_rules()  # the content was fixed
        resume_edition(store.sessions, edition_id)
        assert _send(store, tmp_path, smtp.url, edition_id).sent == 7
        with write_transaction(store.sessions) as session:
            assert request_resend(session, edition_id, failed=True) == 3
        assert _send(store, tmp_path, smtp.url, edition_id).sent == 3
    assert _edition_state(store, edition_id)[0] == EditionStatus.DONE
    assert len(smtp.messages) == 10 and _statuses(store) == Counter(sent=10)


def test_unknown_mailbox_suppresses_that_reader_only(store: Store, tmp_path: Path) -> None:
    edition_id = _edition(store, 6)
    with ScriptedSmtpServer() as smtp:
        smtp.reply_to_rcpt("reader1@example.net", "550 5.1.1 <reader1@example.net>: no such user")
        smtp.reply_to_rcpt("reader3@example.net", "556 5.1.10 Recipient address has null MX")
        smtp.reply_to_rcpt("reader4@example.net", "552 5.2.2 Mailbox full")
        report = _send(store, tmp_path, smtp.url, edition_id)
    assert (report.sent, report.failed, report.paused) == (3, 3, None)
    assert _suppressed(store) == {"reader1@example.net", "reader3@example.net"}
    assert _reader_statuses(store) == Counter(active=4, bounced=2)
    assert _edition_state(store, edition_id)[0] == EditionStatus.DONE


def test_replies_without_enhanced_codes_fall_back_by_stage(store: Store, tmp_path: Path) -> None:
    edition_id = _edition(store, 4)
    with ScriptedSmtpServer() as smtp:
        smtp.reply_to_rcpt("reader0@example.net", "550 No such user here")
        smtp.reply_to_data("reader1@example.net", "550 Rejected")
        smtp.reply_to_rcpt("reader2@example.net", "554 Transaction failed")
        report = _send(store, tmp_path, smtp.url, edition_id)
    assert (report.sent, report.failed) == (1, 3)
    assert _suppressed(store) == {"reader0@example.net"}  # 550 to RCPT: the address


def test_relay_refusing_to_relay_stops_the_batch_and_blames_no_reader(
    store: Store, tmp_path: Path
) -> None:
    edition_id = _edition(store, 5)
    with ScriptedSmtpServer() as smtp:
        smtp.reply_to_rcpt("*", "554 5.7.1 <reader0@example.net>: Relay access denied")
        report = _send(store, tmp_path, smtp.url, edition_id)
    assert report.stopped and "refusing us" in report.stopped
    assert _suppressed(store) == set() and _reader_statuses(store) == Counter(active=5)
    assert _statuses(store) == Counter(retry=1, pending=4)  # nothing burnt but one attempt


def test_a_relay_that_drops_every_body_trips_the_breaker(store: Store, tmp_path: Path) -> None:
    edition_id = _edition(store, 10)
    with ScriptedSmtpServer() as smtp:
        smtp.drop_after_data("*")
        report = _send(store, tmp_path, smtp.url, edition_id)
    assert report.stopped and "3 connection failures in a row" in report.stopped
    assert report.paused is None  # the breaker stops a batch; it does not pause the edition
    assert _statuses(store) == Counter(unknown=3, pending=7)  # not ten unknowns


def test_a_relay_that_never_answers_costs_three_timeouts_not_one_per_reader(
    store: Store, tmp_path: Path
) -> None:
    edition_id = _edition(store, 8)
    with ScriptedSmtpServer() as smtp:
        smtp.stall_after_data("*")
        url = smtp.url + "?timeout=0.5"
        report = _send(store, tmp_path, url, edition_id)
    assert report.stopped and "connection failures in a row" in report.stopped
    assert _statuses(store) == Counter(unknown=3, pending=5)


def test_most_messages_failing_pauses_the_edition(store: Store, tmp_path: Path) -> None:
    edition_id = _edition(store, 30)
    with ScriptedSmtpServer() as smtp:
        for n in range(30):  # every reader refused, each for a reason of their own
            if n % 5:
                smtp.reply_to_rcpt(f"reader{n}@example.net", f"550 5.1.1 no user {n}")
        report = _send(store, tmp_path, smtp.url, edition_id)
    assert report.paused and "of the last 20 messages failed" in report.paused
    assert _edition_state(store, edition_id)[0] == EditionStatus.PAUSED
    assert report.sent + report.failed == 20


def test_a_cancelled_edition_sends_nothing_more(store: Store, tmp_path: Path) -> None:
    edition_id = _edition(store, 5)
    assert cancel_edition(store.sessions, edition_id, "wrong papers") == 5
    with ScriptedSmtpServer() as smtp:
        assert _send(store, tmp_path, smtp.url, edition_id).sent == 0
    assert _statuses(store) == Counter(skipped=5)
    assert _edition_state(store, edition_id) == (EditionStatus.CANCELLED, "wrong papers")
    with store.sessions() as session:
        assert ledger_status(session).in_flight == []  # cancelled editions are over
        rows = session.scalars(select(Delivery.last_error)).all()
    assert all("cancelled (wrong papers)" in (r or "") for r in rows)
    assert DeliveryStatus.SKIPPED in set(_statuses(store))
    assert SubscriberStatus.ACTIVE in set(_reader_statuses(store))
