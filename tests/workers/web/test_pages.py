"""Home and archive pages: today's papers, past editions without personal links."""

from __future__ import annotations

import re
from html import unescape

from pipeline.digest.planning import plan_edition
from pipeline.ingest.catalog import SourceSpec, add_source
from pipeline.ingest.fetch import Fetcher
from pipeline.ingest.run import ingest_sources
from pipeline.store.db import write_transaction
from tests.conftest import FIXTURES
from tests.support import FeedServer
from tests.support.world import add_readers, seed_papers
from tests.workers.web.site import Site


def test_home_shows_todays_top_papers_and_the_form(site: Site) -> None:
    empty = site.client().get("/").get_data(as_text=True)
    assert "No papers collected yet today" in empty
    site.app.extensions["paperround"].home_papers = type(
        site.app.extensions["paperround"].home_papers
    )(ttl=0)  # no cache for this test
    seed_papers(site.sessions, n=12)
    body = site.client().get("/").get_data(as_text=True)
    titles = re.findall(r'rel="noopener noreferrer">([^<]+)</a>', body)
    assert titles[:2] == ["Paper number 0 on diffusion", "Paper number 1 on transformers"]
    assert len(titles) == 5
    for label in ('for="email"', 'name="categories"', 'name="cadence"', 'for="keywords"'):
        assert label in body


def test_home_sample_follows_each_ingestion_despite_its_cache(
    site: Site, feed_server: FeedServer
) -> None:
    """The sample is cached for minutes, yet papers from a source fetched a moment after the
    first show at once (`make run` ingests its two default sources one after the other)."""
    feeds = FIXTURES / "feeds"
    feed_server.route(
        "/rss", (feeds / "arxiv_rss.xml").read_bytes(), content_type="application/rss+xml"
    )
    feed_server.route(
        "/hf", (feeds / "hf_daily.json").read_bytes(), content_type="application/json"
    )
    with write_transaction(site.sessions) as session:
        add_source(session, SourceSpec(name="rss", url=feed_server.url("/rss"), kind="arxiv-rss"))
        add_source(session, SourceSpec(name="hf", url=feed_server.url("/hf"), kind="hf-daily"))
    client = site.client()
    fetcher = Fetcher(
        user_agent="paperround-tests",
        connect_timeout=2.0,
        read_timeout=2.0,
        max_bytes=5_000_000,
        max_redirects=3,
        max_retries=0,
        max_retry_after=0.0,
    )
    with fetcher:
        ingest_sources(site.sessions, fetcher, ["rss"])
        after_rss = client.get("/").get_data(as_text=True)
        assert "No papers collected yet today" not in after_rss
        assert "Video World Models" not in after_rss  # an hf-daily paper
        assert client.get("/").get_data(as_text=True) == after_rss  # served from the cache
        ingest_sources(site.sessions, fetcher, ["hf"])
    assert "Video World Models" in client.get("/").get_data(as_text=True)


def test_archive_lists_editions_and_shows_one_without_personal_links(any_site: Site) -> None:
    site = any_site
    seed_papers(site.sessions, n=8)
    add_readers(site.sessions, 3)
    with write_transaction(site.sessions) as session:
        report = plan_edition(session, cadence="daily")
    client = site.client()
    index = client.get("/archive").get_data(as_text=True)
    assert f'href="/archive/{report.edition_id}"' in index and "8 papers" in index
    page = client.get(f"/archive/{report.edition_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for i in range(8):
        assert f"Paper number {i} on" in html
    assert "/unsubscribe/" not in html and "/preferences/" not in html  # no reader's tokens
    assert html.count("<main") == 1 and html.count("<h1") == 1  # a page of the site
    assert "Today's papers" in unescape(html) and 'aria-label="Site"' in html
    assert "PRx" not in html  # no placeholder of the digest message
    csp = page.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert "<script" not in html.lower()
    assert client.get(f"/archive/{report.edition_id}").get_data(as_text=True) == html  # cached
    assert client.get("/archive/999999").status_code == 404
    assert client.get("/archive/abc").status_code == 404
    assert "Manage your subscription" in client.get("/unsubscribe").get_data(as_text=True)


def test_healthz(site: Site) -> None:
    assert site.client().get("/healthz").get_data(as_text=True) == "ok\n"
