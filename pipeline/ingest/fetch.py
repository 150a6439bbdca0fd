"""Fetching feeds over HTTP, bounded in every dimension a hostile or broken server controls.

Feeds are untrusted: a server may stall, drip bytes forever, send a gzip bomb, redirect in
circles or to file://, or ask us to come back tomorrow. Each of these ends in a FetchError whose
`str()` is one line saying what happened and what to do, so `sources list` can show it as is.
Conditional GET (RFC 9110 section 13) keeps polite polling cheap for both sides.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import socket
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

import httpx

from pipeline.ingest.decode import ACCEPT_ENCODING, BodyError, BoundedDecoder
from pipeline.ingest.network import (
    AddressRefused,
    FetchLimits,
    Reach,
    Resolver,
    guarded_transport,
    limits,
    system_resolver,
)
from pipeline.ingest.politeness import HostTurns, MemoryTurns

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/feed+json;q=0.8, "
    "application/json;q=0.8, */*;q=0.1"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Worth another try: the server or a proxy in front of it is briefly unavailable (RFC 9110 15.6).
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_BASE = 0.5  # seconds; doubled per retry
ADVICE = {
    401: "the feed needs credentials; Paperround does not send any",
    403: "the server refuses us; check the URL or the User-Agent",
    404: "check the URL",
    410: "the feed is gone; remove or update the source",
}


class FetchError(Exception):
    """A fetch failed: `str()` is one actionable line; `retry_after` is the server's wish."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchResult:
    """What ingest needs: the body, how to parse it, and the validators for next time."""

    not_modified: bool
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    final_url: str
    status_code: int


