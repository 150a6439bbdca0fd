"""The waitress server `paperround web` runs; the tests serve the app through it too, so what
they check is the production configuration, not a look-alike.

- Forwarding headers have one reader: the app's ProxyFix, when `web_trusted_proxies` > 0
  (workers/web/app.py). waitress's own handling is off (`clear_untrusted_proxy_headers`
  defaults to True and would strip X-Forwarded-* before the app sees them, so every client
  behind a proxy would share one rate-limit counter and one consent IP).
- Answers waitress writes itself, before the app runs (400 malformed request, 413 body too
  large, 431 headers too large, 500 when the app broke mid-response), carry the same
  security headers as the app's pages: its error task is replaced by one that adds them.
- The request body is bounded here as well as in Flask: waitress refuses a declared length
  over `web_max_request_bytes` before reading the body.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from pipeline.settings import Settings
from workers.web.security import server_error_headers


class _ErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's own error answer, with the headers every page of the site has."""

    def execute(self) -> None:
        self.response_headers.extend(server_error_headers())
        super().execute()


class _Channel(HTTPChannel):  # type: ignore[misc]
    error_task_class = _ErrorTask


class _Listener(TcpWSGIServer):  # type: ignore[misc]
    channel_class = _Channel

    def pull_trigger_with(self, thunk: Callable[[], None]) -> None:
        """Run `thunk` in the loop's own thread, at its next turn."""
        self.trigger.pull_trigger(thunk)


class WebServer:
    """waitress listening on every address `host` resolves to, one thread pool for all."""

    def __init__(
        self, listeners: list[Any], socket_map: dict[Any, Any], adj: Any, dispatcher: Any
    ) -> None:
        self._listeners = listeners
        self._map = socket_map
        self._adj = adj
        self._dispatcher = dispatcher
        self._state = threading.Lock()
        self._running = False
        self._closed = False
        self.addresses: list[tuple[str, int]] = [
            (str(s.effective_host), int(s.effective_port)) for s in listeners
        ]

    @property
    def port(self) -> int:
        return self.addresses[0][1]

    def run(self) -> None:
        """Serve until close() (from any thread) or Ctrl-C."""
        with self._state:
            if self._closed:
                return
            self._running = True
        try:
            wasyncore.loop(
                timeout=self._adj.asyncore_loop_timeout,
                map=self._map,
                use_poll=self._adj.asyncore_use_poll,
            )
        except (SystemExit, KeyboardInterrupt):
            pass
        finally:
            with self._state:
                self._running = False
            self.close()

    def close(self) -> None:
        """Stop listening, close every connection, stop the worker threads (idempotent).

        While run() is looping in another thread the sockets are closed by that thread (a
        socket closed under its select() would end the loop with EBADF)."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            running = self._running
        if running:
            closed = threading.Event()

            def close_here() -> None:
                try:
                    wasyncore.close_all(self._map)
                finally:
                    closed.set()

            self._listeners[0].pull_trigger_with(close_here)
            closed.wait(timeout=10)
        else:
            wasyncore.close_all(self._map)
        self._dispatcher.shutdown()


def make_server(
    app: Flask, settings: Settings, *, host: str, port: int, threads: int | None = None
) -> WebServer:
    """The production server for `app`, bound (port 0: a free one) but not yet running."""
    adj = Adjustments(
        host=host,
        port=port,
        threads=threads or settings.web_threads,
        max_request_body_size=settings.web_max_request_bytes,
        ident="paperround",
        clear_untrusted_proxy_headers=False,
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    socket_map: dict[Any, Any] = {}
    listeners = [
        _Listener(app, socket_map, dispatcher=dispatcher, adj=adj, sockinfo=info)
        for info in adj.listen
    ]
    return WebServer(listeners, socket_map, adj, dispatcher)
