"""A real, scriptable SMTP server on 127.0.0.1 for tests (aiosmtpd, a free port).

    from tests.support.smtpserver import ScriptedSmtpServer

    with ScriptedSmtpServer() as server:            # or ScriptedSmtpServer(tls=ctx, ...)
        server.reply_to_rcpt("busy@example.net", "451 4.3.0 Try again later")
        server.reply_to_rcpt("gone@example.net", "550 5.1.1 No such user")
        server.reply_to_data("spam@example.net", "554 5.7.1 Rejected as spam")
        server.drop_after_messages(5)               # close after the 5th accepted message
        server.drop_after_data("lost@example.net")  # read the body, then hang up, no reply
        server.stall_after_data("*")                # read every body, never answer ("*": all)
        server.refuse_connections()                 # stop listening: ECONNREFUSED
        server.accept_connections()                 # listen again on the same port
        transport = SmtpTransport.from_url(server.url)
        ...
        server.messages       # [Received(mail_from, rcpt_tos, data, session, tls, login)]
        server.unanswered     # bodies received before a drop_after_data hang-up
        server.sessions       # connections that said EHLO/HELO (the readiness probe does not)

Options: `pipelining=False` stops advertising PIPELINING (RFC 2920; on by default, as with
Postfix), `tls=` an ssl server context (offers STARTTLS), `implicit_tls=` a context for
smtps-style TLS on connect, `credentials={"user": "password"}` (AUTH PLAIN/LOGIN offered, MAIL
refused with 530 until authenticated; allowed without TLS unless `auth_require_tls=True`).
Rules are matched on the RCPT address; all hooks run in the server's own thread.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from workers.capture import EphemeralPortController


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    session: int  # 1-based connection number
    tls: bool
    login: str | None


class _Handler:
    def __init__(self, owner: ScriptedSmtpServer) -> None:
        self.owner = owner

    def _session_number(self, server: SMTP) -> int:
        owner = self.owner
        with owner.lock:
            for number, seen in enumerate(owner._servers, start=1):
                if seen is server:
                    return number
            owner._servers.append(server)  # keeps it alive, so identities stay unique
            return len(owner._servers)

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        self._session_number(server)
        if self.owner.pipelining:  # aiosmtpd reads pipelined commands; advertise it like Postfix
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        session.host_name = hostname
        self._session_number(server)
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.owner.credentials and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        replies = self.owner._rcpt_replies
        reply = replies.get(address.lower(), replies.get("*"))
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        owner = self.owner
        rcpts = tuple(envelope.rcpt_tos)
        data = envelope.original_content or b""
        if any(r.lower() in owner._stall_after_data for r in (*rcpts, "*")):
            with owner.lock:
                owner.unanswered.append(data)
            await asyncio.sleep(3600)  # read the body, then never answer: the client times out
        if any(r.lower() in owner._drop_after_data for r in (*rcpts, "*")):
            with owner.lock:
                owner.unanswered.append(data)
            assert server.transport is not None
            server.transport.close()
            await asyncio.sleep(3600)  # cancelled by connection_lost: no reply is ever sent
        for rcpt in (*rcpts, "*"):
            reply = owner._data_replies.get(rcpt.lower())
            if reply is not None:
                return reply
        auth = session.auth_data
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=rcpts,
            data=data,
            session=self._session_number(server),
            tls=session.ssl is not None or owner.implicit_tls is not None,
            login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
        )
        with owner.lock:
            owner.messages.append(received)
            drop = owner._drop_after is not None and len(owner.messages) == owner._drop_after
        if drop:  # runs after the 250 below has been written: a clean close, like a timeout
            assert server.transport is not None
            server.loop.call_soon(server.transport.close)
        return "250 2.0.0 OK queued"


class ScriptedSmtpServer:
    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        credentials: dict[str, str] | None = None,
        auth_require_tls: bool = False,
        pipelining: bool = True,
    ) -> None:
        self.lock = threading.Lock()
        self.pipelining = pipelining
        self.messages: list[Received] = []
        self.unanswered: list[bytes] = []
        self.credentials = dict(credentials or {})
        self.implicit_tls = implicit_tls
        self._servers: list[SMTP] = []
        self._rcpt_replies: dict[str, str] = {}
        self._data_replies: dict[str, str] = {}
        self._drop_after_data: set[str] = set()
        self._stall_after_data: set[str] = set()
        self._drop_after: int | None = None
        kwargs: dict[str, Any] = {"auth_require_tls": auth_require_tls}
        if tls is not None:
            kwargs["tls_context"] = tls
        if self.credentials:
            kwargs["authenticator"] = self._authenticate
        self._controller = EphemeralPortController(
            _Handler(self),
            hostname="127.0.0.1",
            port=0,
            ssl_context=implicit_tls,
            server_hostname="scripted-smtp",
            **kwargs,
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.credentials.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    # --- scripting --------------------------------------------------------------------------
    def reply_to_rcpt(self, address: str, reply: str) -> None:
        self._rcpt_replies[address.lower()] = reply

    def reply_to_data(self, address: str, reply: str) -> None:
        self._data_replies[address.lower()] = reply

    def drop_after_data(self, address: str) -> None:
        self._drop_after_data.add(address.lower())

    def stall_after_data(self, address: str) -> None:
        """Take the body for `address`, then say nothing (the sender's read times out)."""
        self._stall_after_data.add(address.lower())

    def clear_rules(self) -> None:
        """Forget every scripted reply and drop: the server accepts everything again."""
        with self.lock:
            self._rcpt_replies.clear()
            self._data_replies.clear()
            self._drop_after_data.clear()
            self._stall_after_data.clear()
            self._drop_after = None

    def drop_after_messages(self, count: int) -> None:
        self._drop_after = len(self.messages) + count

    def refuse_connections(self) -> None:
        ctl = self._controller
        assert ctl.server is not None, "start() the server first"
        asyncio.run_coroutine_threadsafe(ctl.stop_listening(), ctl.loop).result(timeout=5)

    def accept_connections(self) -> None:
        ctl = self._controller
        future = asyncio.run_coroutine_threadsafe(ctl._create_server(), ctl.loop)
        ctl.server = future.result(timeout=5)

    # --- state ------------------------------------------------------------------------------
    @property
    def sessions(self) -> int:
        with self.lock:
            return len(self._servers)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def url(self) -> str:
        scheme = "smtps" if self.implicit_tls is not None else "smtp"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> ScriptedSmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> ScriptedSmtpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def self_signed_tls(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate for 127.0.0.1/localhost (made by
    the openssl CLI), and the certificate's path for clients that want to trust it."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert
