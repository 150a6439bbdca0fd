"""pipeline.ingest.fetch against a real HTTP server on 127.0.0.1: every limit and every refusal."""

from __future__ import annotations

import dataclasses
import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from pipeline.ingest.fetch import Fetcher, FetchError
from pipeline.settings import load_settings
from pipeline.wiring import Wiring
from tests.support import FeedServer, Reply, unused_port

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
ETAG = '"v1"'
LAST_MODIFIED = "Tue, 02 Jan 2024 10:00:00 GMT"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as feed_server:
        yield feed_server
    assert feed_server.errors == [], "the test server itself crashed"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_fetcher(sleeps: list[float]) -> Iterator[Any]:
    """Small limits so the suite stays fast; waits are recorded, never slept."""
    made: list[Fetcher] = []

    def make(**overrides: Any) -> Fetcher:
        options: dict[str, Any] = {
            "user_agent": "Paperround-test/1.0",
            "connect_timeout": 0.5,
            "read_timeout": 0.5,
            "max_bytes": 10_000,
            "max_redirects": 3,
            "max_retries": 2,
            "max_retry_after": 30.0,
            "sleep": sleeps.append,
        }
        options.update(overrides)
        fetcher = Fetcher(**options)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


def fetch_error(fetcher: Fetcher, url: str, **kw: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url, **kw)
    message = str(caught.value)
    assert "\n" not in message and message.strip() == message, message
    return caught.value


# -- plain GET and headers ------------------------------------------------------------------


def test_get_returns_body_and_metadata(server, make_fetcher):
    server.route(
        "/feed", FEED, content_type="application/rss+xml", etag=ETAG, last_modified=LAST_MODIFIED
    )
    result = make_fetcher().fetch(server.url("/feed"))
    assert result.body == FEED
    assert result.not_modified is False
    assert result.status_code == 200
    assert result.content_type == "application/rss+xml"
    assert (result.etag, result.last_modified) == (ETAG, LAST_MODIFIED)
    assert result.final_url == server.url("/feed")


def test_user_agent_and_accept_headers_are_sent(server, make_fetcher):
    server.route("/feed", FEED)
    make_fetcher(user_agent="Paperround/9 (+https://example.invalid)").fetch(server.url("/feed"))
    [request] = server.requests
    assert request.header("User-Agent") == "Paperround/9 (+https://example.invalid)"
    accept = request.header("Accept") or ""
    assert "application/atom+xml" in accept and "application/rss+xml" in accept
    assert request.header("Accept-Encoding") == "gzip, deflate"


def test_wiring_uses_the_configured_user_agent(server):
    server.route("/feed", FEED)
    settings = dataclasses.replace(load_settings({}), user_agent="FromSettings/1")
    with Wiring(settings).fetcher() as fetcher:
        assert fetcher.fetch(server.url("/feed")).body == FEED
    assert server.requests[0].header("User-Agent") == "FromSettings/1"


def test_cookies_from_one_source_never_reach_another(server, make_fetcher):
    server.route("/a", FEED, headers={"Set-Cookie": "session=abc; Path=/"})
    server.route("/b", FEED)
    fetcher = make_fetcher()
    fetcher.fetch(server.url("/a"))
    fetcher.fetch(server.url("/b"))
    assert server.requests_to("/b")[0].header("Cookie") is None


# -- conditional GET ------------------------------------------------------------------------


def test_etag_and_last_modified_are_sent(server, make_fetcher):
    server.route("/feed", FEED)
    make_fetcher().fetch(server.url("/feed"), etag=ETAG, last_modified=LAST_MODIFIED)
    [request] = server.requests
    assert request.header("If-None-Match") == ETAG
    assert request.header("If-Modified-Since") == LAST_MODIFIED


def test_no_conditional_headers_without_validators(server, make_fetcher):
    server.route("/feed", FEED)
    make_fetcher().fetch(server.url("/feed"))
    assert server.requests[0].header("If-None-Match") is None
    assert server.requests[0].header("If-Modified-Since") is None


