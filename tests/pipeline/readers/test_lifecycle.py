"""pipeline.readers.lifecycle and csv_io: subscribe, confirm, leave, suppression, CSV in and out."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pipeline.readers.addresses import AddressError
from pipeline.readers.csv_io import CSV_FIELDS, ImportReport, export_rows, import_csv
from pipeline.readers.lifecycle import (
    CONFIRMATION_INTERVAL,
    Consent,
    SubscribeOutcome,
    SubscribeState,
    SubscriptionError,
    confirm,
    find,
    list_subscribers,
    preferences_of,
    reader_from_link,
    remove,
    subscribe,
    unsubscribe,
)
from pipeline.readers.preferences import PreferenceError, Preferences
from pipeline.readers.suppressions import is_suppressed, lift, suppress
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber, Suppression
from pipeline.store.status import ConsentChannel, SubscriberStatus, SuppressionReason
from tests.conftest import Store

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
MAX_PAPERS = 30
WEB = Consent(ConsentChannel.WEB, ip="203.0.113.9", user_agent="Mozilla/5.0 (test)")
PREFS = Preferences(categories=("cs.CL, cs.LG",), keywords=("Diffusion",), papers_per_digest=7)


def do_subscribe(
    store: Store,
    email: str,
    *,
    now: datetime = NOW,
    prefs: Preferences = PREFS,
    consent: Consent = WEB,
    confirmed: bool = False,
) -> SubscribeOutcome:
    with write_transaction(store.sessions) as session:
        return subscribe(
            session, email, prefs, consent, max_papers=MAX_PAPERS, confirmed=confirmed, now=now
        )


def reader(store: Store, email: str) -> Subscriber:
    with store.sessions() as session:
        found = find(session, email)
    assert found is not None, f"no reader {email}"
    return found


def count(store: Store, model: type[Subscriber] | type[Suppression]) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def do_confirm(store: Store, link_id: str, version: int, now: datetime = NOW) -> Subscriber:
    with write_transaction(store.sessions) as session:
        return confirm(session, link_id, version, now=now)


def do_unsubscribe(store: Store, link_id: str, version: int, now: datetime = NOW) -> None:
    with write_transaction(store.sessions) as session:
        unsubscribe(session, link_id, version, now=now)


def do_suppress(store: Store, email_key: str, reason: SuppressionReason) -> None:
    with write_transaction(store.sessions) as session:
        suppress(session, email_key, reason, detail="550 5.1.1 no such user")


def erase_then_lift(store: Store, email: str) -> None:
    """Erase a reader, then lift the erasure marker (what an admin restoring a backup does)."""
    with write_transaction(store.sessions) as session:
        remove(session, email)
    with write_transaction(store.sessions) as session:
        assert lift(session, email.casefold(), actor="test admin")


def active_reader(store: Store, email: str, prefs: Preferences = PREFS) -> Subscriber:
    outcome = do_subscribe(store, email, prefs=prefs)
    assert outcome.subscriber is not None
    do_confirm(store, outcome.subscriber.link_id, outcome.subscriber.token_version)
    return reader(store, email)


# --- subscribe ----------------------------------------------------------------------------


def test_subscribe_creates_a_pending_reader_with_a_consent_record(store: Store) -> None:
    outcome = do_subscribe(store, "ann@Example.ORG")
    assert outcome.state == SubscribeState.CREATED
    assert outcome.send_confirmation is True
    ann = reader(store, "ann@example.org")
    assert outcome.subscriber is not None and outcome.subscriber.id == ann.id
    assert ann.status == SubscriberStatus.PENDING
    assert (ann.email, ann.email_key) == ("ann@example.org", "ann@example.org")
    assert ann.consent_channel == ConsentChannel.WEB
    assert ann.consent_ip == "203.0.113.9"
    assert ann.consent_user_agent == "Mozilla/5.0 (test)"
    assert ann.consent_at == NOW and ann.confirmation_sent_at == NOW
    assert ann.confirmed_at is None and ann.unsubscribed_at is None
    assert ann.token_version == 1
    assert preferences_of(ann) == Preferences(
        categories=("cs.CL", "cs.LG"), keywords=("diffusion",), papers_per_digest=7
    )


def test_consent_record_is_bounded_and_optional(store: Store) -> None:
    long_agent = "A" * 900
    do_subscribe(store, "cli@example.org", consent=Consent(ConsentChannel.CLI))
    do_subscribe(store, "api@example.org", consent=Consent(ConsentChannel.API, "", long_agent))
    cli, api = reader(store, "cli@example.org"), reader(store, "api@example.org")
    assert (cli.consent_channel, cli.consent_ip, cli.consent_user_agent) == (
        ConsentChannel.CLI,
        None,
        None,
    )
    assert api.consent_ip is None and api.consent_user_agent == "A" * 500


def test_a_second_subscribe_within_the_interval_asks_no_second_confirmation(
    store: Store,
) -> None:
    assert timedelta(minutes=10) == CONFIRMATION_INTERVAL
    assert do_subscribe(store, "ann@example.org").send_confirmation is True
    again = do_subscribe(store, "ann@example.org", now=NOW + timedelta(minutes=9, seconds=59))
    assert again.state == SubscribeState.PENDING
    assert again.send_confirmation is False
    assert reader(store, "ann@example.org").confirmation_sent_at == NOW
    later = do_subscribe(store, "ann@example.org", now=NOW + timedelta(minutes=11))
    assert later.state == SubscribeState.PENDING
    assert later.send_confirmation is True
    assert reader(store, "ann@example.org").confirmation_sent_at == NOW + timedelta(minutes=11)
    assert count(store, Subscriber) == 1


def test_subscribing_again_while_pending_refreshes_preferences_and_consent(store: Store) -> None:
    do_subscribe(store, "ann@example.org")
    api = Consent(ConsentChannel.API, ip="198.51.100.1")
    later = NOW + timedelta(minutes=1)
    do_subscribe(
        store, "ann@example.org", now=later, prefs=Preferences(cadence="weekly"), consent=api
    )
    ann = reader(store, "ann@example.org")
    assert preferences_of(ann) == Preferences(cadence="weekly")
    assert (ann.consent_channel, ann.consent_ip, ann.consent_at) == (
        ConsentChannel.API,
        "198.51.100.1",
        later,
    )
    assert ann.consent_user_agent is None


def test_addresses_differing_in_case_are_one_reader(store: Store) -> None:
    first = do_subscribe(store, "Ann@Example.org")
    second = do_subscribe(store, "ann@example.org", now=NOW + timedelta(minutes=1))
    third = do_subscribe(store, "  ANN@EXAMPLE.ORG  ", now=NOW + timedelta(minutes=2))
    assert first.state == SubscribeState.CREATED
    assert second.state == third.state == SubscribeState.PENDING
    assert first.subscriber is not None and second.subscriber is not None
    assert third.subscriber is not None
    assert first.subscriber.id == second.subscriber.id == third.subscriber.id
    assert count(store, Subscriber) == 1
    ann = reader(store, "ANN@example.ORG")
    assert ann.email == "Ann@example.org"  # local part as first typed, domain lower-cased
    assert ann.email_key == "ann@example.org"


@pytest.mark.parametrize("bad", ["", "not an address", "ann@", "ann@example.org\r\nBcc: x@y.org"])
def test_a_bad_address_is_refused_and_nothing_stored(store: Store, bad: str) -> None:
    with pytest.raises(AddressError):
        do_subscribe(store, bad)
    assert count(store, Subscriber) == 0


def test_bad_preferences_are_refused_and_nothing_stored(store: Store) -> None:
    with pytest.raises(PreferenceError, match=r"^papers per digest"):
        do_subscribe(store, "ann@example.org", prefs=Preferences(papers_per_digest=MAX_PAPERS + 1))
    with pytest.raises(PreferenceError, match=r"^categories"):
        do_subscribe(store, "ann@example.org", prefs=Preferences(categories=("NOT A CAT",)))
    assert count(store, Subscriber) == 0


def test_confirmed_subscribe_activates_at_once_without_a_confirmation(store: Store) -> None:
    outcome = do_subscribe(store, "ann@example.org", confirmed=True)
    assert outcome.state == SubscribeState.CREATED
    assert outcome.send_confirmation is False
    ann = reader(store, "ann@example.org")
    assert ann.status == SubscriberStatus.ACTIVE and ann.confirmed_at == NOW
    assert ann.confirmation_sent_at is None


# --- confirm, unsubscribe, links ---------------------------------------------------------------


def test_confirm_activates_and_is_idempotent(store: Store) -> None:
    outcome = do_subscribe(store, "ann@example.org")
    assert outcome.subscriber is not None
    link_id = outcome.subscriber.link_id
    assert do_confirm(store, link_id, 1).status == SubscriberStatus.ACTIVE
    ann = reader(store, "ann@example.org")
    assert ann.status == SubscriberStatus.ACTIVE and ann.confirmed_at == NOW
    replay = do_confirm(store, link_id, 1, now=NOW + timedelta(days=2))
    assert replay.status == SubscriberStatus.ACTIVE
    assert reader(store, "ann@example.org").confirmed_at == NOW  # the first confirmation stands


def test_links_with_a_wrong_version_or_id_are_refused(store: Store) -> None:
    outcome = do_subscribe(store, "ann@example.org")
    assert outcome.subscriber is not None
    link_id = outcome.subscriber.link_id
    assert link_id != str(outcome.subscriber.id)  # links never carry the row id
    unknown = "0" * 24 if link_id != "0" * 24 else "f" * 24
    for lid, version in ((link_id, 2), (link_id, 0), (unknown, 1), ("", 1)):
        with pytest.raises(SubscriptionError, match="no longer valid"):
            do_confirm(store, lid, version)
        with pytest.raises(SubscriptionError):
            do_unsubscribe(store, lid, version)
    assert reader(store, "ann@example.org").status == SubscriberStatus.PENDING


def test_unsubscribe_then_subscribe_again_revokes_old_links(store: Store) -> None:
    ann = active_reader(store, "ann@example.org")
    later = NOW + timedelta(hours=1)
    do_unsubscribe(store, ann.link_id, 1, now=later)
    gone = reader(store, "ann@example.org")
    assert gone.status == SubscriberStatus.UNSUBSCRIBED and gone.unsubscribed_at == later
    do_unsubscribe(store, ann.link_id, 1, now=later + timedelta(hours=1))  # twice is harmless
    assert reader(store, "ann@example.org").unsubscribed_at == later
    with pytest.raises(SubscriptionError, match="subscribe again"):
        do_confirm(store, ann.link_id, 1)

    back = do_subscribe(store, "ann@example.org", now=NOW + timedelta(days=1))
    assert back.state == SubscribeState.RESUBSCRIBING
    assert back.send_confirmation is True
    pending = reader(store, "ann@example.org")
    assert pending.id == ann.id
    assert pending.status == SubscriberStatus.PENDING
    assert pending.token_version == 2
    with store.sessions() as session:
        with pytest.raises(SubscriptionError):
            reader_from_link(session, ann.link_id, 1)
        assert reader_from_link(session, ann.link_id, 2).id == ann.id
    with pytest.raises(SubscriptionError):
        do_confirm(store, ann.link_id, 1)  # the old confirm link no longer works
    assert reader(store, "ann@example.org").status == SubscriberStatus.PENDING
    confirmed = do_confirm(store, ann.link_id, 2, now=NOW + timedelta(days=1, minutes=5))
    assert confirmed.status == SubscriberStatus.ACTIVE
    assert reader(store, "ann@example.org").unsubscribed_at is None


def test_an_active_reader_subscribing_again_changes_nothing_but_gets_their_links(
    store: Store,
) -> None:
    ann = active_reader(store, "ann@example.org")
    other = Preferences(categories=("math.ST",), keywords=("topology",), cadence="weekly")
    outcome = do_subscribe(
        store,
        "ANN@example.org",
        now=NOW + timedelta(hours=1),
        prefs=other,
        consent=Consent(ConsentChannel.API, ip="198.51.100.7", user_agent="curl"),
    )
    assert outcome.state == SubscribeState.ALREADY_ACTIVE
    assert outcome.send_confirmation is True and outcome.sends_links  # a "your links" mail
    after = reader(store, "ann@example.org")
    assert preferences_of(after) == preferences_of(ann)
    assert after.status == SubscriberStatus.ACTIVE
    assert after.token_version == ann.token_version == 1
    assert (after.consent_channel, after.consent_ip, after.consent_at) == (
        ConsentChannel.WEB,
        "203.0.113.9",
        NOW,
    )


# --- suppression ----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [SuppressionReason.BOUNCED, SuppressionReason.COMPLAINED])
def test_a_suppressed_reader_never_comes_back(store: Store, reason: SuppressionReason) -> None:
    ann = active_reader(store, "ann@example.org")
    do_suppress(store, ann.email_key, reason)
    do_suppress(store, ann.email_key, reason)  # idempotent
    assert count(store, Suppression) == 1
    status = SubscriberStatus(reason.value)
    assert reader(store, "ann@example.org").status == status
    with store.sessions() as session:
        assert is_suppressed(session, "ann@example.org")

    for confirmed in (False, True):
        outcome = do_subscribe(
            store, "Ann@Example.org", now=NOW + timedelta(days=1), confirmed=confirmed
        )
        assert outcome.state == SubscribeState.SUPPRESSED
        assert outcome.send_confirmation is False and outcome.subscriber is None
    with pytest.raises(SubscriptionError, match="can no longer receive mail"):
        do_confirm(store, ann.link_id, ann.token_version)
    do_unsubscribe(store, ann.link_id, ann.token_version)  # leaves the suppression alone
    assert reader(store, "ann@example.org").status == status
    assert count(store, Subscriber) == 1


def test_suppressing_a_pending_reader_and_confirming_fails(store: Store) -> None:
    outcome = do_subscribe(store, "ann@example.org")
    assert outcome.subscriber is not None
    do_suppress(store, "ann@example.org", SuppressionReason.BOUNCED)
    with pytest.raises(SubscriptionError):
        do_confirm(store, outcome.subscriber.link_id, 1)
    assert reader(store, "ann@example.org").status == SubscriberStatus.BOUNCED


def test_a_suppressed_address_that_never_subscribed_is_not_created(store: Store) -> None:
    do_suppress(store, "bob@example.org", SuppressionReason.ADMIN)
    outcome = do_subscribe(store, "Bob@example.org", confirmed=True)
    assert outcome.state == SubscribeState.SUPPRESSED and outcome.subscriber is None
    assert count(store, Subscriber) == 0


# --- remove -----------------------------------------------------------------------------------


def test_remove_deletes_the_reader(store: Store) -> None:
    active_reader(store, "ann@example.org")
    active_reader(store, "bob@example.org")
    with write_transaction(store.sessions) as session:
        remove(session, "ANN@example.org")
    with store.sessions() as session:
        assert find(session, "ann@example.org") is None
        assert [s.email for s in list_subscribers(session)] == ["bob@example.org"]
    with write_transaction(store.sessions) as session, pytest.raises(SubscriptionError):
        remove(session, "ann@example.org")
    again = do_subscribe(store, "ann@example.org", now=NOW + timedelta(days=1))
    assert again.state == SubscribeState.CREATED and again.send_confirmation is True


# --- CSV import and export ----------------------------------------------------------------------

DEFAULTS = Preferences()
CSV_TEXT = (
    "Email,categories,keywords,cadence,papers_per_digest,send_hour,timezone\n"
    "ann@example.org,cs.CL cs.LG,diffusion,daily,5,7,Europe/Berlin\n"  # line 2: good
    "not-an-address,,,,,,\n"  # line 3: bad address
    "bob@example.org,CS.XX,,,,,\n"  # line 4: bad category
    "cy@example.org,,,,ten,,\n"  # line 5: not a number
    "di@example.org,,,,,,Mars/Base\n"  # line 6: bad time zone
    "ed@example.org,,,fortnightly,,,\n"  # line 7: bad cadence
    ",,,,,,\n"  # line 8: no address
    '"fi@example.org","math.ST","graph neural networks, RAG",weekly,,23,\n'  # line 9: good
    "ann@example.org,cs.CL,,,,,\n"  # line 10: a repeat: already active
)


def do_import(
    store: Store, text: str, *, confirmed: bool = True, defaults: Preferences = DEFAULTS
) -> ImportReport:
    with write_transaction(store.sessions) as session:
        return import_csv(
            session,
            io.StringIO(text),
            defaults,
            max_papers=MAX_PAPERS,
            confirmed=confirmed,
            now=NOW,
        )


def test_import_reports_bad_rows_by_line_and_keeps_good_ones(store: Store) -> None:
    report = do_import(store, CSV_TEXT)
    assert [line for line, _ in report.errors] == [3, 4, 5, 6, 7, 8]
    reasons = dict(report.errors)
    assert "not a valid email address" in reasons[3]
    assert reasons[4].startswith("categories:")
    assert "whole numbers" in reasons[5]
    assert reasons[6].startswith("time zone:")
    assert reasons[7].startswith("cadence:")
    assert reasons[8] == "Please enter an email address."
    assert (report.added, report.updated, report.unchanged) == (2, 0, 1)

    with store.sessions() as session:
        readers = {s.email: s for s in list_subscribers(session)}
    assert set(readers) == {"ann@example.org", "fi@example.org"}
    ann, fi = readers["ann@example.org"], readers["fi@example.org"]
    assert ann.status == fi.status == SubscriberStatus.ACTIVE
    assert ann.consent_channel == ConsentChannel.IMPORT and ann.consent_at == NOW
    assert preferences_of(ann) == Preferences(
        categories=("cs.CL", "cs.LG"),
        keywords=("diffusion",),
        papers_per_digest=5,
        send_hour=7,
        timezone="Europe/Berlin",
    )
    assert preferences_of(fi) == Preferences(
        categories=("math.ST",),
        keywords=("graph neural networks", "rag"),
        cadence="weekly",
        send_hour=23,
    )


def test_import_without_confirmation_leaves_readers_pending(store: Store) -> None:
    report = do_import(store, "email\nann@example.org\nann@example.org\n", confirmed=False)
    assert (report.added, report.updated, report.errors) == (1, 1, [])
    assert reader(store, "ann@example.org").status == SubscriberStatus.PENDING


def test_import_uses_defaults_for_missing_columns(store: Store) -> None:
    defaults = Preferences(categories=("cs.AI",), keywords=("agents",), send_hour=6)
    do_import(store, "email\nann@example.org\n", defaults=defaults)
    assert preferences_of(reader(store, "ann@example.org")) == defaults


def test_import_reports_suppressed_addresses(store: Store) -> None:
    do_suppress(store, "bob@example.org", SuppressionReason.COMPLAINED)
    report = do_import(store, "email\nann@example.org\nBOB@example.org\n")
    assert report.added == 1
    assert report.errors == [
        (3, "address is suppressed (see `paperround suppressions list`); not imported")
    ]
    assert count(store, Subscriber) == 1


@pytest.mark.parametrize("text", ["", "address,cadence\nann@example.org,daily\n"])
def test_import_needs_an_email_column(store: Store, text: str) -> None:
    with pytest.raises(SubscriptionError, match="'email' column"):
        do_import(store, text)


def export_text(store: Store) -> str:
    with store.sessions() as session:
        return "".join(export_rows(list_subscribers(session)))


def exported_rows(text: str) -> list[dict[str, str]]:
    """The exported rows without the consent record (see the consent round-trip test)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [] or tuple(rows[0]) == CSV_FIELDS
    return [
        {k: v for k, v in row.items() if k not in ("consent_at", "consent_channel")} for row in rows
    ]


