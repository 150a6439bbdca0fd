"""`sources add` test-fetches its URL (and warns, never refuses); `sources enable|disable|set`.
Feeds come from the loopback FeedServer, so the test fetch runs the real fetch/parse path."""

from __future__ import annotations

import json

from tests.conftest import FIXTURES
from tests.support import FeedServer, unused_port
from tests.workers.cli.conftest import Paperround

FEEDS = FIXTURES / "feeds"


def _source(run: Paperround, name: str) -> dict[str, object]:
    rows = json.loads(run("sources", "list", "--json").stdout)
    return next(r for r in rows if r["name"] == name)


def test_add_test_fetches_the_url_and_keeps_the_kind_it_found(
    paperround: Paperround, feed_server: FeedServer
) -> None:
    feed_server.serve_file("/rss", FEEDS / "arxiv_rss.xml", content_type="application/rss+xml")
    added = paperround("sources", "add", "cs-cl", feed_server.url("/rss"))
    assert added.exit_code == 0 and added.stderr == "", added.stderr
    assert "added source cs-cl (arxiv-rss)" in added.stdout
    assert "test fetch: a arxiv-rss feed with" in added.stdout
    row = _source(paperround, "cs-cl")
    assert row["kind"] == "arxiv-rss" and row["last_fetched_at"] is None  # nothing ingested
    assert json.loads(paperround("papers", "list", "--json").stdout) == []


def test_add_warns_without_refusing_when_the_url_gives_no_feed(
    paperround: Paperround, feed_server: FeedServer
) -> None:
    feed_server.route(
        "/page", b"<!doctype html><html><body>hi</body></html>", content_type="text/html"
    )
    page = paperround("sources", "add", "page", feed_server.url("/page"))
    assert page.exit_code == 0
    assert "added source page (auto)" in page.stdout
    [warning] = page.stderr.strip().splitlines()
    assert warning.startswith(f"Warning: the test fetch of {feed_server.url('/page')} gave no feed")
    assert "`paperround ingest page`" in warning
    dead = paperround("sources", "add", "dead", f"http://127.0.0.1:{unused_port()}/feed")
    assert dead.exit_code == 0 and "cannot connect" in dead.stderr
    missing = paperround("sources", "add", "gone", feed_server.url("/nothing-here"))
    assert missing.exit_code == 0 and "404" in missing.stderr
    assert {r["name"] for r in json.loads(paperround("sources", "list", "--json").stdout)} == {
        "page",
        "dead",
        "gone",
    }
    offline = paperround("sources", "add", "later", "https://example.org/feed", "--no-check")
    assert offline.exit_code == 0 and offline.stderr == ""


def test_enable_disable_and_interval(paperround: Paperround) -> None:
    paperround("sources", "add", "s", "https://example.org/feed", "--no-check")
    assert _source(paperround, "s")["interval_minutes"] == 60
    off = paperround("sources", "disable", "s")
    assert off.exit_code == 0 and "disabled source s" in off.stdout
    assert _source(paperround, "s")["enabled"] is False
    assert "DISABLED" in paperround("sources", "list").stdout
    nothing = paperround("ingest", "--json")  # a disabled source is not fetched
    assert nothing.exit_code == 0 and json.loads(nothing.stdout) == []
    assert paperround("sources", "enable", "s").exit_code == 0
    assert _source(paperround, "s")["enabled"] is True
    every = paperround("sources", "set", "s", "--interval", "15")
    assert every.exit_code == 0 and "every 15 minutes" in every.stdout
    assert _source(paperround, "s")["interval_minutes"] == 15
    assert "every 15 min" in paperround("sources", "list").stdout
    zero = paperround("sources", "set", "s", "--interval", "0")
    assert zero.exit_code == 2
    too_long = paperround("sources", "set", "s", "--interval", "20000")
    assert too_long.exit_code == 1 and "interval must be 1 to 10080 minutes" in too_long.stderr
    for command in (["enable", "ghost"], ["disable", "ghost"], ["set", "ghost", "--interval", "5"]):
        unknown = paperround("sources", *command)
        assert unknown.exit_code == 1 and "no source named 'ghost'" in unknown.stderr