def test_304_round_trip(server, make_fetcher):
    server.route("/feed", FEED, etag=ETAG, last_modified=LAST_MODIFIED)
    fetcher = make_fetcher()
    first = fetcher.fetch(server.url("/feed"))
    second = fetcher.fetch(server.url("/feed"), etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified is True
    assert second.status_code == 304
    assert second.body == b""
    assert (second.etag, second.last_modified) == (ETAG, LAST_MODIFIED)


def test_if_modified_since_alone_gives_304(server, make_fetcher):
    server.route("/feed", FEED, last_modified=LAST_MODIFIED)
    result = make_fetcher().fetch(server.url("/feed"), last_modified=LAST_MODIFIED)
    assert result.not_modified is True


def test_304_without_validators_keeps_the_previous_ones(server, make_fetcher):
    server.route("/feed", status=304)
    result = make_fetcher().fetch(server.url("/feed"), etag=ETAG, last_modified=LAST_MODIFIED)
    assert result.not_modified is True
    assert (result.etag, result.last_modified) == (ETAG, LAST_MODIFIED)


# -- redirects ------------------------------------------------------------------------------


def test_redirect_chain_within_the_bound(server, make_fetcher):
    server.route("/a", status=301, headers={"Location": "/b"})
    server.route("/b", status=302, headers={"Location": "c"})  # relative to /b
    server.route("/c", status=308, headers={"Location": server.url("/feed")})
    server.route("/feed", FEED)
    result = make_fetcher(max_redirects=3).fetch(server.url("/a"))
    assert result.body == FEED
    assert result.final_url == server.url("/feed")
    assert [r.path for r in server.requests] == ["/a", "/b", "/c", "/feed"]


def test_redirect_chain_over_the_bound(server, make_fetcher):
    for hop in range(4):
        server.route(f"/{hop}", status=302, headers={"Location": f"/{hop + 1}"})
    server.route("/4", FEED)
    error = fetch_error(make_fetcher(max_redirects=3), server.url("/0"))
    assert str(error).startswith("too many redirects (>3)")
    assert len(server.requests) == 4


def test_redirect_loop_is_named(server, make_fetcher):
    server.route("/a", status=302, headers={"Location": "/b"})
    server.route("/b", status=302, headers={"Location": "/a"})
    error = fetch_error(make_fetcher(max_redirects=10), server.url("/a"))
    assert str(error) == (
        f"redirect loop: {server.url('/a')} -> {server.url('/b')} -> {server.url('/a')}"
    )


def test_redirect_to_file_url_is_refused(server, make_fetcher):
    server.route("/feed", status=302, headers={"Location": "file:///etc/passwd"})
    error = fetch_error(make_fetcher(), server.url("/feed"))
    assert str(error) == (
        f"refusing redirect from {server.url('/feed')} to non-http(s) URL file:///etc/passwd"
    )


def test_redirect_without_location_is_an_error(server, make_fetcher):
    server.route("/feed", status=302)
    error = fetch_error(make_fetcher(), server.url("/feed"))
    assert "redirect without a Location" in str(error)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/feed", "data:,hello", "127.0.0.1/feed"]
)
def test_non_http_url_is_refused(make_fetcher, url):
    error = fetch_error(make_fetcher(), url)
    assert str(error) == f"refusing non-http(s) URL {url}"


# -- size cap -------------------------------------------------------------------------------


def test_size_cap_by_content_length(server, make_fetcher):
    server.route("/feed", b"x" * 5_000)
    error = fetch_error(make_fetcher(max_bytes=1_000), server.url("/feed"))
    assert str(error) == (
        f"body from {server.url('/feed')} exceeds the 1,000-byte cap (Content-Length 5,000)"
    )


def test_size_cap_while_streaming_without_content_length(server, make_fetcher):
    server.route("/feed", b"x" * 5_000, chunked=True)
    error = fetch_error(make_fetcher(max_bytes=1_000), server.url("/feed"))
    assert str(error) == (
        f"body from {server.url('/feed')} exceeds the 1,000-byte cap (stopped reading)"
    )
    assert server.requests[0].path == "/feed"