ROUND_TRIP_READERS = {
    "ann@example.org": Preferences(categories=("cs.CL", "cs.LG"), keywords=("diffusion",)),
    "Bob.Lee@example.org": Preferences(
        keywords=("graph neural networks", "c++"), papers_per_digest=3, send_hour=22
    ),
    "cy@example.org": Preferences(cadence="weekly", timezone="America/New_York"),
    "di@example.org": Preferences(),
}


def test_export_then_import_gives_back_the_same_readers(store: Store) -> None:
    for email, prefs in ROUND_TRIP_READERS.items():
        do_subscribe(store, email, prefs=prefs, confirmed=True)
    first = export_text(store)
    assert len(first.splitlines()) == 1 + len(ROUND_TRIP_READERS)

    for email in ROUND_TRIP_READERS:
        erase_then_lift(store, email)
    assert count(store, Subscriber) == 0

    report = do_import(store, first)
    assert (report.added, report.errors) == (len(ROUND_TRIP_READERS), [])
    second = export_text(store)
    assert exported_rows(second) == exported_rows(first)
    for email, prefs in ROUND_TRIP_READERS.items():
        back = reader(store, email)
        assert back.email == email
        assert back.status == SubscriberStatus.ACTIVE
        restored = preferences_of(back)
        assert (restored.categories, restored.keywords) == (prefs.categories, prefs.keywords)
        assert (restored.cadence, restored.papers_per_digest) == (
            prefs.cadence,
            prefs.papers_per_digest,
        )
        assert (restored.send_hour, restored.timezone) == (prefs.send_hour, prefs.timezone)


