"""A preview is the send path: the previewed message is byte for byte the one the reader got."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.delivery.sending import send_edition
from pipeline.digest.planning import plan_edition
from pipeline.digest.preview import PreviewError, edition_page, message_parts, preview_digest
from pipeline.store.db import write_transaction
from pipeline.store.models import Edition
from pipeline.store.status import Cadence
from pipeline.timeutil import utcnow
from pipeline.wiring import Wiring
from tests.conftest import Store
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import add_readers, seed_papers, settings_for


def _preview(store: Store, wiring: Wiring, **kw: object):
    with store.sessions() as session:
        return preview_digest(
            session,
            wiring.composer(),
            wiring.site,
            cadence=Cadence.DAILY,
            day=utcnow().date(),
            pool_size=wiring.settings.edition_pool_size,
            gravity=wiring.settings.ranking_gravity,
            **kw,  # type: ignore[arg-type]
        )


def test_preview_is_exactly_the_message_the_reader_was_sent(store: Store, tmp_path: Path) -> None:
    seed_papers(store.sessions)
    add_readers(store.sessions, 3, categories=["cs.CL"])
    add_readers(store.sessions, 3, start=10, keywords=["diffusion"])
    with ScriptedSmtpServer() as smtp:
        wiring = Wiring(settings_for(tmp_path, store.url, smtp.url), store.sessions)
        with write_transaction(store.sessions) as session:
            edition_id = plan_edition(session).edition_id
        report = send_edition(
            store.sessions, edition_id, wiring.composer(), wiring.transports, wiring.send_policy()
        )
        assert report.sent == 6
        sent = {m.rcpt_tos[0]: m.data for m in smtp.messages}
    for reader in ("reader1@example.net", "reader11@example.net"):
        received = message_from_bytes(sent[reader], policy=policy.default)
        preview = _preview(
            store,
            wiring,
            email=reader,
            message_id=str(received["Message-ID"]),
            when=parsedate_to_datetime(str(received["Date"])),
        )
        assert preview.planned and preview.recipient == reader
        assert preview.message == sent[reader].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        assert message_parts(sent[reader]) == (preview.html, preview.text, preview.subject)
    # the two readers follow different things: their previews differ in their papers
    assert _preview(store, wiring, email="reader1@example.net").html != (
        _preview(store, wiring, email="reader11@example.net").html
    )


def test_preview_of_an_unplanned_edition_changes_nothing(store: Store, tmp_path: Path) -> None:
    seed_papers(store.sessions)
    add_readers(store.sessions, 2)
    wiring = Wiring(settings_for(tmp_path, store.url), store.sessions)
    whole = _preview(store, wiring)
    assert not whole.planned and whole.recipient == wiring.sender.address
    assert "Paper number 0 on diffusion" in whole.text
    assert wiring.links.archive(whole.edition_id) in whole.text
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Edition)) == 0


def test_preview_says_what_to_do_when_there_is_nothing_to_show(
    store: Store, tmp_path: Path
) -> None:
    wiring = Wiring(settings_for(tmp_path, store.url), store.sessions)
    with pytest.raises(PreviewError, match="run `paperround ingest` first"):
        _preview(store, wiring)
    seed_papers(store.sessions)
    add_readers(store.sessions, 1, keywords=["zzz-matches-nothing"])
    with pytest.raises(PreviewError, match=r"no reader nobody@example\.org"):
        _preview(store, wiring, email="nobody@example.org")
    with pytest.raises(PreviewError, match="gets nothing in this edition"):
        _preview(store, wiring, email="reader0@example.net")


def test_the_archive_page_is_the_message_with_neutral_links(store: Store, tmp_path: Path) -> None:
    seed_papers(store.sessions, n=4)
    add_readers(store.sessions, 1)
    wiring = Wiring(settings_for(tmp_path, store.url), store.sessions)
    with write_transaction(store.sessions) as session:
        edition_id = plan_edition(session).edition_id
    page = edition_page(wiring.composer(), edition_id, "https://papers.example.org/unsubscribe")
    assert page is not None and page.startswith("<!doctype html>")
    assert page.count("https://papers.example.org/unsubscribe") == 2  # preferences + unsubscribe
    assert "PRx" not in page and "/preferences/" not in page
    assert edition_page(wiring.composer(), edition_id + 99, "https://x.example/") is None


def test_digests_are_marked_as_list_mail_and_offer_no_guessable_mailto(
    store: Store, tmp_path: Path
) -> None:
    seed_papers(store.sessions, n=3)
    add_readers(store.sessions, 1)
    wiring = Wiring(settings_for(tmp_path, store.url), store.sessions)
    message = message_from_bytes(
        _preview(store, wiring, email="reader0@example.net").message, policy=policy.default
    )
    assert message["Precedence"] == "bulk"
    assert message["Auto-Submitted"] == "auto-generated"
    unsubscribe = str(message["List-Unsubscribe"])
    assert unsubscribe.startswith("<https://papers.example.org/unsubscribe/")
    assert "mailto:" not in unsubscribe  # no mailbox of ours reads unsubscribe mail
    with store.sessions() as session:
        from pipeline.readers.lifecycle import find

        reader = find(session, "reader0@example.net")
        assert reader is not None
    token = unsubscribe.strip("<>").rpartition("/")[2]
    assert token.startswith(reader.link_id + "-") and f"{reader.id}-" not in token[:3]
    confirmation = message_from_bytes(
        wiring.confirmations.compose(reader.link_id, 1, reader.email).message,
        policy=policy.default,
    )
    assert confirmation["Auto-Submitted"] == "auto-generated"
    assert confirmation["Precedence"] is None  # one reader's own request, not list mail