class _RefuseAllCookies(http.cookiejar.DefaultCookiePolicy):
    """One client serves many sources: a cookie from one must never reach another."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False


class _RetryableError(Exception):
    """Internal: this attempt failed in a way another attempt may fix."""

    def __init__(self, error: FetchError, wait: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait  # the server's Retry-After, else None for our own backoff


class Fetcher:
    """Fetches one URL at a time with the limits it was built with; reuse it across sources."""

    def __init__(
        self,
        *,
        user_agent: str,
        connect_timeout: float,
        read_timeout: float,
        max_bytes: int,
        max_redirects: int,
        max_retries: int,
        max_retry_after: float,
        sleep: Callable[[float], None] = time.sleep,
        total_timeout: float | None = None,
        resolver: Resolver = system_resolver,
        host_intervals: Mapping[str, float] | None = None,
        turns: HostTurns | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        # A server dripping one byte per read_timeout never trips the read timeout, so each
        # fetch also has an overall budget of network time (our own sleeps are not counted):
        # the connect and read budgets together, over status line, headers and body alike.
        self.total_timeout = (
            total_timeout if total_timeout is not None else connect_timeout + read_timeout
        )
        self._sleep = sleep
        self._resolve = resolver
        self.host_intervals = {h.lower(): s for h, s in (host_intervals or {}).items()}
        self._turns = turns if turns is not None else MemoryTurns()
        self._client = httpx.Client(
            headers={
                "User-Agent": user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            cookies=http.cookiejar.CookieJar(policy=_RefuseAllCookies()),
            follow_redirects=False,  # each hop is checked in _next_hop
            trust_env=False,  # no proxy or .netrc credentials picked up from the environment
            transport=guarded_transport(resolver),  # deadline + reach on every socket
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url`; a 304 gives not_modified=True, an empty body and the validators kept."""
        current = _checked_url(url, f"refusing non-http(s) URL {_redact(url)}")
        conditional: dict[str, str] = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.total_timeout
        with limits(deadline, self._reach_of(current)) as scope:
            return self._with_retries(current, conditional, scope, etag, last_modified)

    def _wait_for_turn(self, host: str, scope: FetchLimits) -> None:
        """Politeness: at most one request per `host_intervals[host]` seconds to that host
        (arXiv asks for one every 3 s on its API), shared by every fetcher using the same
        turns. The wait is ours, not the server's: it moves the fetch's deadline."""
        interval = self.host_intervals.get(host.lower(), 0.0)
        if interval > 0:
            wait = self._turns.reserve(host.lower(), interval)
            if wait > 0:
                self._sleep(wait)
                scope.deadline += wait

    def _reach_of(self, url: httpx.URL) -> Reach:
        """Which kinds of address this fetch may reach: public ones and its source's own."""
        try:
            addresses = self._resolve(url.host, url.port or 443)
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise FetchError(
                f"cannot resolve host {url.host!r}: {reason} "
                "(check the URL, or this machine's DNS and network)"
            ) from None
        return Reach.of_source(addresses)

    def _with_retries(
        self,
        current: httpx.URL,
        conditional: dict[str, str],
        scope: FetchLimits,
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        retries = 0
        while True:
            try:
                return self._follow_redirects(current, conditional, scope, etag, last_modified)
            except _RetryableError as failed:
                if failed.wait is not None and failed.wait > self.max_retry_after:
                    raise FetchError(
                        f"{failed.error}: retry after {failed.wait:g} s "
                        f"(longer than the {self.max_retry_after:g} s we wait)",
                        retry_after=failed.wait,
                    ) from None
                if retries >= self.max_retries:
                    raise FetchError(
                        f"{failed.error} (still failing after {retries} retries)",
                        retry_after=failed.wait,
                    ) from None
                pause = failed.wait if failed.wait is not None else BACKOFF_BASE * 2**retries
                retries += 1
                self._sleep(pause)
                scope.deadline += pause

    def _follow_redirects(
        self,
        start: httpx.URL,
        conditional: dict[str, str],
        scope: FetchLimits,
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        visited = [start]
        url = start
        while True:
            with self._exchange(url, conditional, scope) as response:
                if response.status_code not in REDIRECT_STATUSES:
                    return self._result(response, scope, etag, last_modified)
                url = self._next_hop(response, visited)
                visited.append(url)

    def _next_hop(self, response: httpx.Response, visited: list[httpx.URL]) -> httpx.URL:
        here = _redact(response.url)
        location = response.headers.get("Location")
        if not location:
            raise FetchError(f"HTTP {response.status_code} redirect without a Location from {here}")
        try:
            target = response.url.join(location)  # RFC 9110 10.2.2: Location may be relative
        except httpx.InvalidURL as exc:
            raise FetchError(f"bad redirect Location {location!r} from {here}: {exc}") from None
        refusal = f"refusing redirect from {here} to non-http(s) URL {_redact(location)}"
        _checked_url(target, refusal)
        if target in visited:
            chain = " -> ".join(_redact(u) for u in [*visited[visited.index(target) :], target])
            raise FetchError(f"redirect loop: {chain}")
        if len(visited) > self.max_redirects:
            start = _redact(visited[0])
            raise FetchError(f"too many redirects (>{self.max_redirects}) starting at {start}")
        return target

    def _exchange(
        self, url: httpx.URL, conditional: dict[str, str], scope: FetchLimits
    ) -> _OpenResponse:
        self._wait_for_turn(url.host, scope)
        remaining = scope.deadline - time.monotonic()
        if remaining <= 0:
            raise self._deadline_error(url)
        timeout = httpx.Timeout(
            connect=min(self.connect_timeout, remaining),
            read=min(self.read_timeout, remaining),
            write=min(self.read_timeout, remaining),
            pool=min(self.connect_timeout, remaining),
        )
        request = self._client.build_request("GET", url, headers=conditional, timeout=timeout)
        try:
            response = self._client.send(request, stream=True)
        except AddressRefused as exc:  # never retried, never echoes anything fetched
            raise FetchError(str(exc)) from None
        except httpx.ConnectError as exc:
            unresolved = _name_resolution_failure(exc)
            if unresolved is not None:
                # Not worth a retry: an unknown name stays unknown for seconds, and on a machine
                # without DNS every source would otherwise cost the whole backoff (make run).
                raise FetchError(
                    f"cannot resolve host {url.host!r}: {unresolved} "
                    "(check the URL, or this machine's DNS and network)"
                ) from None
            raise _RetryableError(self._transport_error(exc, url, scope), None) from None
        except (httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            raise _RetryableError(self._transport_error(exc, url, scope), None) from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url, scope) from None
        return _OpenResponse(response)

    def _result(
        self,
        response: httpx.Response,
        scope: FetchLimits,
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        status = response.status_code
        where = _redact(response.url)
        if status == 304:
            return FetchResult(
                not_modified=True,
                body=b"",
                content_type=response.headers.get("Content-Type"),
                etag=response.headers.get("ETag", etag),
                last_modified=response.headers.get("Last-Modified", last_modified),
                final_url=str(response.url),
                status_code=status,
            )
        # The standard phrase, not the server's: a reason line is untrusted, unbounded text.
        summary = f"HTTP {status} {httpx.codes.get_reason_phrase(status) or 'Unknown'} from {where}"
        if status in TRANSIENT_STATUSES:
            wait = _retry_after(response.headers.get("Retry-After"))
            raise _RetryableError(FetchError(summary), wait)
        if not 200 <= status < 300:
            fallback = "a server error; try later" if status >= 500 else "the server refused it"
            advice = ADVICE.get(status, fallback)
            raise FetchError(f"{summary} ({advice})")
        return FetchResult(
            not_modified=False,
            body=self._read_body(response, scope),
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            final_url=str(response.url),
            status_code=status,
        )

    def _read_body(self, response: httpx.Response, scope: FetchLimits) -> bytes:
        where = _redact(response.url)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(
                f"body from {where} exceeds the {self.max_bytes:,}-byte cap "
                f"(Content-Length {int(declared):,})"
            )
        coding = response.headers.get("Content-Encoding", "")
        body = bytearray()
        try:
            decoder = BoundedDecoder(coding, self.max_bytes, where)
            for chunk in response.iter_raw():
                body += decoder.decode(chunk)
                if time.monotonic() > scope.deadline:
                    raise self._deadline_error(response.url)
            body += decoder.finish()
        except BodyError as exc:
            raise FetchError(str(exc)) from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, response.url, scope) from None
        return bytes(body)

    def _transport_error(
        self, exc: httpx.HTTPError, url: httpx.URL, scope: FetchLimits
    ) -> FetchError:
        host = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        if isinstance(exc, httpx.ConnectTimeout):
            return FetchError(f"timed out after {self.connect_timeout:g} s connecting to {host}")
        if isinstance(exc, httpx.TimeoutException):
            if time.monotonic() >= scope.deadline - 0.01:
                return self._deadline_error(url)
            return FetchError(
                f"timed out after {self.read_timeout:g} s waiting for data from {host}"
            )
        if isinstance(exc, httpx.ConnectError):
            return FetchError(f"cannot connect to {host}: {_reason(exc)}")
        if isinstance(exc, httpx.RemoteProtocolError):
            return FetchError(f"{host} broke the HTTP exchange: {_reason(exc)}")
        return FetchError(f"network error talking to {host}: {_reason(exc)}")

    def _deadline_error(self, url: httpx.URL) -> FetchError:
        return FetchError(
            f"gave up on {_redact(url)} after {self.total_timeout:g} s: "
            "the server is sending too slowly (overall fetch deadline)"
        )


class _OpenResponse:
    """Closes a streamed response however the caller leaves, so no connection leaks."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    def __enter__(self) -> httpx.Response:
        return self.response

    def __exit__(self, *exc_info: object) -> None:
        self.response.close()


def _checked_url(url: str | httpx.URL, refusal: str) -> httpx.URL:
    """Only http(s) with a host: file://, ftp:// or data: URLs must never reach a fetch."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL {_redact(str(url))!r}: {exc}") from None
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise FetchError(refusal)
    return parsed


def _retry_after(value: str | None) -> float | None:
    """Retry-After is delta-seconds or an HTTP-date (RFC 9110 10.2.3); None when unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP-dates are always GMT
        return None
    return max(0.0, when.timestamp() - time.time())


def _redact(url: str | httpx.URL) -> str:
    """A URL fit for messages and logs: any password in it is replaced."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return str(url)
    if not parsed.password:
        return str(url)  # as given: httpx would show file:///x as file:/x
    mask = "***"
    return str(parsed.copy_with(username=parsed.username, password=mask))


def _name_resolution_failure(exc: BaseException) -> str | None:
    """The resolver's own words when `exc` was caused by a failed DNS lookup, else None.

    httpx wraps httpcore's error, which wraps the socket.gaierror from getaddrinfo.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, socket.gaierror):
            return current.strerror or str(current)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text:
        return "connection refused (is the server running?)"
    return text