def test_export_then_import_keeps_weekly_day_and_pause(store: Store) -> None:
    prefs = Preferences(cadence="weekly", weekly_day=4, paused=True)
    do_subscribe(store, "ann@example.org", prefs=prefs, confirmed=True)
    text = export_text(store)
    erase_then_lift(store, "ann@example.org")
    assert do_import(store, text).errors == []
    assert preferences_of(reader(store, "ann@example.org")) == prefs


def test_export_then_import_keeps_the_consent_record(store: Store) -> None:
    do_subscribe(store, "ann@example.org", confirmed=True)  # web consent at NOW
    text = export_text(store)
    erase_then_lift(store, "ann@example.org")
    with write_transaction(store.sessions) as session:
        import_csv(
            session,
            io.StringIO(text),
            Preferences(),
            max_papers=MAX_PAPERS,
            confirmed=True,
            now=NOW + timedelta(days=30),
        )
    ann = reader(store, "ann@example.org")
    assert (ann.consent_channel, ann.consent_at) == (ConsentChannel.WEB, NOW)


def test_reimporting_an_export_does_not_resubscribe_a_reader_who_left(store: Store) -> None:
    ann = active_reader(store, "ann@example.org")
    do_unsubscribe(store, ann.link_id, ann.token_version)
    text = export_text(store)
    assert ",unsubscribed," in text
    do_import(store, text, confirmed=True)
    assert reader(store, "ann@example.org").status == SubscriberStatus.UNSUBSCRIBED


