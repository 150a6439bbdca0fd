"""Consent is never lost: imports, erasures and admin adds cannot bring back a reader who left.

On both engines. The readers here left in every way there is (unsubscribed, bounced,
complained, erased, suppressed by an admin) and every admin door is tried on them.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pipeline.readers.addresses import AddressError, normalize_address
from pipeline.readers.csv_io import export_rows, import_csv, safe_cell, unsafe_cell
from pipeline.readers.lifecycle import (
    Consent,
    SubscribeState,
    confirm,
    find,
    list_subscribers,
    remove,
    subscribe,
    unsubscribe,
)
from pipeline.readers.preferences import Preferences
from pipeline.readers.suppressions import (
    erased_key,
    is_suppressed,
    lift,
    list_suppressions,
    suppress,
    suppression_log,
)
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.status import ConsentChannel, SubscriberStatus, SuppressionReason
from tests.conftest import Store

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WEB = Consent(ConsentChannel.WEB, ip="198.51.100.7")
CLI = Consent(ConsentChannel.CLI)


def _subscribe(store: Store, email: str, consent: Consent = WEB, confirmed: bool = False):
    with write_transaction(store.sessions) as session:
        return subscribe(session, email, Preferences(), consent, max_papers=20, confirmed=confirmed)


def _status(store: Store, email: str) -> SubscriberStatus | None:
    with store.sessions() as session:
        reader = find(session, email)
        return reader.status if reader is not None else None


def _active(store: Store, email: str) -> Subscriber:
    _subscribe(store, email, CLI, confirmed=True)
    with store.sessions() as session:
        reader = find(session, email)
    assert reader is not None and reader.status == SubscriberStatus.ACTIVE
    return reader


def _import(store: Store, text: str, confirmed: bool = True):
    with write_transaction(store.sessions) as session:
        return import_csv(
            session, io.StringIO(text), Preferences(), max_papers=20, confirmed=confirmed, now=NOW
        )


def _export(store: Store) -> str:
    with store.sessions() as session:
        return "".join(export_rows(list_subscribers(session)))


def _left_in_every_way(store: Store) -> None:
    gone = _active(store, "gone@example.org")
    for email in ("bounced@example.org", "spam@example.org", "blocked@example.org"):
        _active(store, email)
    with write_transaction(store.sessions) as session:
        unsubscribe(session, gone.link_id, gone.token_version)
        suppress(session, "bounced@example.org", SuppressionReason.BOUNCED, "550 5.1.1")
        suppress(session, "spam@example.org", SuppressionReason.COMPLAINED, "ARF report")
        suppress(session, "blocked@example.org", SuppressionReason.ADMIN, "by hand")


@pytest.mark.parametrize("confirmed", [True, False])
def test_reimporting_an_old_export_brings_nobody_back(store: Store, confirmed: bool) -> None:
    for email in ("gone@example.org", "bounced@example.org", "spam@example.org"):
        _active(store, email)
    old_export = _export(store)  # everyone active back then
    readers = {r.email: r for r in _all(store)}
    with write_transaction(store.sessions) as session:
        gone = readers["gone@example.org"]
        unsubscribe(session, gone.link_id, gone.token_version)
        suppress(session, "bounced@example.org", SuppressionReason.BOUNCED, "550 5.1.1")
        suppress(session, "spam@example.org", SuppressionReason.COMPLAINED, "ARF")
    report = _import(store, old_export, confirmed=confirmed)
    assert _status(store, "gone@example.org") == SubscriberStatus.PENDING  # must confirm again
    assert _status(store, "bounced@example.org") == SubscriberStatus.BOUNCED
    assert _status(store, "spam@example.org") == SubscriberStatus.COMPLAINED
    assert len(report.errors) == 2 and all("suppressed" in why for _, why in report.errors)


def test_the_status_column_of_an_export_is_honoured(store: Store) -> None:
    _active(store, "stays@example.org")
    _active(store, "leaves@example.org")
    text = (
        "email,status\n"
        "stays@example.org,active\n"
        "leaves@example.org,unsubscribed\n"
        "new-left@example.org,unsubscribed\n"
        "new-bounced@example.org,bounced\n"
        "new-pending@example.org,pending\n"
        "odd@example.org,famous\n"
    )
    report = _import(store, text, confirmed=True)
    assert _status(store, "stays@example.org") == SubscriberStatus.ACTIVE
    assert _status(store, "leaves@example.org") == SubscriberStatus.UNSUBSCRIBED
    assert _status(store, "new-left@example.org") == SubscriberStatus.UNSUBSCRIBED
    assert _status(store, "new-bounced@example.org") == SubscriberStatus.BOUNCED
    assert _status(store, "new-pending@example.org") == SubscriberStatus.PENDING  # never vouched
    with store.sessions() as session:
        assert is_suppressed(session, "new-bounced@example.org")
    assert report.errors == [(7, "status 'famous' is not one of " + _statuses())]


def _statuses() -> str:
    return ", ".join(s.value for s in SubscriberStatus)


def _all(store: Store) -> list[Subscriber]:
    with store.sessions() as session:
        return list(session.scalars(select(Subscriber)))


def test_an_admin_add_never_reactivates_anyone_who_left(store: Store) -> None:
    _left_in_every_way(store)
    gone = _subscribe(store, "gone@example.org", CLI, confirmed=True)
    assert gone.state == SubscribeState.RESUBSCRIBING and gone.send_confirmation
    assert _status(store, "gone@example.org") == SubscriberStatus.PENDING
    for email in ("bounced@example.org", "spam@example.org", "blocked@example.org"):
        assert _subscribe(store, email, CLI, confirmed=True).state == SubscribeState.SUPPRESSED
    assert _status(store, "blocked@example.org") == SubscriberStatus.ACTIVE  # admin block only


def test_lifting_a_bounce_needs_the_readers_own_confirmation(store: Store) -> None:
    reader = _active(store, "ann@example.org")
    with write_transaction(store.sessions) as session:
        suppress(session, "ann@example.org", SuppressionReason.BOUNCED, "550 5.1.1 user unknown")
    with write_transaction(store.sessions) as session:
        assert lift(session, "ann@example.org", actor="cli")
    assert (
        _status(store, "ann@example.org") == SubscriberStatus.BOUNCED
    )  # lifting re-activates no one
    again = _subscribe(store, "ann@example.org", CLI, confirmed=True)
    assert again.state == SubscribeState.RESUBSCRIBING
    assert _status(store, "ann@example.org") == SubscriberStatus.PENDING
    assert (
        again.subscriber is not None and again.subscriber.token_version == reader.token_version + 1
    )
    with write_transaction(store.sessions) as session:
        confirm(session, again.subscriber.link_id, again.subscriber.token_version)
    assert _status(store, "ann@example.org") == SubscriberStatus.ACTIVE
    with store.sessions() as session:
        log = [
            (row.action, row.reason, row.actor)
            for row in suppression_log(session, "ann@example.org")
        ]
    assert log == [("add", "bounced", "send loop"), ("remove", "bounced", "cli")]


def test_an_erased_reader_leaves_only_a_hash_and_no_import_brings_them_back(store: Store) -> None:
    _active(store, "erase.me@example.org")
    backup = _export(store)
    with write_transaction(store.sessions) as session:
        remove(session, "Erase.Me@example.org")
    with store.sessions() as session:
        [view] = list_suppressions(session)
    assert view.email is None and view.key == erased_key("erase.me@example.org")
    assert "erase.me" not in view.key
    report = _import(store, backup)
    assert report.added == 0 and "suppressed" in report.errors[0][1]
    assert _subscribe(store, "erase.me@example.org", CLI).state == SubscribeState.SUPPRESSED
    assert _status(store, "erase.me@example.org") is None
    # the person themselves may come back, through the double opt-in
    back = _subscribe(store, "erase.me@example.org", WEB)
    assert back.state == SubscribeState.CREATED and back.send_confirmation
    assert back.subscriber is not None
    with write_transaction(store.sessions) as session:
        confirm(session, back.subscriber.link_id, back.subscriber.token_version)
    with store.sessions() as session:
        assert not is_suppressed(session, "erase.me@example.org")  # the marker did its job
    assert _status(store, "erase.me@example.org") == SubscriberStatus.ACTIVE


@pytest.mark.parametrize(
    "hostile",
    ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A9)", "\tx", "\rx"],
)
def test_exported_cells_never_run_as_formulas(store: Store, hostile: str) -> None:
    _active(store, "ann@example.org")
    with write_transaction(store.sessions) as session:
        ann = session.scalars(select(Subscriber)).one()
        ann.keywords = [hostile.strip() or hostile, "plain"]
        ann.timezone = hostile if hostile.startswith("=") else "UTC"
    rows = list(csv.reader(io.StringIO(_export(store))))
    for cell in rows[1]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert unsafe_cell(safe_cell(hostile)) == hostile
    assert safe_cell("ann@example.org") == "ann@example.org"  # ordinary cells are untouched


@pytest.mark.parametrize(
    "bad",
    [
        "x" * 65 + "@example.org",  # a local part over 64 characters
        "jörg@example.org",  # non-ASCII before the @: needs SMTPUTF8, which we do not send
        "ann@" + "a" * 64 + ".org",  # a DNS label over 63 characters
        "ann@" + ".".join(["abcdefghij"] * 24) + ".org",  # over 254 as SMTP carries it
        '"quoted local"@example.org',
    ],
)
def test_one_validator_refuses_what_the_sender_cannot_mail(store: Store, bad: str) -> None:
    with pytest.raises(AddressError):
        normalize_address(bad)
    with pytest.raises(AddressError):
        _subscribe(store, bad, CLI, confirmed=True)
    report = _import(store, f"email\n{bad}\n")
    assert report.added == 0 and len(report.errors) == 1
    assert normalize_address("ann@bücher.example").email == "ann@bücher.example"  # IDN is fine
