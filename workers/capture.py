"""The embedded default's mail catcher: a real SMTP server on loopback that files every message
it receives into a Maildir, so a laptop install can "send" digests and a person can open them.

    python -m workers.capture --maildir var/mail --port 8025

Each recipient gets its own copy with Return-Path and X-Original-To, as a local delivery agent
would add them (RFC 5321 section 4.4), so a mail client pointed at the Maildir shows who it was
for. Nothing is relayed anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import signal
import sys
import threading
import weakref
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from pipeline.mail.capture_log import message_id_of, record_accepted


class EphemeralPortController(Controller):
    """aiosmtpd's threaded Controller with two mends: port=0 works (the bound port is read
    back before the controller's own readiness probe connects to it), and stop() closes the
    connections still open. aiosmtpd only cancels their tasks, so a client mid-conversation
    left its socket to the garbage collector and a ResourceWarning."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory(self) -> SMTP:
        smtp = SMTP(self.handler, **self.SMTP_kwargs)
        self._sessions.add(smtp)
        return smtp

    def _create_server(self) -> Coroutine[Any, Any, Any]:
        async def create() -> Any:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()

    async def stop_listening(self, grace: float = 1.0) -> None:
        """Close the listening socket (new clients get ECONNREFUSED); sessions stay open.

        The socket is unregistered first and closed only once accepts under way have made
        their sessions: Python 3.11's Server.close() with an accept in flight leaks that
        connection's transport (an AssertionError inside asyncio)."""
        deadline = self.loop.time() + grace
        server = self.server
        if isinstance(server, asyncio.Server):
            for sock in server.sockets:
                self.loop.remove_reader(sock.fileno())
            while _accepts_in_flight() and self.loop.time() < deadline:
                await asyncio.sleep(0)
        if server is not None:
            server.close()

    async def _close_sessions(self, grace: float) -> None:
        """Stop listening, close every open connection, and abort those whose unsent output
        outlives `grace`, all while the loop still runs their callbacks."""
        deadline = self.loop.time() + grace
        await self.stop_listening(grace)
        open_now = [s for s in self._sessions if s.transport is not None]
        for smtp in open_now:
            if smtp.transport is not None:
                smtp.transport.close()
        while any(s.transport is not None for s in open_now) and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        for smtp in open_now:
            transport = smtp.transport
            if isinstance(transport, asyncio.Transport):
                transport.abort()
        await asyncio.sleep(0)  # let the aborts' connection_lost callbacks run

    def stop(self, no_assert: bool = False) -> None:
        if self._thread is not None and self.loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._close_sessions(grace=1.0), self.loop)
            done.result(timeout=5)
        super().stop(no_assert=no_assert)


def _accepts_in_flight() -> bool:
    """Whether the running loop still has connections between accept() and connection_made."""
    current = asyncio.current_task()
    return any(
        task is not current and "_accept_connection" in getattr(task.get_coro(), "__qualname__", "")
        for task in asyncio.all_tasks()
    )


class MaildirHandler:
    """aiosmtpd handler: one Maildir message per recipient."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        maildir.parent.mkdir(parents=True, exist_ok=True)  # Maildir makes only the last level
        self._box = mailbox.Maildir(maildir, create=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        # Maildir files use the local line ending (LF on POSIX), as mail clients expect.
        body = content.replace(b"\r\n", b"\n")
        sender = envelope.mail_from or ""
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                trace = f"Return-Path: <{sender}>\nX-Original-To: {rcpt}\n".encode(
                    "utf-8", errors="surrogateescape"
                )
                self._box.add(trace + body)
            message_id = message_id_of(content)
            if message_id:
                record_accepted(self.maildir, message_id)
        return "250 2.0.0 Message captured"


class CaptureServer:
    """`CaptureServer(Path("var/mail")).start()`, then send to 127.0.0.1:`.port`."""

    def __init__(self, maildir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.maildir = Path(maildir)
        self.handler = MaildirHandler(self.maildir)
        # server_hostname avoids socket.getfqdn(), a DNS lookup, in aiosmtpd's SMTP().
        self._controller = EphemeralPortController(
            self.handler, hostname=host, port=port, server_hostname="paperround-capture"
        )

    @property
    def host(self) -> str:
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> CaptureServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers.capture",
        description="Capture all mail sent to a local SMTP port into a Maildir.",
    )
    parser.add_argument(
        "--maildir",
        type=Path,
        default=Path("var/mail"),
        help="Maildir folder to store messages in (created if missing)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8025, help="port (0 = any free port)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a port number (0-65535)")
    server = CaptureServer(args.maildir, host=args.host, port=args.port)
    try:
        server.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"capturing mail on {server.url} into {args.maildir.resolve()}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
