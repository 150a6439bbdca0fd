"""Imports at list scale: readers new to the store are inserted a chunk at a time, and every
other row takes the one-by-one path, so the result is what row-by-row `subscribe` gives."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pipeline.readers import csv_io
from pipeline.readers.csv_io import ImportReport, import_csv
from pipeline.readers.lifecycle import Consent, subscribe
from pipeline.readers.preferences import Preferences
from pipeline.readers.suppressions import suppress
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.status import ConsentChannel, SubscriberStatus, SuppressionReason
from tests.conftest import Store

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _import(
    store: Store, text: str, *, confirmed: bool, seen: list[int] | None = None
) -> ImportReport:
    with write_transaction(store.sessions) as session:
        return import_csv(
            session,
            io.StringIO(text),
            Preferences(),
            max_papers=20,
            confirmed=confirmed,
            now=NOW,
            on_row=seen.append if seen is not None else None,
        )


def _readers(store: Store) -> dict[str, Subscriber]:
    with store.sessions() as session:
        return {s.email: s for s in session.scalars(select(Subscriber))}


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_io, "CHUNK", 3)  # chunk boundaries inside a small file


@pytest.mark.usefixtures("small_chunks")
def test_new_known_repeated_suppressed_and_left_rows_in_one_file(store: Store) -> None:
    with write_transaction(store.sessions) as session:
        subscribe(session, "known@example.org", Preferences(), Consent(ConsentChannel.CLI),
                  max_papers=20, confirmed=True, now=NOW)  # fmt: skip
        suppress(session, "blocked@example.org", SuppressionReason.COMPLAINED, "ARF")
    text = (
        "email,status,categories,keywords,consent_at,consent_channel\n"
        "a@example.org,,cs.CL;cs.LG,rag;graph neural,2025-05-01T10:00:00+00:00,web\n"
        "b@example.org,pending,,,,\n"
        "known@example.org,,,,,\n"
        "A@example.org,,math.ST,,,\n"  # the same reader again, later in the file
        "blocked@example.org,,,,,\n"
        "left@example.org,unsubscribed,,,,\n"
        "not-an-address,,,,,\n"
        "c@example.org,,cs.NOPE,,,\n"
        "d@example.org,,,,,\n"
    )
    seen: list[int] = []
    report = _import(store, text, confirmed=True, seen=seen)
    assert (report.added, report.updated, report.unchanged) == (4, 0, 2)
    assert [line for line, _ in report.errors] == [6, 8, 9]
    assert "suppressed" in report.errors[0][1] and "arXiv category" in report.errors[2][1]
    assert sum(seen) == 9  # every row read is counted for the progress bar
    readers = _readers(store)
    assert set(readers) == {"a@example.org", "b@example.org", "known@example.org",
                            "left@example.org", "d@example.org"}  # fmt: skip
    a = readers["a@example.org"]
    assert a.status == SubscriberStatus.ACTIVE and a.confirmed_at == NOW
    # the repeat found an active reader: unchanged, as a second sign-up would leave them
    assert a.categories == ["cs.CL", "cs.LG"] and a.keywords == ["rag", "graph neural"]
    assert a.consent_at == datetime(2025, 5, 1, 10, tzinfo=UTC)  # the exported record
    assert a.consent_channel == ConsentChannel.WEB
    assert readers["b@example.org"].status == SubscriberStatus.PENDING  # never vouched for
    assert readers["left@example.org"].status == SubscriberStatus.UNSUBSCRIBED
    assert readers["d@example.org"].consent_channel == ConsentChannel.IMPORT
    assert len({r.link_id for r in readers.values()}) == 5
    # confirmations are owed only to pending readers (b), never to anyone else
    assert report.to_confirm == [readers["b@example.org"].id]


@pytest.mark.usefixtures("small_chunks")
def test_without_confirmed_every_new_reader_is_pending_and_owed_one_mail(store: Store) -> None:
    rows = "".join(f"r{i}@example.org\n" for i in range(10))
    report = _import(store, "email\n" + rows, confirmed=False)
    readers = _readers(store)
    assert report.added == 10 and len(readers) == 10
    assert sorted(report.to_confirm) == sorted(r.id for r in readers.values())
    for reader in readers.values():
        assert reader.status == SubscriberStatus.PENDING
        assert reader.confirmation_sent_at == NOW and reader.confirmed_at is None
    again = _import(store, "email\n" + rows, confirmed=False)
    assert again.updated == 10 and again.to_confirm == []  # the 10-minute throttle holds


def test_a_bulk_insert_row_equals_a_sign_up_row(store: Store) -> None:
    """The columns an import writes for a new reader are those `subscribe` writes."""
    _import(store, "email,categories,send_hour,timezone\nbulk@example.org,cs.CL,7,Asia/Tokyo\n",
            confirmed=True)  # fmt: skip
    prefs = Preferences(categories=("cs.CL",), send_hour=7, timezone="Asia/Tokyo")
    with write_transaction(store.sessions) as session:
        subscribe(session, "single@example.org", prefs, Consent(ConsentChannel.IMPORT),
                  max_papers=20, confirmed=True, now=NOW)  # fmt: skip
    readers = _readers(store)
    skip = {"id", "email", "email_key", "link_id", "created_at", "updated_at"}
    columns = [c.name for c in Subscriber.__table__.columns if c.name not in skip]
    bulk, single = readers["bulk@example.org"], readers["single@example.org"]
    assert {c: getattr(bulk, c) for c in columns} == {c: getattr(single, c) for c in columns}
