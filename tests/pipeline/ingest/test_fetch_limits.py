"""A fetch is bounded as a whole and cannot be steered inside the network by a redirect."""

from __future__ import annotations

import pytest

from pipeline.ingest.fetch import Fetcher, FetchError
from pipeline.ingest.network import Reach, address_class, system_resolver
from tests.support import FeedServer

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"


def _fetcher(**kw: object) -> Fetcher:
    options: dict[str, object] = {
        "user_agent": "test",
        "connect_timeout": 1.0,
        "read_timeout": 0.5,
        "max_bytes": 1_000_000,
        "max_redirects": 3,
        "max_retries": 0,
        "max_retry_after": 0,
    }
    options.update(kw)
    return Fetcher(**options)  # type: ignore[arg-type]


def _error(fetcher: Fetcher, url: str) -> str:
    with fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("what", ["status line and headers", "body"])
def test_a_dripping_server_is_cut_off_by_the_overall_deadline(
    feed_server: FeedServer, what: str
) -> None:
    """Each byte arrives well within the read timeout; the whole answer never does."""
    feed_server.route("/drip", FEED * 20, drip=0.1, drip_head=what != "body")
    message = _error(_fetcher(total_timeout=1.0), feed_server.url("/drip"))
    assert message == (
        f"gave up on {feed_server.url('/drip')} after 1 s: "
        "the server is sending too slowly (overall fetch deadline)"
    )


def test_the_default_deadline_is_the_connect_and_read_budgets_together() -> None:
    assert _fetcher(connect_timeout=5, read_timeout=20).total_timeout == 25


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("http://2852039166/", "link-local"),  # 169.254.169.254 as one decimal number
        ("http://0251.0376.0251.0376/", "Invalid IPv4"),  # octal: httpx refuses to parse it
        ("http://[::ffff:169.254.169.254]/", "link-local"),  # IPv6-mapped
        ("http://10.0.0.7:8080/admin", "private"),
        ("http://0x0a000007/", "private"),  # 10.0.0.7 in hex
        ("http://192.168.1.1/", "private"),
        ("http://[fd00::1]/", "private"),
        ("http://224.0.0.251/", "multicast"),
        ("http://0.0.0.0/", "reserved"),
    ],
)
def test_a_redirect_into_another_network_range_is_refused(
    feed_server: FeedServer, target: str, kind: str
) -> None:
    feed_server.route("/feed", status=302, headers={"Location": target})
    message = _error(_fetcher(), feed_server.url("/feed"))
    if kind.startswith("Invalid"):
        assert kind in message
    else:
        assert message.startswith("refusing to connect to ") and f"a {kind} address" in message
    assert [r.path for r in feed_server.requests] == ["/feed"]  # nothing else was fetched


def test_a_name_that_resolves_inside_is_refused_as_its_address(feed_server: FeedServer) -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["10.20.30.40"] if host == "intranet.example" else system_resolver(host, port)

    feed_server.route("/feed", status=301, headers={"Location": "http://intranet.example/"})
    message = _error(_fetcher(resolver=resolver), feed_server.url("/feed"))
    assert message.startswith("refusing to connect to intranet.example (10.20.30.40")


def test_a_hop_within_the_sources_own_range_is_allowed(feed_server: FeedServer) -> None:
    """A feed on 127.0.0.1 (a test server, an intranet feed) may redirect within loopback."""
    feed_server.route("/old", status=301, headers={"Location": feed_server.url("/new")})
    feed_server.route("/new", FEED, content_type="application/rss+xml")
    with _fetcher() as fetcher:
        assert fetcher.fetch(feed_server.url("/old")).body == FEED


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        (["93.184.216.34"], "127.0.0.1", False),  # a public feed may not reach loopback
        (["93.184.216.34"], "169.254.169.254", False),
        (["93.184.216.34"], "::ffff:10.0.0.1", False),
        (["93.184.216.34"], "64:ff9b::a00:1", False),  # 10.0.0.1 through NAT64
        (["93.184.216.34"], "151.101.1.69", True),  # public to public is fine
        (["10.0.0.5"], "10.9.9.9", True),  # an intranet feed stays in its network
        (["10.0.0.5"], "127.0.0.1", False),  # but not into loopback
        (["127.0.0.1"], "127.0.0.1", True),
    ],
)
def test_which_hops_a_source_may_make(source: list[str], target: str, allowed: bool) -> None:
    reach = Reach.of_source(source)
    if allowed:
        reach.check("host", target)
    else:
        with pytest.raises(Exception, match=f"a {address_class(target)} address"):
            reach.check("host", target)