def test_an_admin_subscribe_does_not_reactivate_a_reader_who_left(store: Store) -> None:
    # Subscriber's contract: nobody who left becomes active again without their own confirmation.
    ann = active_reader(store, "ann@example.org")
    do_unsubscribe(store, ann.link_id, ann.token_version)
    do_subscribe(store, "ann@example.org", now=NOW + timedelta(days=1), confirmed=True)
    assert reader(store, "ann@example.org").status != SubscriberStatus.ACTIVE


def test_the_links_mail_to_an_active_reader_is_rate_limited_and_self_service_only(
    store: Store,
) -> None:
    active_reader(store, "ann@example.org")
    first = do_subscribe(store, "ann@example.org", now=NOW + timedelta(hours=1))
    assert first.sends_links
    soon = do_subscribe(store, "ann@example.org", now=NOW + timedelta(hours=1, minutes=59))
    assert soon.state == SubscribeState.ALREADY_ACTIVE and not soon.send_confirmation
    later = do_subscribe(store, "ann@example.org", now=NOW + timedelta(hours=2, minutes=1))
    assert later.sends_links
    admin = Consent(ConsentChannel.CLI)
    by_admin = do_subscribe(store, "ann@example.org", now=NOW + timedelta(days=1), consent=admin)
    assert by_admin.state == SubscribeState.ALREADY_ACTIVE and not by_admin.send_confirmation
    assert reader(store, "ann@example.org").status == SubscriberStatus.ACTIVE