def test_body_exactly_at_the_cap_is_accepted(server, make_fetcher):
    server.route("/feed", b"x" * 1_000, chunked=True)
    assert len(make_fetcher(max_bytes=1_000).fetch(server.url("/feed")).body) == 1_000


def test_gzip_body_is_decoded(server, make_fetcher):
    server.route("/feed", FEED * 50, gzip=True)
    assert make_fetcher().fetch(server.url("/feed")).body == FEED * 50


def test_gzip_bomb_stops_at_the_cap_without_inflating(server, make_fetcher):
    inflated_size = 64 * 1024 * 1024
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    bomb = b"".join(packer.compress(zeros) for _ in range(inflated_size // len(zeros)))
    bomb += packer.flush()
    assert len(bomb) < 100_000  # ~1000:1: a naive decoder inflates each 64 KiB read to ~64 MB
    server.route("/feed", bomb, headers={"Content-Encoding": "gzip"})
    fetcher = make_fetcher(max_bytes=1_000_000)
    tracemalloc.start()
    try:
        error = fetch_error(fetcher, server.url("/feed"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "exceeds the 1,000,000-byte cap (stopped inflating gzip)" in str(error)
    assert peak < 8_000_000, f"peak {peak:,} bytes: the bomb was inflated past the cap"


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_body_is_decoded_zlib_or_raw(server, make_fetcher, wbits):
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = packer.compress(FEED) + packer.flush()
    server.route("/feed", body, headers={"Content-Encoding": "deflate"})
    assert make_fetcher().fetch(server.url("/feed")).body == FEED


def test_multi_member_gzip_is_decoded_whole(server, make_fetcher):
    body = gzip.compress(b"one ") + gzip.compress(b"two")
    server.route("/feed", body, headers={"Content-Encoding": "gzip"})
    assert make_fetcher().fetch(server.url("/feed")).body == b"one two"


def test_truncated_gzip_is_an_error(server, make_fetcher):
    server.route("/feed", gzip.compress(FEED * 20)[:-30], headers={"Content-Encoding": "gzip"})
    error = fetch_error(make_fetcher(), server.url("/feed"))
    assert str(error) == f"truncated gzip body from {server.url('/feed')}"


def test_unrequested_content_encoding_is_refused(server, make_fetcher):
    server.route("/feed", b"\x00\x01", headers={"Content-Encoding": "br"})
    error = fetch_error(make_fetcher(), server.url("/feed"))
    assert str(error).startswith("unsupported Content-Encoding 'br'")


# -- retries --------------------------------------------------------------------------------


def test_429_with_retry_after_seconds_waits_then_succeeds(server, make_fetcher, sleeps):
    server.route(
        "/feed",
        responses=[Reply(status=429, headers={"Retry-After": "7"}), Reply(FEED)],
    )
    assert make_fetcher().fetch(server.url("/feed")).body == FEED
    assert sleeps == [7.0]
    assert len(server.requests) == 2


def test_429_with_retry_after_http_date(server, make_fetcher, sleeps):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    server.route("/feed", responses=[Reply(status=429, headers={"Retry-After": when}), Reply(FEED)])
    assert make_fetcher().fetch(server.url("/feed")).body == FEED
    [wait] = sleeps
    assert 8.0 <= wait <= 10.0


def test_retry_after_longer_than_we_wait_is_an_error_carrying_it(server, make_fetcher, sleeps):
    server.route("/feed", status=429, headers={"Retry-After": "120"})
    error = fetch_error(make_fetcher(max_retry_after=30), server.url("/feed"))
    assert str(error) == (
        f"HTTP 429 Too Many Requests from {server.url('/feed')}: "
        "retry after 120 s (longer than the 30 s we wait)"
    )
    assert error.retry_after == 120.0
    assert sleeps == []
    assert len(server.requests) == 1


def test_503_is_retried_then_succeeds(server, make_fetcher, sleeps):
    server.route(
        "/feed",
        responses=[Reply(status=503, headers={"Retry-After": "2"}), Reply(FEED)],
    )
    assert make_fetcher().fetch(server.url("/feed")).body == FEED
    assert sleeps == [2.0]


def test_retries_give_up_after_max_retries(server, make_fetcher, sleeps):
    server.route("/feed", status=503, headers={"Retry-After": "1"})
    error = fetch_error(make_fetcher(max_retries=2), server.url("/feed"))
    assert str(error) == (
        f"HTTP 503 Service Unavailable from {server.url('/feed')} (still failing after 2 retries)"
    )
    assert error.retry_after == 1.0
    assert sleeps == [1.0, 1.0]
    assert len(server.requests) == 3


def test_502_and_504_back_off_exponentially(server, make_fetcher, sleeps):
    server.route("/feed", responses=[Reply(status=502), Reply(status=504), Reply(FEED)])
    assert make_fetcher(max_retries=2).fetch(server.url("/feed")).body == FEED
    assert sleeps == [0.5, 1.0]


def test_dropped_connection_is_retried(server, make_fetcher, sleeps):
    server.route("/feed", responses=[Reply(drop=True), Reply(FEED)])
    assert make_fetcher().fetch(server.url("/feed")).body == FEED
    assert sleeps == [0.5]
    assert len(server.requests) == 2


def test_untrusted_reason_phrase_is_not_echoed(server, make_fetcher):
    server.route("/feed", responses=[Reply(status=418, reason="Buy cheap pills at evil.example")])
    error = fetch_error(make_fetcher(), server.url("/feed"))
    assert str(error) == f"HTTP 418 I'm a teapot from {server.url('/feed')} (the server refused it)"


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (404, "check the URL"),
        (410, "the feed is gone"),
        (400, "the server refused it"),
        (500, "a server error"),
    ],
)
def test_other_errors_are_not_retried(server, make_fetcher, sleeps, status, advice):
    server.route("/feed", b"nope", status=status)
    error = fetch_error(make_fetcher(), server.url("/feed"))
    assert str(error).startswith(f"HTTP {status} ")
    assert advice in str(error)
    assert sleeps == []
    assert len(server.requests) == 1


def test_404_message(server, make_fetcher):
    error = fetch_error(make_fetcher(), server.url("/missing"))
    assert str(error) == f"HTTP 404 Not Found from {server.url('/missing')} (check the URL)"
    assert error.retry_after is None


def test_password_in_url_is_never_shown(server, make_fetcher):
    url = server.url("/missing").replace("http://", "http://reader:s3cret@")
    error = fetch_error(make_fetcher(), url)
    assert "s3cret" not in str(error)
    assert "reader:***@" in str(error)


# -- network failures and timeouts ----------------------------------------------------------


def test_connection_refused_is_retried_then_one_line(make_fetcher, sleeps):
    port = unused_port()
    error = fetch_error(make_fetcher(max_retries=2), f"http://127.0.0.1:{port}/feed")
    assert str(error) == (
        f"cannot connect to 127.0.0.1:{port}: connection refused (is the server running?) "
        "(still failing after 2 retries)"
    )
    assert sleeps == [0.5, 1.0]


def test_connect_timeout(make_fetcher):
    # A listener whose accept queue is full: Linux drops further SYNs, so connect() hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            time.sleep(0.05)
            error = fetch_error(
                make_fetcher(connect_timeout=0.3, max_retries=0), f"http://127.0.0.1:{port}/"
            )
        finally:
            for filler in fillers:
                filler.close()
    assert str(error).startswith(f"timed out after 0.3 s connecting to 127.0.0.1:{port}")


def test_read_timeout(server, make_fetcher):
    server.route("/feed", FEED, delay=2.0)
    error = fetch_error(make_fetcher(read_timeout=0.3), server.url("/feed"))
    host = server.base_url.removeprefix("http://")
    assert str(error) == f"timed out after 0.3 s waiting for data from {host}"


def test_slow_drip_is_cut_by_the_overall_deadline(server, make_fetcher):
    server.route("/feed", FEED * 10, drip=0.05)  # every byte in time, the whole body never
    error = fetch_error(make_fetcher(read_timeout=0.3, total_timeout=1.0), server.url("/feed"))
    assert str(error) == (
        f"gave up on {server.url('/feed')} after 1 s: "
        "the server is sending too slowly (overall fetch deadline)"
    )
