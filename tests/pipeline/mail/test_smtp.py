"""pipeline/mail/smtp.py against a real aiosmtpd server on loopback (tests/support/smtpserver)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.mail.smtp import RateLimiter, SmtpTransport
from pipeline.mail.smtp_url import SmtpConfig, parse_smtp_url
from pipeline.mail.transport import SendOutcome, SendStatus, Transport
from tests.support.smtpserver import ScriptedSmtpServer, self_signed_tls

FROM = "bounces@papers.example.org"


def message(n: int, to: str = "reader@example.net") -> bytes:
    return (
        f"From: {FROM}\r\nTo: {to}\r\nSubject: digest {n}\r\nMessage-ID: <m{n}@papers.example.org>"
        f"\r\n\r\nHello {n}\r\n.leading dot line\r\n..two dots\r\n.\r\nlast line\r\n"
    ).encode()


@pytest.fixture(params=[True, False], ids=["pipelining", "stepwise"])
def server(request: pytest.FixtureRequest) -> Iterator[ScriptedSmtpServer]:
    """Every transport test runs against a server that offers PIPELINING (RFC 2920) and one
    that does not: the transport takes a different path for each."""
    with ScriptedSmtpServer(pipelining=request.param) as smtp:
        yield smtp


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    return self_signed_tls(tmp_path_factory.mktemp("tls"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- URL parsing ---------------------------------------------------------------------------


def test_parse_smtp_url_reads_every_option() -> None:
    config = parse_smtp_url(
        "smtp://mailer%40example.org:p%40ss%3Aw%2Frd@relay.example.org:587"
        "?starttls=1&timeout=7.5&rate=12&tls_verify=0&helo=out.example.org"
    )
    assert config == SmtpConfig(
        host="relay.example.org",
        port=587,
        tls="starttls",
        username="mailer@example.org",
        password="p@ss:w/rd",
        timeout=7.5,
        rate=12.0,
        tls_verify=False,
        helo="out.example.org",
    )
    assert "p@ss" not in repr(config)
    assert parse_smtp_url("smtps://relay.example.org") == SmtpConfig(
        host="relay.example.org", port=465, tls="implicit"
    )
    assert parse_smtp_url("smtp://127.0.0.1").port == 25


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://relay.example.org", "scheme 'http' is not smtp:// or smtps://"),
        ("relay.example.org:25", "scheme"),
        ("smtp://", "has no host"),
        ("smtp://relay.example.org:99999", "port must be a number"),
        ("smtp://relay.example.org:abc", "port must be a number"),
        ("smtp://relay.example.org?tls=1", "unknown SMTP URL option 'tls'"),
        ("smtp://relay.example.org?timeout=0", "timeout='0' must be greater than 0"),
        ("smtp://relay.example.org?timeout=soon", "timeout='soon' is not a number"),
        ("smtp://relay.example.org?rate=-1", "rate='-1' must be 0 or more"),
        ("smtp://relay.example.org?starttls=maybe", "starttls='maybe' must be 0 or 1"),
        ("smtps://relay.example.org?starttls=1", "conflicts with smtps://"),
        ("smtp://:secret@relay.example.org", "password but no user name"),
        ("smtp://relay.example.org/path", "must not have a path"),
        ("smtp://relay.example.org\r\n", "control characters"),
    ],
)
def test_parse_smtp_url_names_what_is_wrong(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("?", r"\?")):
        parse_smtp_url(url)


# --- sending -------------------------------------------------------------------------------


def test_hundred_messages_share_one_connection(server: ScriptedSmtpServer) -> None:
    transport: Transport = SmtpTransport.from_url(server.url)
    outcomes = [transport.send(FROM, f"r{n}@example.net", message(n)) for n in range(100)]
    transport.close()
    assert {o.status for o in outcomes} == {"sent"}
    assert outcomes[0] == SendOutcome(SendStatus.SENT, 250, "250 2.0.0 OK queued")
    assert server.sessions == 1
    assert len(server.messages) == 100
    first = server.messages[0]
    assert (first.mail_from, first.rcpt_tos, first.session) == (FROM, ("r0@example.net",), 1)
    # Dot-stuffing round trip (RFC 5321 4.5.2): the server sees the original lines.
    assert [m.data for m in server.messages] == [message(n) for n in range(100)]


def test_a_transparent_message_goes_out_as_it_is(server: ScriptedSmtpServer) -> None:
    # A message that starts no line with "." (what pipeline/mail/message.py makes) skips the
    # dot-stuffing pass and still arrives byte for byte; one that does is stuffed as ever.
    clean = message(1).replace(b"\r\n.", b"\r\n=2E")
    transport = SmtpTransport.from_url(server.url)
    exchange = transport.begin(FROM, "r1@example.net", clean, transparent=True)
    assert exchange.envelope_ready() is None
    exchange.send_body()
    assert exchange.outcome().status == SendStatus.SENT
    assert transport.send(FROM, "r2@example.net", message(2)).status == SendStatus.SENT
    transport.close()
    assert [m.data for m in server.messages] == [clean, message(2)]


def test_451_is_retry_and_the_connection_keeps_working(server: ScriptedSmtpServer) -> None:
    server.reply_to_rcpt("busy@example.net", "451 4.3.0 Mailbox busy, try later")
    with SmtpTransport.from_url(server.url) as transport:
        busy = transport.send(FROM, "busy@example.net", message(1))
        after = transport.send(FROM, "ok@example.net", message(2))
    assert busy == SendOutcome(
        SendStatus.RETRY,
        451,
        "RCPT TO refused: 451 4.3.0 Mailbox busy, try later",
        enhanced="4.3.0",
    )
    assert after.status == "sent"
    assert server.sessions == 1  # RSET, not a reconnect
    assert [m.rcpt_tos for m in server.messages] == [("ok@example.net",)]


def test_550_is_failed_with_code_and_text(server: ScriptedSmtpServer) -> None:
    server.reply_to_rcpt("gone@example.net", "550 5.1.1 <gone@example.net>: no such user")
    server.reply_to_data("spam@example.net", "554 5.7.1 Message rejected\tas spam")
    with SmtpTransport.from_url(server.url) as transport:
        gone = transport.send(FROM, "gone@example.net", message(1))
        spam = transport.send(FROM, "spam@example.net", message(2))
        after = transport.send(FROM, "ok@example.net", message(3))
    assert gone == SendOutcome(
        SendStatus.FAILED,
        550,
        "RCPT TO refused: 550 5.1.1 <gone@example.net>: no such user",
        suppress=True,  # the address does not exist: never mail it again
        enhanced="5.1.1",
    )
    assert spam == SendOutcome(
        SendStatus.FAILED,
        554,
        "message refused: 554 5.7.1 Message rejected as spam",
        suppress=False,  # the message was refused, not the reader
        enhanced="5.7.1",
    )
    assert after.status == "sent"
    assert server.sessions == 1


def test_421_drops_the_connection_and_the_next_send_reconnects(server: ScriptedSmtpServer) -> None:
    server.reply_to_rcpt("closing@example.net", "421 4.7.0 Too many messages, closing")
    with SmtpTransport.from_url(server.url) as transport:
        closing = transport.send(FROM, "closing@example.net", message(1))
        after = transport.send(FROM, "ok@example.net", message(2))
    assert (closing.status, closing.code) == ("retry", 421)
    assert after.status == "sent"
    assert server.sessions == 2


def test_drop_mid_batch_reports_retry_then_reconnects(server: ScriptedSmtpServer) -> None:
    server.drop_after_messages(5)
    with SmtpTransport.from_url(server.url) as transport:
        outcomes = [transport.send(FROM, f"r{n}@example.net", message(n)) for n in range(10)]
        statuses = [o.status for o in outcomes]
        assert statuses == ["sent"] * 5 + ["retry"] + ["sent"] * 4
        assert "connection lost before the message was sent" in outcomes[5].detail
        assert transport.send(FROM, "r5@example.net", message(5)).status == "sent"
        assert transport.connections_opened == 2
    assert server.sessions == 2
    assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(
        f"r{n}@example.net" for n in range(10)
    )
    assert [m.session for m in server.messages[:5]] == [1] * 5
    assert {m.session for m in server.messages[5:]} == {2}


def test_drop_after_data_is_unknown(server: ScriptedSmtpServer) -> None:
    server.drop_after_data("lost@example.net")
    with SmtpTransport.from_url(server.url) as transport:
        lost = transport.send(FROM, "lost@example.net", message(1))
        after = transport.send(FROM, "ok@example.net", message(2))
    assert lost.status == "unknown"
    assert lost.code is None
    assert "after the message was sent, before the server confirmed it" in lost.detail
    assert server.unanswered == [message(1)]  # the server did get the whole body
    assert after.status == "sent"
    assert server.sessions == 2


def test_refused_connection_is_retry_with_a_clear_detail() -> None:
    port = free_port()
    with SmtpTransport.from_url(f"smtp://127.0.0.1:{port}?timeout=2") as transport:
        outcome = transport.send(FROM, "reader@example.net", message(1))
    assert outcome.status == "retry"
    assert outcome.code is None
    assert outcome.detail.startswith(f"cannot use SMTP server 127.0.0.1:{port}: ")
    assert "ConnectionRefusedError" in outcome.detail


def test_server_that_stops_listening_then_comes_back(server: ScriptedSmtpServer) -> None:
    with SmtpTransport.from_url(server.url + "?timeout=2") as transport:
        assert transport.send(FROM, "a@example.net", message(1)).status == "sent"
        server.drop_after_messages(0)  # nothing more accepted on this connection
        server.refuse_connections()
        transport.close()
        refused = transport.send(FROM, "b@example.net", message(2))
        assert refused.status == "retry"
        assert "Connection refused" in refused.detail
        server.accept_connections()
        assert transport.send(FROM, "b@example.net", message(2)).status == "sent"


def test_invalid_addresses_fail_without_talking_to_the_server(server: ScriptedSmtpServer) -> None:
    with SmtpTransport.from_url(server.url) as transport:
        bad_to = transport.send(FROM, "reader@example.net\r\nRCPT TO:<x@y.z>", message(1))
        bad_from = transport.send("not an address", "reader@example.net", message(1))
    assert (bad_to.status, bad_to.code) == ("failed", None)
    assert "to_addr contains control character" in bad_to.detail
    assert bad_from.status == "failed"
    assert server.sessions == 0


def test_starttls_with_a_self_signed_certificate(tls_files: tuple[ssl.SSLContext, Path]) -> None:
    context, _ = tls_files
    with ScriptedSmtpServer(tls=context) as server:
        with SmtpTransport.from_url(server.url + "?starttls=1&tls_verify=0") as transport:
            assert transport.send(FROM, "reader@example.net", message(1)).status == "sent"
        with SmtpTransport.from_url(server.url + "?starttls=1") as verifying:
            refused = verifying.send(FROM, "reader@example.net", message(2))
    assert [m.tls for m in server.messages] == [True]
    assert refused.status == "retry"
    assert "certificate verify failed" in refused.detail


def test_starttls_required_but_not_offered_never_falls_back(server: ScriptedSmtpServer) -> None:
    with SmtpTransport.from_url(server.url + "?starttls=1") as transport:
        outcome = transport.send(FROM, "reader@example.net", message(1))
    assert outcome.status == "retry"
    assert "STARTTLS extension not supported" in outcome.detail
    assert server.messages == []


def test_implicit_tls_smtps(tls_files: tuple[ssl.SSLContext, Path]) -> None:
    context, _ = tls_files
    with ScriptedSmtpServer(implicit_tls=context) as server:
        transport = SmtpTransport.from_url(server.url + "?tls_verify=0")
        assert transport.send(FROM, "reader@example.net", message(1)).status == "sent"
        transport.close()
    assert server.url.startswith("smtps://")
    assert [m.tls for m in server.messages] == [True]


def test_auth_plain_with_percent_encoded_credentials_from_the_url(
    tls_files: tuple[ssl.SSLContext, Path],
) -> None:
    context, _ = tls_files
    creds = {"mailer@example.org": "p@ss:w/rd%"}
    with ScriptedSmtpServer(tls=context, credentials=creds) as server:
        base = f"smtp://mailer%40example.org:{{}}@127.0.0.1:{server.port}?starttls=1&tls_verify=0"
        with SmtpTransport.from_url(base.format("p%40ss%3Aw%2Frd%25")) as transport:
            ok = transport.send(FROM, "reader@example.net", message(1))
        with SmtpTransport.from_url(base.format("wrong")) as transport:
            wrong = transport.send(FROM, "reader@example.net", message(2))
        with SmtpTransport.from_url(server.url + "?starttls=1&tls_verify=0") as transport:
            anonymous = transport.send(FROM, "reader@example.net", message(3))
    assert ok.status == "sent"
    assert [(m.login, m.tls) for m in server.messages] == [("mailer@example.org", True)]
    assert (wrong.status, wrong.code) == ("retry", 535)
    # A refused sender says nothing about the reader: retry, never failed (no suppression).
    assert (anonymous.status, anonymous.code) == ("retry", 530)
    assert anonymous.detail.startswith("MAIL FROM refused: 530")


def test_auth_plain_without_tls_when_the_server_allows_it() -> None:
    with ScriptedSmtpServer(credentials={"u": "secret"}) as server:
        url = f"smtp://u:secret@127.0.0.1:{server.port}"
        with SmtpTransport.from_url(url) as transport:
            assert transport.send(FROM, "reader@example.net", message(1)).status == "sent"
    assert [(m.login, m.tls) for m in server.messages] == [("u", False)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_sends_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, clock=clock.time, sleep=clock.sleep)
    for _ in range(20):
        limiter.wait()
    assert clock.slept == pytest.approx([0.02] * 19)  # the first send never waits
    clock.now += 5  # after a pause nothing is owed: no burst is paid back, none is allowed
    limiter.wait()
    assert len(clock.slept) == 19


def test_rate_from_the_url_limits_the_transport(server: ScriptedSmtpServer) -> None:
    clock = FakeClock()
    with SmtpTransport.from_url(server.url + "?rate=50") as transport:
        transport._limiter = RateLimiter(transport.config.rate, clock=clock.time, sleep=clock.sleep)
        outcomes = [transport.send(FROM, f"r{n}@example.net", message(n)) for n in range(5)]
    assert {o.status for o in outcomes} == {"sent"}
    assert transport.config.rate == 50 and clock.slept == pytest.approx([0.02] * 4)
