"""Retention: old closed editions shrink to their counts and what each reader got; open
editions are never touched; "never twice" and `status` read the same before and after."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pipeline.delivery.history import SentBefore
from pipeline.delivery.queries import delivery_counts, edition_summary, ledger_status
from pipeline.delivery.recovery import reconcile_unknown, request_resend
from pipeline.delivery.retention import compact_ledger
from pipeline.delivery.sending import SendReport, send_edition
from pipeline.digest.planning import plan_edition
from pipeline.readers.suppressions import suppress
from pipeline.store.db import write_transaction
from pipeline.store.models import (
    Delivery,
    DeliveryAttempt,
    Edition,
    Paper,
    Segment,
    SentHistory,
    Subscriber,
)
from pipeline.store.status import AttemptKind, EditionStatus, SuppressionReason
from pipeline.timeutil import utcnow
from pipeline.wiring import Wiring
from tests.conftest import Store
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import add_readers, seed_papers, settings_for


@pytest.fixture
def smtp() -> Iterator[ScriptedSmtpServer]:
    with ScriptedSmtpServer() as server:
        yield server


def _send(store: Store, tmp_path: Path, smtp: ScriptedSmtpServer, edition_id: int) -> SendReport:
    wiring = Wiring(settings_for(tmp_path, store.url, smtp.url), store.sessions)
    return send_edition(
        store.sessions, edition_id, wiring.composer(), wiring.transports, wiring.send_policy()
    )


def _plan(store: Store) -> int:
    with write_transaction(store.sessions) as session:
        return plan_edition(session, cadence="daily").edition_id


def _mixed_edition(store: Store, tmp_path: Path, smtp: ScriptedSmtpServer) -> int:
    """Ten readers: one refused for good, one lost after DATA, one suppressed, seven sent."""
    seed_papers(store.sessions)
    add_readers(store.sessions, 10)
    smtp.reply_to_rcpt("reader1@example.net", "550 5.1.1 No such user here")
    smtp.drop_after_data("reader2@example.net")
    edition_id = _plan(store)
    with write_transaction(store.sessions) as session:
        suppress(session, "reader3@example.net", SuppressionReason.COMPLAINED)
    report = _send(store, tmp_path, smtp, edition_id)
    assert (report.sent, report.failed, report.unknown, report.skipped) == (7, 1, 1, 1)
    return edition_id


def _age(store: Store, edition_id: int, days: int) -> None:
    with write_transaction(store.sessions) as session:
        session.execute(
            update(Edition)
            .where(Edition.id == edition_id)
            .values(completed_at=utcnow() - timedelta(days=days))
        )


def _rows(store: Store, model: type, **where: object) -> int:
    with store.sessions() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(session.scalar(query) or 0)


def papers_sent_to(session: Session, readers: list[int]) -> dict[int, set[int]]:
    """Every paper each reader got, in any edition."""
    papers = list(session.scalars(select(Paper.id)))
    history = SentBefore(session, papers, since=utcnow() - timedelta(days=3650))
    return history.for_readers(session, readers)


def _reader_ids(store: Store) -> list[int]:
    with store.sessions() as session:
        return list(session.scalars(select(Subscriber.id).order_by(Subscriber.id)))


def test_an_old_edition_keeps_its_counts_and_what_each_reader_got(
    store: Store, tmp_path: Path, smtp: ScriptedSmtpServer
) -> None:
    edition_id = _mixed_edition(store, tmp_path, smtp)
    readers = _reader_ids(store)
    with store.sessions() as session:
        before = edition_summary(session, edition_id)
        status_before = ledger_status(session).deliveries
        sent_before = papers_sent_to(session, readers)
    assert before is not None and before.deliveries == {
        "sent": 7,
        "failed": 1,
        "unknown": 1,
        "skipped": 1,
    }
    assert len(sent_before) == 8  # the failed and the skipped reader got nothing

    _age(store, edition_id, 89)
    assert compact_ledger(store.sessions, 90).deliveries_removed == 0  # not old enough yet
    _age(store, edition_id, 91)
    report = compact_ledger(store.sessions, 90)
    assert (report.editions_compacted, report.deliveries_removed) == (1, 10)
    assert report.attempts_removed >= 9 and report.history_rows == 8

    assert _rows(store, Delivery) == _rows(store, DeliveryAttempt) == _rows(store, Segment) == 0
    assert _rows(store, SentHistory) == 8
    with store.sessions() as session:
        after = edition_summary(session, edition_id)
        assert after is not None
        assert (after.deliveries, after.segments) == (before.deliveries, before.segments)
        assert ledger_status(session).deliveries == status_before
        assert papers_sent_to(session, readers) == sent_before
        edition = session.get(Edition, edition_id)
        assert edition is not None and edition.compacted_at is not None
    again = compact_ledger(store.sessions, 90)  # nothing left to do
    assert (again.batches, again.deliveries_removed) == (0, 0)


def test_open_editions_are_never_compacted(
    store: Store, tmp_path: Path, smtp: ScriptedSmtpServer
) -> None:
    seed_papers(store.sessions)
    add_readers(store.sessions, 4)
    edition_id = _plan(store)  # planned, nothing sent
    with write_transaction(store.sessions) as session:
        session.execute(
            update(Edition)
            .where(Edition.id == edition_id)
            .values(created_at=utcnow() - timedelta(days=400))
        )
    assert compact_ledger(store.sessions, 90).batches == 0
    assert _rows(store, Delivery) == 4
    # Marked done by hand while a row is still due (a reconciled retry looks like this):
    # an edition with a row due or in flight is open whatever its status says.
    with write_transaction(store.sessions) as session:
        session.execute(
            update(Edition)
            .where(Edition.id == edition_id)
            .values(status=EditionStatus.DONE, completed_at=utcnow() - timedelta(days=400))
        )
    assert compact_ledger(store.sessions, 90).batches == 0
    assert _rows(store, Delivery) == 4
    assert _send(store, tmp_path, smtp, edition_id).sent == 4


def test_compaction_goes_in_bounded_batches_and_counts_stay_right_midway(
    store: Store, tmp_path: Path, smtp: ScriptedSmtpServer
) -> None:
    edition_id = _mixed_edition(store, tmp_path, smtp)
    _age(store, edition_id, 100)
    first = compact_ledger(store.sessions, 90, batch_size=3, max_batches=2)
    assert (first.deliveries_removed, first.more_left) == (6, True)
    assert _rows(store, Delivery) == 4
    with store.sessions() as session:
        assert delivery_counts(session, edition_id) == {
            "sent": 7,
            "failed": 1,
            "unknown": 1,
            "skipped": 1,
        }
    rest = compact_ledger(store.sessions, 90, batch_size=3)
    assert (rest.deliveries_removed, rest.editions_compacted, rest.more_left) == (4, 1, False)
    assert _rows(store, SentHistory) == 8


def test_zero_days_keeps_every_row(store: Store, tmp_path: Path, smtp: ScriptedSmtpServer) -> None:
    edition_id = _mixed_edition(store, tmp_path, smtp)
    _age(store, edition_id, 3650)
    assert compact_ledger(store.sessions, 0).deliveries_removed == 0
    assert _rows(store, Delivery) == 10


def test_readers_planned_into_a_compacted_edition_get_it_once(
    store: Store, tmp_path: Path, smtp: ScriptedSmtpServer
) -> None:
    """Planning the old slot again (readers joined later) counts the new readers with the
    compacted ones, and sends nobody the edition twice although their rows are gone."""
    seed_papers(store.sessions)
    readers = add_readers(store.sessions, 3)
    edition_id = _plan(store)
    assert _send(store, tmp_path, smtp, edition_id).sent == 3
    _age(store, edition_id, 100)
    assert compact_ledger(store.sessions, 90).editions_compacted == 1
    readers += add_readers(store.sessions, 2, start=3)
    assert _plan(store) == edition_id  # the same slot, planned again
    with store.sessions() as session:
        counts = delivery_counts(session, edition_id)
        assert counts["sent"] == 3 and counts["pending"] >= 2
    report = _send(store, tmp_path, smtp, edition_id)
    assert report.sent == 2
    received = Counter(rcpt for m in smtp.messages for rcpt in m.rcpt_tos)
    assert received == Counter(readers)  # every reader exactly once
    with store.sessions() as session:
        summary = edition_summary(session, edition_id)
        assert summary is not None and summary.status == "done"
        assert summary.deliveries["sent"] == 5


def test_a_closed_edition_answers_from_its_summary_not_its_rows(
    store: Store, tmp_path: Path, smtp: ScriptedSmtpServer
) -> None:
    """`status` and `editions show` must not count history: once an edition closed, its
    counts come from the edition row (shown here by writing a count no row could give)."""
    seed_papers(store.sessions)
    add_readers(store.sessions, 3)
    edition_id = _plan(store)
    assert _send(store, tmp_path, smtp, edition_id).sent == 3
    with write_transaction(store.sessions) as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None and edition.summary == {
            "deliveries": {"sent": 3},
            "segments": 1,
        }
        edition.summary = {"deliveries": {"sent": 1_000_000}, "segments": 1}
    with store.sessions() as session:
        assert ledger_status(session).deliveries == {"sent": 1_000_000}
        assert delivery_counts(session, edition_id) == {"sent": 1_000_000}


def test_resends_and_reconciled_rows_keep_the_summary_true(
    store: Store, tmp_path: Path, smtp: ScriptedSmtpServer
) -> None:
    seed_papers(store.sessions)
    add_readers(store.sessions, 3)
    smtp.drop_after_data("reader0@example.net")
    edition_id = _plan(store)
    report = _send(store, tmp_path, smtp, edition_id)
    assert (report.sent, report.unknown) == (2, 1)

    def counts() -> dict[str, int]:
        with store.sessions() as session:
            return delivery_counts(session, edition_id)

    assert counts() == {"sent": 2, "unknown": 1}
    assert reconcile_unknown(store.sessions, lambda _message_id: True) == (1, 0)
    assert counts() == {"sent": 3}
    with write_transaction(store.sessions) as session:
        assert request_resend(session, edition_id, everyone=True) == 3
    assert counts() == {"pending": 3}
    smtp.clear_rules()
    assert _send(store, tmp_path, smtp, edition_id).sent == 3
    assert counts() == {"sent": 3}
    with store.sessions() as session:
        attempts = Counter(session.scalars(select(DeliveryAttempt.kind)))
    assert attempts[AttemptKind.RESEND] == 3 and attempts[AttemptKind.RECONCILE] == 1
