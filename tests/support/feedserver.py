"""A real HTTP/1.1 server on 127.0.0.1 for tests: routes answer with scripted replies.

Tests talk to it over real sockets, so timeouts, redirects, compression and conditional GET
are exercised exactly as against a remote feed, without leaving the machine.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import pathlib
import socket
import sys
import threading
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `delay` waits before the status line; `drip` waits before each
    `drip_size` bytes of the body; `chunked` drops Content-Length for chunked encoding.
    A 200 reply with `etag`/`last_modified` becomes a 304 for a matching conditional GET."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    drip: float = 0.0
    drip_size: int = 1
    gzip: bool = False
    chunked: bool = False
    drop: bool = False  # close the connection without any answer
    drip_head: bool = False  # drip the status line and headers too, byte by byte
    reason: str | None = None  # status line text; the standard phrase when None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class _Route:
    def __init__(self, replies: list[Reply]) -> None:
        self._replies = replies
        self._served = 0
        self._lock = threading.Lock()

    def next_reply(self) -> Reply:
        """Replies in turn; the last one repeats."""
        with self._lock:
            reply = self._replies[min(self._served, len(self._replies) - 1)]
            self._served += 1
            return reply


class FeedServer:
    """Threaded HTTP/1.1 server bound to 127.0.0.1 on a free port. Use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # handler crashes other than a client hanging up
        self._routes: dict[str, _Route] = {}
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> FeedServer:
        httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        httpd.errors = self.errors
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut open connections (ending drips and delays) and free the port."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        with self._lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- configuration ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FeedServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def route(
        self,
        path: str,
        body: bytes = b"",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0.0,
        drip: float = 0.0,
        drip_head: bool = False,
        gzip: bool = False,
        chunked: bool = False,
        responses: list[Reply] | None = None,
    ) -> None:
        """Serve `path` (query string included if given). `responses` replaces the single reply
        described by the other arguments with a sequence served in turn, the last repeating."""
        if responses is None:
            responses = [
                Reply(
                    body=body,
                    status=status,
                    headers=dict(headers or {}),
                    content_type=content_type,
                    etag=etag,
                    last_modified=last_modified,
                    delay=delay,
                    drip=drip,
                    drip_head=drip_head,
                    gzip=gzip,
                    chunked=chunked,
                )
            ]
        if not responses:
            raise ValueError("responses must hold at least one Reply")
        self._routes[path] = _Route(list(responses))

    def serve_file(self, path: str, fixture: pathlib.Path, **kw: Any) -> None:
        self.route(path, fixture.read_bytes(), **kw)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # -- used by the handler ----------------------------------------------------------------

    def _find(self, target: str) -> _Route | None:
        return self._routes.get(target) or self._routes.get(target.split("?", 1)[0])

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _track(self, conn: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-reply are normal here (timeouts, size caps): no tracebacks."""

    daemon_threads = True
    errors: list[BaseException]

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        if error is not None:
            self.errors.append(error)
        super().handle_error(request, client_address)


def _not_modified(reply: Reply, headers: dict[str, str]) -> bool:
    """RFC 9110 13.1.2 and 13.2.2: If-None-Match wins; If-Modified-Since only without it."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if reply.etag is None:
            return False
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or reply.etag.removeprefix("W/") in tags
    since = headers.get("if-modified-since")
    if since is None or reply.last_modified is None:
        return False
    try:
        return parsedate_to_datetime(reply.last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return since == reply.last_modified


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # an idle keep-alive connection must not outlive the test by much

        def setup(self) -> None:
            super().setup()
            server._track(self.connection, open_=True)

        def finish(self) -> None:
            server._track(self.connection, open_=False)
            with contextlib.suppress(OSError):
                super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            server._record(RecordedRequest(self.command, self.path, headers))
            route = server._find(self.path)
            if route is None:
                self._send(Reply(b"no such route\n", status=404), headers)
                return
            reply = route.next_reply()
            if reply.drop or (reply.delay and server._stopping.wait(reply.delay)):
                self.close_connection = True
                return
            self._send(reply, headers)

        def _send(self, reply: Reply, request_headers: dict[str, str]) -> None:
            status, body = reply.status, reply.body
            if status == 200 and _not_modified(reply, request_headers):
                status, body = 304, b""
            if reply.gzip and body:
                body = gzip_module.compress(body)
            out = dict(reply.headers)
            if reply.gzip:
                out.setdefault("Content-Encoding", "gzip")
            if reply.content_type:
                out.setdefault("Content-Type", reply.content_type)
            if reply.etag:
                out.setdefault("ETag", reply.etag)
            if reply.last_modified:
                out.setdefault("Last-Modified", reply.last_modified)
            sends_body = status not in (204, 304) and not 100 <= status < 200
            if reply.chunked and sends_body:
                out["Transfer-Encoding"] = "chunked"
            elif sends_body and not any(k.lower() == "content-length" for k in out):
                out["Content-Length"] = str(len(body))
            try:
                if reply.drip_head:
                    head = f"HTTP/1.1 {status} {reply.reason or _phrase(status)}\r\n"
                    head += "".join(f"{name}: {value}\r\n" for name, value in out.items())
                    self._write_body(
                        (head + "\r\n").encode("latin-1"), replace(reply, chunked=False)
                    )
                    if server._stopping.is_set():
                        return
                else:
                    self.send_response(status, reply.reason or _phrase(status))
                    for name, value in out.items():
                        self.send_header(name, value)
                    self.end_headers()
                if sends_body:
                    self._write_body(body, reply)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _write_body(self, body: bytes, reply: Reply) -> None:
            step = reply.drip_size if reply.drip else max(len(body), 1)
            for start in range(0, len(body), step):
                if reply.drip and server._stopping.wait(reply.drip):
                    self.close_connection = True
                    return
                piece = body[start : start + step]
                if reply.chunked:
                    piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
                self.wfile.write(piece)
                self.wfile.flush()
            if reply.chunked:
                self.wfile.write(b"0\r\n\r\n")

    return Handler


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def unused_port() -> int:
    """A loopback port nobody listens on (bound then released), for connection-refused tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
