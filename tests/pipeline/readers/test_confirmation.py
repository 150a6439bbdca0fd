"""pipeline.readers.confirmation: the double opt-in message is standards-clean and really sent."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pipeline.readers.addresses import smtp_address
from pipeline.store.models import Subscriber
from pipeline.wiring import Wiring
from tests.support import unused_port
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import add_readers, link_id_of, settings_for

NOW = datetime.now(UTC)


def test_message_has_headers_text_and_html(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "sqlite://")
    mail = Wiring(settings).confirmations.compose("a1" * 12, 3, "ann@bücher.example")
    assert mail.to_addr == "ann@xn--bcher-kva.example"
    msg = email.message_from_bytes(mail.message, policy=email.policy.default)
    assert msg["Subject"] == "Confirm your Paperround subscription"
    assert msg["To"] == "ann@xn--bcher-kva.example" and msg["Message-ID"] == mail.message_id
    assert msg["Date"] and "digest@paperround.example.org" in msg["From"]
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    link = Wiring(settings).links.confirm("a1" * 12, 3)
    assert link in text and link in html and "ann@bücher.example" in text
    assert "<script" not in html.lower()
    assert all(len(line) <= 998 for line in mail.message.split(b"\r\n"))  # RFC 5322 2.1.1


@pytest.mark.parametrize("bad", ["jörg@example.org"])
def test_non_ascii_local_parts_are_refused_clearly(bad: str) -> None:
    with pytest.raises(ValueError, match="non-ASCII characters before the @"):
        smtp_address(bad)


def test_send_goes_over_smtp_and_releases_throttle_on_failure(
    tmp_path: Path, sqlite_store: Any
) -> None:
    add_readers(sqlite_store.sessions, 2, status="pending")
    with ScriptedSmtpServer() as server:
        settings = settings_for(tmp_path, sqlite_store.url, smtp_url=server.url)
        server.reply_to_rcpt("reader1@example.net", "550 5.1.1 No such user")
        confirmations = Wiring(settings, sqlite_store.sessions).confirmations
        assert confirmations.send(1).status == "sent"
        assert confirmations.send(2).status == "failed"
        assert [m.rcpt_tos for m in server.messages] == [("reader0@example.net",)]
    with ScriptedSmtpServer() as server:
        settings = settings_for(tmp_path, sqlite_store.url, smtp_url=server.url)
        add_readers(sqlite_store.sessions, 1, start=5, status="unsubscribed")
        confirmations = Wiring(settings, sqlite_store.sessions).confirmations
        assert confirmations.send(3).status == "failed"  # left: nothing to send, ever
        assert server.messages == []


def test_an_active_reader_gets_their_links_not_a_confirmation(
    tmp_path: Path, sqlite_store: Any
) -> None:
    add_readers(sqlite_store.sessions, 1)
    with ScriptedSmtpServer() as server:
        settings = settings_for(tmp_path, sqlite_store.url, smtp_url=server.url)
        wiring = Wiring(settings, sqlite_store.sessions)
        assert wiring.confirmations.send(1).status == "sent"
        [sent] = server.messages
    msg = email.message_from_bytes(sent.data, policy=email.policy.default)
    assert msg["Subject"] == "Your Paperround links"
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    link_id = link_id_of(sqlite_store.sessions, "reader0@example.net")
    for link in (wiring.links.preferences(link_id, 1), wiring.links.unsubscribe(link_id, 1)):
        assert link in text and link in html
    assert "/confirm/" not in text and "reader0@example.net" in text
    assert msg["List-Unsubscribe"] == f"<{wiring.links.unsubscribe(link_id, 1)}>"


def test_many_confirmations_share_one_connection_and_stop_when_the_relay_is_down(
    tmp_path: Path, sqlite_store: Any
) -> None:
    add_readers(sqlite_store.sessions, 5, status="pending", confirmation_sent_at=NOW)
    with ScriptedSmtpServer() as server:
        settings = settings_for(tmp_path, sqlite_store.url, smtp_url=server.url)
        outcomes = Wiring(settings, sqlite_store.sessions).confirmations.send_many(range(1, 5))
        assert [o.status for o in outcomes] == ["sent"] * 4
        assert server.sessions == 1
    dead = settings_for(tmp_path, sqlite_store.url, smtp_url=f"smtp://127.0.0.1:{unused_port()}")
    outcomes = Wiring(dead, sqlite_store.sessions).confirmations.send_many([5, 1])
    assert [o.status for o in outcomes] == ["retry", "retry"]
    assert outcomes[1].detail.startswith("not tried: ")
    with sqlite_store.sessions() as session:
        released = session.scalars(
            select(Subscriber.confirmation_sent_at).where(Subscriber.id.in_([1, 5]))
        ).all()
    assert released == [None, None]  # they can be sent again at once
