"""One bad item costs one item: absurd values are skipped with a reason, the rest is stored.

Served over loopback HTTP and ingested into both engines (PostgreSQL is the strict one: its
integer and VARCHAR columns refuse what SQLite would keep).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.fetch import Fetcher
from pipeline.ingest.persist import store_entries
from pipeline.ingest.run import ingest_sources
from pipeline.store.db import write_transaction
from pipeline.store.models import Paper, Source
from tests.conftest import Store
from tests.support import FeedServer

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _fetcher() -> Fetcher:
    return Fetcher(
        user_agent="test",
        connect_timeout=2,
        read_timeout=2,
        max_bytes=5_000_000,
        max_redirects=2,
        max_retries=0,
        max_retry_after=0,
    )


def _ingest(store: Store, url: str):
    with write_transaction(store.sessions) as session:
        session.add(Source(name="src", kind="auto", url=url))
    with _fetcher() as fetcher:
        [outcome] = ingest_sources(store.sessions, fetcher)
    with store.sessions() as session:
        source = session.scalars(select(Source)).one()
        keys = set(session.scalars(select(Paper.key)))
    return outcome, source, keys


def _hf_item(arxiv_id: str, **paper: object) -> dict[str, object]:
    return {"paper": {"id": arxiv_id, "title": f"Paper {arxiv_id}", **paper}}


def test_absurd_numbers_and_dates_skip_only_their_item(
    store: Store, feed_server: FeedServer
) -> None:
    items = [
        _hf_item("2411.00001", upvotes=12),
        _hf_item("2411.00002", upvotes=10**30),  # beyond 64 bits
        _hf_item("2411.00003", upvotes=2**40, githubStars=5),  # beyond the 32-bit column
        _hf_item("2411.00004", publishedAt="0001-01-01T00:00:00Z"),
        _hf_item("2411.00005", publishedAt="9999-12-31T23:59:59-12:00"),
        _hf_item("2411.00006", publishedAt="2024-05-01T00:00:00Z", githubStars=3),
    ]
    feed_server.route("/hf", json.dumps(items).encode(), content_type="application/json")
    outcome, source, keys = _ingest(store, feed_server.url("/hf"))
    assert outcome.status == "ok" and outcome.new == 2
    assert keys == {"arxiv:2411.00001", "arxiv:2411.00006"}
    assert outcome.skipped == 4
    assert outcome.skip_reasons == {
        "upvotes … out of range": 2,
        "publication date out of range": 1,
        "publication date … out of range": 1,
    }
    assert source.last_counts is not None and source.last_counts["skipped"] == 4
    assert source.last_counts["skip_reasons"] == outcome.skip_reasons


def test_values_longer_than_their_columns_skip_only_their_item(
    store: Store, feed_server: FeedServer
) -> None:
    long_link = "https://blog.example.org/" + "a" * 1900
    long_doi = "10.1234/" + "x" * 400
    feed = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title>
<item><title>Fine</title><link>https://blog.example.org/fine</link></item>
<item><title>Too long a link</title><link>{long_link}</link></item>
<item><title>Too long a DOI</title><link>https://blog.example.org/doi</link>
  <guid isPermaLink="false">doi:{long_doi}</guid></item>
<item><title>Fine too</title><link>https://blog.example.org/fine-too</link></item>
</channel></rss>""".encode()
    feed_server.route("/rss", feed, content_type="application/rss+xml")
    outcome, _source, keys = _ingest(store, feed_server.url("/rss"))
    assert outcome.status == "ok"
    assert keys == {"url:https://blog.example.org/fine", "url:https://blog.example.org/fine-too"}
    assert outcome.skipped == 2
    assert set(outcome.skip_reasons) == {
        "key is … characters, more than the … stored",
        "doi is … characters, more than the … stored",
    }


def test_what_the_database_refuses_costs_one_item_on_both_engines(store: Store) -> None:
    """Past every check before it (here: an entry built by hand), the database's refusal of
    one item is isolated too: the chunk is stored again item by item."""
    entries = [
        PaperEntry(key=f"arxiv:2411.0000{n}", title=f"P{n}", external_id=str(n), upvotes=up)
        for n, up in enumerate([1, 2**70, 3])
    ]
    with write_transaction(store.sessions) as session:
        source = Source(name="hand", kind="feed", url="https://example.org/")
        session.add(source)
        session.flush()
        counts = store_entries(session, source.id, entries, NOW)
    assert counts.new == 2 and [key for key, _ in counts.refused] == ["arxiv:2411.00001"]
    assert counts.refused[0][1].startswith("refused by the database")
    with store.sessions() as session:
        assert set(session.scalars(select(Paper.key))) == {"arxiv:2411.00000", "arxiv:2411.00002"}
