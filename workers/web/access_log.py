"""One line per request on the web server's output: who, what, the answer, how long.

    127.0.0.1 "GET /archive HTTP/1.1" 200 4312 6ms

A signed link's token is a key to a reader's subscription, so paths carrying one are logged
without it (/preferences/<token>), and no query string is logged at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

TOKEN_PATHS = ("confirm", "unsubscribe", "preferences", "view", "feedback")
QUIET_PATHS = frozenset({"/healthz"})  # probed every few seconds by monitors and `run`
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def shown_path(path: str) -> str:
    """The path as logged: a signed link's token replaced by <token>."""
    parts = path.split("/")
    if len(parts) > 2 and parts[1] in TOKEN_PATHS and parts[2]:
        return f"/{parts[1]}/<token>" + ("/" + "/".join(parts[3:]) if parts[3:] else "")
    return path


class AccessLog:
    """WSGI middleware handing each request's line to `write` once the answer was sent."""

    def __init__(self, app: WsgiApp, write: Callable[[str], None]) -> None:
        self.app = app
        self.write = write

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: dict[str, str] = {}

        def start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            seen["length"] = next((v for k, v in headers if k.lower() == "content-length"), "-")
            return start_response(status, headers, *args)

        result = self.app(environ, start)
        try:
            yield from result
        finally:
            close = getattr(result, "close", None)
            if close is not None:  # PEP 3333: the server's close() reaches the app's iterable
                close()
            if environ.get("PATH_INFO") not in QUIET_PATHS:
                self.write(_line(environ, seen, (time.perf_counter() - started) * 1000))


def _line(environ: dict[str, Any], seen: dict[str, str], elapsed_ms: float) -> str:
    request = (
        f"{environ.get('REQUEST_METHOD', '-')} {shown_path(environ.get('PATH_INFO', ''))} "
        f"{environ.get('SERVER_PROTOCOL', '-')}"
    )
    return (
        f'{environ.get("REMOTE_ADDR", "-")} "{request}" {seen.get("status", "-")} '
        f"{seen.get('length', '-')} {elapsed_ms:.0f}ms"
    )
