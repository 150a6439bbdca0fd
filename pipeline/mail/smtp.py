"""The SMTP adapter of the mail port: plain, STARTTLS or implicit TLS, AUTH, PIPELINING.

It tells apart where a failure happened, because that decides what the ledger may do: lost
before the body was sent is safe to retry, lost after it may be delivered already (unknown).
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from types import TracebackType

from pipeline.mail.headers import check_address
from pipeline.mail.replies import Scope, Stage, classify
from pipeline.mail.smtp_url import SmtpConfig, parse_smtp_url
from pipeline.mail.transport import SendOutcome, SendStatus
from pipeline.text import one_line


def describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return one_line(f"{exc.smtp_code} {one_line(exc.smtp_error)}", 300)
    return one_line(f"{type(exc).__name__}: {exc}", 300)


def dot_stuff(message: bytes, *, transparent: bool = False) -> bytes:
    """The DATA payload: leading dots doubled and the final "." line (RFC 5321 4.5.2).

    A `transparent` message (no line starts with ".") is only terminated: the doubling pass
    reads the whole message, ~150 us for a 60 KB digest, a tenth of sending it."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if transparent:
        return message + b".\r\n"
    # bytes.replace, not a MULTILINE regex: the same result ("." at the start or after any
    # LF), ~50x faster on a 100 KB digest, and this runs once per message.
    stuffed = message.replace(b"\n.", b"\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b".\r\n"


class RateLimiter:
    """At most `rate` sends per second, evenly spaced (a token bucket holding one token)."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    def wait(self) -> None:
        if not self._interval:
            return
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


class SmtpTransport:
    """One reused SMTP connection (plain, STARTTLS or implicit TLS; optional AUTH).

    A dropped connection is noticed on the next command, reported for that message as
    "retry", and reopened by the following send.
    """

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.connections_opened = 0
        self._conn: smtplib.SMTP | None = None
        self._limiter = RateLimiter(config.rate)

    @classmethod
    def from_url(cls, url: str) -> SmtpTransport:
        return cls(parse_smtp_url(url))

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.config.tls_verify:  # only for self-signed test and capture servers
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        conn: smtplib.SMTP
        if cfg.tls == "implicit":
            conn = smtplib.SMTP_SSL(
                cfg.host,
                cfg.port,
                local_hostname=cfg.ehlo_name,
                timeout=cfg.timeout,
                context=self._tls_context(),
            )
        else:
            conn = smtplib.SMTP(
                cfg.host, cfg.port, local_hostname=cfg.ehlo_name, timeout=cfg.timeout
            )
        try:
            conn.ehlo()
            if cfg.tls == "starttls":
                conn.starttls(context=self._tls_context())  # never falls back to plain text
                conn.ehlo()
            if cfg.username is not None:
                conn.login(cfg.username, cfg.password or "")
        except BaseException:
            conn.close()
            raise
        self.connections_opened += 1
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def send(self, envelope_from: str, to_addr: str, message: bytes) -> SendOutcome:
        exchange = self.begin(envelope_from, to_addr, message)
        refused = exchange.envelope_ready()
        if refused is not None:
            return refused
        exchange.send_body()
        return exchange.outcome()

    def begin(
        self, envelope_from: str, to_addr: str, message: bytes, *, transparent: bool = False
    ) -> SmtpExchange:
        """Open the SMTP transaction of `message` and write its envelope; with PIPELINING
        the replies are read by `envelope_ready`, so the caller can work in between.
        `transparent`: no line of `message` starts with "." (StagedTransport.begin)."""
        try:
            check_address("envelope_from", envelope_from)
            check_address("to_addr", to_addr)
        except ValueError as exc:
            return SmtpExchange.ended(SendOutcome(SendStatus.FAILED, None, one_line(str(exc), 300)))
        self._limiter.wait()
        if self._conn is None:
            try:
                self._conn = self._connect()
            except (smtplib.SMTPException, OSError) as exc:
                code = exc.smtp_code if isinstance(exc, smtplib.SMTPResponseException) else None
                where = f"{self.config.host}:{self.config.port}"
                return SmtpExchange.ended(
                    SendOutcome(
                        SendStatus.RETRY,
                        code,
                        f"cannot use SMTP server {where}: " + describe(exc),
                        systemic=True,
                        connection=True,
                    )
                )
        conn = self._conn
        # smtplib.sendmail() would hide where a failure happened. Calling MAIL, RCPT, DATA and
        # sending the body ourselves tells "lost before the body was sent" (safe to retry)
        # from "lost after it, before the reply" (may be delivered: unknown).
        payload = dot_stuff(message, transparent=transparent)
        try:
            options = [f"SIZE={len(payload)}"] if conn.has_extn("size") else []
            if conn.has_extn("pipelining"):
                self._write_envelope(conn, envelope_from, to_addr, options)
                return SmtpExchange(self, conn, payload, pipelined=True)
            refused = self._envelope_stepwise(conn, envelope_from, to_addr, options)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            return SmtpExchange.ended(self._lost(exc, body_sent=False))
        if refused is not None:
            return SmtpExchange.ended(refused)
        return SmtpExchange(self, conn, payload, pipelined=False)

    def _lost(self, exc: BaseException, *, body_sent: bool) -> SendOutcome:
        self._drop()
        if body_sent:
            return SendOutcome(
                SendStatus.UNKNOWN,
                None,
                "connection lost after the message was "
                "sent, before the server confirmed it: " + describe(exc),
                connection=True,
            )
        return SendOutcome(
            SendStatus.RETRY,
            None,
            "connection lost before the message was sent: " + describe(exc),
            connection=True,
        )

    def _verdict(self, conn: smtplib.SMTP, code: int, reply: bytes) -> SendOutcome:
        """The server's reply to a message body."""
        text = one_line(f"{code} {one_line(reply)}", 300)
        if 200 <= code < 300:
            return SendOutcome(SendStatus.SENT, code, text)
        if code in range(400, 600):
            return self._refused(conn, "message", code, reply)
        return SendOutcome(SendStatus.UNKNOWN, code, "unreadable reply to the message: " + text)

    def _envelope_stepwise(
        self, conn: smtplib.SMTP, envelope_from: str, to_addr: str, options: list[str]
    ) -> SendOutcome | None:
        """MAIL, RCPT, DATA one round trip each; None when the server is ready for the body."""
        code, reply = conn.mail(envelope_from, options)
        if code != 250:
            return self._refused(conn, "MAIL FROM", code, reply)
        code, reply = conn.rcpt(to_addr)
        if code not in (250, 251):
            return self._refused(conn, "RCPT TO", code, reply)
        code, reply = conn.docmd("DATA")
        if code != 354:
            return self._refused(conn, "DATA", code, reply)
        return None

    def _write_envelope(
        self, conn: smtplib.SMTP, envelope_from: str, to_addr: str, options: list[str]
    ) -> None:
        """MAIL, RCPT and DATA in one write (RFC 2920); their three replies are read by
        `_envelope_replies`: one round trip instead of three, which is most of the
        per-message latency on a fast relay."""
        # Both addresses passed check_address (plain local@domain, ASCII, no CR/LF), so they
        # go in angle brackets as they are (smtplib.quoteaddr would re-parse them each time).
        mail = f"MAIL FROM:<{envelope_from}>{''.join(' ' + o for o in options)}"
        conn.send(f"{mail}\r\nRCPT TO:<{to_addr}>\r\nDATA\r\n".encode("ascii"))

    def _envelope_replies(self, conn: smtplib.SMTP) -> SendOutcome | None:
        """The replies to a pipelined envelope; None when the server is ready for the body."""
        replies = [conn.getreply() for _ in range(3)]
        (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = replies
        if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
            # The server opened DATA although the envelope failed: end the empty message
            # (it has no recipient, so nothing is delivered) to get back to a clean state.
            conn.send(b".\r\n")
            conn.getreply()
        if mail_code != 250:
            return self._refused(conn, "MAIL FROM", mail_code, mail_reply)
        if rcpt_code not in (250, 251):
            return self._refused(conn, "RCPT TO", rcpt_code, rcpt_reply)
        if data_code != 354:
            return self._refused(conn, "DATA", data_code, data_reply)
        return None

    def _refused(self, conn: smtplib.SMTP, stage: Stage, code: int, reply: bytes) -> SendOutcome:
        """A 4xx/5xx at `stage`, classified by its enhanced status code (mail/replies.py)."""
        text = one_line(reply)
        detail = one_line(f"{stage} refused: {code} {text}", 300)
        verdict = classify(stage, code, text)
        if code == 421:  # RFC 5321 3.8: the server is closing the connection
            self._drop()
            return SendOutcome(SendStatus.RETRY, code, detail, enhanced=verdict.enhanced)
        try:
            conn.rset()  # RFC 5321 4.1.1.5: abort the transaction, keep the connection
        except (smtplib.SMTPException, OSError):
            self._drop()
        if verdict.scope == Scope.TEMPORARY:
            return SendOutcome(SendStatus.RETRY, code, detail, enhanced=verdict.enhanced)
        if verdict.scope == Scope.SENDER:  # ours to fix: every reader would fail the same way
            return SendOutcome(
                SendStatus.RETRY, code, detail, systemic=True, enhanced=verdict.enhanced
            )
        return SendOutcome(
            SendStatus.FAILED,
            code,
            detail,
            suppress=verdict.scope == Scope.ADDRESS,
            enhanced=verdict.enhanced,
        )


class SmtpExchange:
    """One message of an SmtpTransport in steps (the Exchange of pipeline/mail/transport.py):
    the envelope is written, then its replies read, then the body written, then the final
    reply read. Where a step fails decides the outcome exactly as `SmtpTransport.send` does:
    lost before the body is "retry", lost after it "unknown"."""

    def __init__(
        self,
        transport: SmtpTransport | None,
        conn: smtplib.SMTP | None,
        payload: bytes,
        *,
        pipelined: bool,
        outcome: SendOutcome | None = None,
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._payload = payload
        self._replies_due = pipelined  # the envelope's replies are not read yet
        self._outcome = outcome  # set once the exchange is over
        self._body_sent = False

    @classmethod
    def ended(cls, outcome: SendOutcome) -> SmtpExchange:
        """An exchange over before it began (bad address, no connection, envelope refused)."""
        return cls(None, None, b"", pipelined=False, outcome=outcome)

    def envelope_ready(self) -> SendOutcome | None:
        if self._outcome is not None or not self._replies_due:
            return self._outcome
        self._replies_due = False
        assert self._transport is not None and self._conn is not None
        try:
            self._outcome = self._transport._envelope_replies(self._conn)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._outcome = self._transport._lost(exc, body_sent=False)
        return self._outcome

    def send_body(self) -> None:
        if self.envelope_ready() is not None:
            return
        assert self._transport is not None and self._conn is not None
        try:
            self._conn.send(self._payload)
            self._body_sent = True
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._outcome = self._transport._lost(exc, body_sent=False)

    def outcome(self) -> SendOutcome:
        if self._outcome is not None:
            return self._outcome
        if not self._body_sent:
            raise RuntimeError("outcome() before send_body(): the message was not sent")
        assert self._transport is not None and self._conn is not None
        try:
            code, reply = self._conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._outcome = self._transport._lost(exc, body_sent=True)
            return self._outcome
        self._outcome = self._transport._verdict(self._conn, code, reply)
        return self._outcome

    def abandon(self) -> None:
        """Do not send the body after all: drop the connection (after DATA was accepted
        nothing but the body or a dropped connection ends the transaction; a message is
        delivered only with the body's final dot)."""
        if self._outcome is None and self._transport is not None:
            self._transport._drop()
            self._outcome = SendOutcome(
                SendStatus.RETRY, None, "not sent: the sender gave the message up", connection=True
            )
