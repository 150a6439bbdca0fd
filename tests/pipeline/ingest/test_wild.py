"""Sources as they behave in the wild, end to end over loopback HTTP: catch-up after downtime,
later snapshots, replacements, backoff, politeness, a site's own id pattern, the User-Agent."""

from __future__ import annotations

import itertools
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pipeline.ingest.catalog import CatalogError, SourceSpec, add_source, sources_to_fetch
from pipeline.ingest.fetch import Fetcher
from pipeline.ingest.politeness import MemoryTurns, RedisTurns
from pipeline.ingest.run import backoff, ingest_source
from pipeline.store.db import write_transaction
from pipeline.store.models import Paper, Source
from pipeline.store.status import SourceStatus
from pipeline.wiring import Wiring
from tests.conftest import FIXTURES, REDIS_PREFIX, Store
from tests.support import FeedServer
from tests.support.feedserver import Reply
from tests.support.world import settings_for

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _fetcher(**overrides: Any) -> Fetcher:
    options: dict[str, Any] = {
        "user_agent": "paperround-tests",
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "max_bytes": 5_000_000,
        "max_redirects": 3,
        "max_retries": 0,
        "max_retry_after": 0.0,
    }
    options.update(overrides)
    return Fetcher(**options)


def _add(store: Store, name: str, url: str, kind: str, **columns: Any) -> Source:
    with write_transaction(store.sessions) as session:
        source = add_source(session, SourceSpec(name=name, url=url, kind=kind))
        for column, value in columns.items():
            setattr(source, column, value)
        session.flush()
        session.expunge(source)
        return source


def _reload(store: Store, name: str) -> Source:
    with store.sessions() as session:
        source = session.scalar(select(Source).where(Source.name == name))
        assert source is not None
        session.expunge(source)
        return source


def _papers(store: Store) -> dict[str, Paper]:
    with store.sessions() as session:
        return {p.key: p for p in session.scalars(select(Paper))}


def _hf_day(*papers: tuple[str, int]) -> bytes:
    """A Hugging Face daily page holding (arXiv id, upvotes) papers."""
    return json.dumps(
        [
            {
                "paper": {
                    "id": arxiv_id,
                    "title": f"Paper {arxiv_id} on routing experts",
                    "summary": "An abstract.",
                    "upvotes": upvotes,
                    "publishedAt": "2026-11-15T17:00:00.000Z",
                    "ai_summary": f"TL;DR of {arxiv_id}.",
                },
                "numComments": 1,
            }
            for arxiv_id, upvotes in papers
        ]
    ).encode()


# --- Hugging Face: catch-up and later snapshots ------------------------------------------


def test_a_source_down_for_three_days_fetches_each_missed_day(
    store: Store, feed_server: FeedServer
) -> None:
    days = {NOW.date() - timedelta(days=n): f"2611.0000{n}" for n in (3, 2, 1)}
    for day, arxiv_id in days.items():
        feed_server.route(f"/api/daily_papers?date={day}", _hf_day((arxiv_id, 10)))
    feed_server.route("/api/daily_papers", _hf_day(("2611.00009", 1)))
    source = _add(
        store,
        "hf",
        feed_server.url("/api/daily_papers"),
        "hf-daily",
        last_ok_at=NOW - timedelta(days=3),
    )
    with _fetcher() as fetcher:
        outcome = ingest_source(store.sessions, source, fetcher, NOW, catch_up_days=3)
    assert outcome.status == SourceStatus.OK, outcome.error
    assert outcome.new == 4
    asked = [r.path for r in feed_server.requests]
    assert asked == [
        *(f"/api/daily_papers?date={day}" for day in sorted(days)),
        "/api/daily_papers",
    ]  # oldest first, today last
    assert set(_papers(store)) == {f"arxiv:{a}" for a in [*days.values(), "2611.00009"]}


def test_catching_up_is_bounded(store: Store, feed_server: FeedServer) -> None:
    feed_server.route("/daily", _hf_day(("2611.00009", 1)))
    source = _add(
        store, "hf", feed_server.url("/daily"), "hf-daily", last_ok_at=NOW - timedelta(days=40)
    )
    with _fetcher() as fetcher:
        ingest_source(store.sessions, source, fetcher, NOW, catch_up_days=2)
    dated = sorted(r.path for r in feed_server.requests if "date=" in r.path)
    yesterday, before = NOW.date() - timedelta(days=1), NOW.date() - timedelta(days=2)
    assert dated == [f"/daily?date={before}", f"/daily?date={yesterday}"]


def test_no_catch_up_without_a_last_good_fetch_or_when_off(
    store: Store, feed_server: FeedServer
) -> None:
    feed_server.route("/daily", _hf_day(("2611.00009", 1)))
    fresh = _add(store, "fresh", feed_server.url("/daily"), "hf-daily")
    off = _add(
        store, "off", feed_server.url("/daily"), "hf-daily", last_ok_at=NOW - timedelta(days=2)
    )
    with _fetcher() as fetcher:
        ingest_source(store.sessions, fresh, fetcher, NOW, catch_up_days=3)
        ingest_source(store.sessions, off, fetcher, NOW, catch_up_days=0)
    assert [r.path for r in feed_server.requests] == ["/daily", "/daily"]


def test_a_failed_past_day_costs_that_day_only(store: Store, feed_server: FeedServer) -> None:
    yesterday = NOW.date() - timedelta(days=1)
    feed_server.route(f"/daily?date={yesterday}", b"oops", status=404)
    feed_server.route("/daily", _hf_day(("2611.00009", 1)))
    source = _add(
        store, "hf", feed_server.url("/daily"), "hf-daily", last_ok_at=NOW - timedelta(days=1)
    )
    with _fetcher() as fetcher:
        outcome = ingest_source(store.sessions, source, fetcher, NOW, catch_up_days=3)
    assert outcome.status == SourceStatus.OK and outcome.new == 1
    assert outcome.skipped == 1
    (reason,) = outcome.skip_reasons
    assert reason.startswith("catching up failed: HTTP") and "Not Found" in reason


def test_the_same_day_fetched_again_later_updates_upvotes_and_adds_papers(
    store: Store, feed_server: FeedServer
) -> None:
    morning = _hf_day(("2611.00001", 3), ("2611.00002", 8))
    evening = _hf_day(("2611.00001", 40), ("2611.00002", 6), ("2611.00003", 12))
    feed_server.route("/daily", responses=[Reply(body=morning), Reply(body=evening)])
    source = _add(store, "hf", feed_server.url("/daily"), "hf-daily")
    with _fetcher() as fetcher:
        first = ingest_source(store.sessions, source, fetcher, NOW)
        second = ingest_source(store.sessions, source, fetcher, NOW + timedelta(hours=9))
    assert (first.new, second.new, second.updated) == (2, 1, 2)
    upvotes = {k: p.upvotes for k, p in _papers(store).items()}
    # later snapshots win, also when a count went down (a vote taken back)
    assert upvotes == {"arxiv:2611.00001": 40, "arxiv:2611.00002": 6, "arxiv:2611.00003": 12}
    assert _papers(store)["arxiv:2611.00003"].summary == "TL;DR of 2611.00003."


# --- arXiv replacements ------------------------------------------------------------------


def _rss(*items: tuple[str, str, int]) -> bytes:
    """An arXiv RSS 2024 listing of cs.LG with (id, announce type, version) items."""
    body = "".join(
        f"<item><title>Title of {arxiv_id} version {version}</title>"
        f"<link>https://arxiv.org/abs/{arxiv_id}</link>"
        f"<description>arXiv:{arxiv_id}v{version} Announce Type: {kind} \nAbstract: Text "
        f'v{version}.</description><guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v{version}'
        f"</guid><category>math.ST</category><arxiv:announce_type>{kind}</arxiv:announce_type>"
        f"<dc:creator>Ann Author</dc:creator></item>"
        for arxiv_id, kind, version in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>cs.LG updates on arXiv.org'
        f"</title><link>http://rss.arxiv.org/rss/cs.LG</link>{body}</channel></rss>"
    ).encode()


def test_replacements_update_known_papers_and_list_nothing_new(
    store: Store, feed_server: FeedServer
) -> None:
    day_one = _rss(("2611.00001", "new", 1), ("2611.00002", "cross", 1))
    day_two = _rss(("2611.00001", "replace", 2), ("2407.00500", "replace-cross", 3))
    feed_server.route("/rss/cs.LG", responses=[Reply(body=day_one), Reply(body=day_two)])
    source = _add(store, "cs-lg", feed_server.url("/rss/cs.LG"), "arxiv-rss")
    later = NOW + timedelta(days=1)
    with _fetcher() as fetcher:
        ingest_source(store.sessions, source, fetcher, NOW)
        ingest_source(store.sessions, source, fetcher, later)
    papers = _papers(store)
    known = papers["arxiv:2611.00001"]
    assert (known.version, known.title) == (2, "Title of 2611.00001 version 2")
    assert known.listed_at == NOW  # updated, still the paper listed on day one
    old = papers["arxiv:2407.00500"]
    assert old.listed_at is None  # a new version of an old paper is nobody's news
    # cross-lists belong to the listing they were cross-listed into
    assert "cs.LG" in papers["arxiv:2611.00002"].categories
    assert "cs.LG" in old.categories


# --- backoff -----------------------------------------------------------------------------


def test_backoff_doubles_per_failure_and_honors_retry_after() -> None:
    assert backoff(1, 60, None) == timedelta(hours=1)
    assert backoff(2, 60, None) == timedelta(hours=2)
    assert backoff(4, 60, None) == timedelta(hours=8)
    assert backoff(30, 60, None) == timedelta(days=1)  # capped
    assert backoff(1, 60, 7200) == timedelta(hours=2)  # the server asked for longer
    assert backoff(1, 60, 10**9) == timedelta(days=1)  # but not for years
    assert backoff(3, 60 * 48, None) == timedelta(hours=48)  # never sooner than the interval


def test_a_429_with_retry_after_holds_the_source_back(
    store: Store, feed_server: FeedServer
) -> None:
    feed_server.route(
        "/feed",
        responses=[
            Reply(status=429, headers={"Retry-After": "7200"}),
            Reply(status=503),
            Reply(body=_rss(("2611.00001", "new", 1))),
        ],
    )
    source = _add(store, "busy", feed_server.url("/feed"), "arxiv-rss")
    with _fetcher() as fetcher:
        outcome = ingest_source(store.sessions, source, fetcher, NOW)
        assert outcome.status == SourceStatus.FAILED and "429" in (outcome.error or "")
        held = _reload(store, "busy")
        assert (held.failures, held.next_fetch_at) == (1, NOW + timedelta(hours=2))
        with store.sessions() as session:
            assert held.id not in sources_to_fetch(session, NOW + timedelta(hours=1, minutes=59))
            assert held.id in sources_to_fetch(session, NOW + timedelta(hours=2))
        ingest_source(store.sessions, held, fetcher, NOW + timedelta(hours=2))
        again = _reload(store, "busy")
        assert (again.failures, again.next_fetch_at) == (2, NOW + timedelta(hours=4))
        ok = ingest_source(store.sessions, again, fetcher, NOW + timedelta(hours=4))
    assert ok.status == SourceStatus.OK
    recovered = _reload(store, "busy")
    assert (recovered.failures, recovered.next_fetch_at) == (0, None)


# --- politeness --------------------------------------------------------------------------


def test_memory_turns_space_requests_one_interval_apart() -> None:
    clock = [100.0]
    turns = MemoryTurns(clock=lambda: clock[0])
    assert [turns.reserve("export.arxiv.org", 3) for _ in range(3)] == [0.0, 3.0, 6.0]
    assert turns.reserve("huggingface.co", 1) == 0.0  # each host has its own turns
    clock[0] = 110.0
    assert turns.reserve("export.arxiv.org", 3) == 0.0  # idle long enough: no wait


def test_the_fetcher_waits_for_its_turn_on_a_polite_host(feed_server: FeedServer) -> None:
    feed_server.route("/feed", b"x")
    slept: list[float] = []
    with _fetcher(host_intervals={"127.0.0.1": 30.0}, sleep=slept.append) as fetcher:
        fetcher.fetch(feed_server.url("/feed"))
        fetcher.fetch(feed_server.url("/feed"))  # the deadline moves with the wait
    assert len(slept) == 1 and 29.0 < slept[0] <= 30.0
    with _fetcher(sleep=slept.append) as impolite_free:
        impolite_free.fetch(feed_server.url("/feed"))
        impolite_free.fetch(feed_server.url("/feed"))
    assert len(slept) == 1  # hosts without an interval are not held back


def test_turns_in_redis_are_shared_by_every_worker(redis_url: str) -> None:
    prefix = f"{REDIS_PREFIX}turn:"
    first, second = RedisTurns(redis_url, prefix), RedisTurns(redis_url, prefix)
    try:
        assert first.reserve("export.arxiv.org", 3) == 0.0
        wait = second.reserve("export.arxiv.org", 3)  # another process, same host
        assert 2.5 < wait <= 3.0
        assert 5.5 < first.reserve("export.arxiv.org", 3) <= 6.0
        assert second.reserve("rss.arxiv.org", 3) == 0.0
    finally:
        first.close()
        second.close()


def test_turns_fall_back_to_the_process_when_redis_is_down() -> None:
    turns = RedisTurns("redis://127.0.0.1:1/0", "x:")
    assert turns.reserve("export.arxiv.org", 3) == 0.0
    assert turns.reserve("export.arxiv.org", 3) == pytest.approx(3.0, abs=0.5)


def test_concurrent_fetches_of_one_host_take_turns(feed_server: FeedServer) -> None:
    feed_server.route("/feed", b"x")
    turns = MemoryTurns()
    started: list[float] = []

    def fetch() -> None:
        with _fetcher(host_intervals={"127.0.0.1": 0.3}, turns=turns) as fetcher:
            fetcher.fetch(feed_server.url("/feed"))
            started.append(time.monotonic())

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started.sort()
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert all(gap > 0.2 for gap in gaps), gaps


# --- identity of this instance -----------------------------------------------------------


def test_feeds_see_who_runs_this_instance(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.route("/feed", b"x")
    settings = settings_for(tmp_path, "", contact_address="ops@lab.example.org")
    with Wiring(settings).fetcher() as fetcher:
        fetcher.fetch(feed_server.url("/feed"))
    agent = feed_server.requests[-1].header("User-Agent") or ""
    assert agent.startswith("Paperround/")
    assert "+https://papers.example.org" in agent and "mailto:ops@lab.example.org" in agent
    own = settings_for(tmp_path, "", user_agent="LabBot/2 (+https://lab.example.org)")
    with Wiring(own).fetcher() as fetcher:
        fetcher.fetch(feed_server.url("/feed"))
    assert feed_server.requests[-1].header("User-Agent") == "LabBot/2 (+https://lab.example.org)"


# --- a site's own id pattern -------------------------------------------------------------


def _reader_feed() -> bytes:
    items = "".join(
        f"<item><title>Paper {n} read closely</title>"
        f"<link>https://reader.example.net/read/{n}?paper=2611.0000{n}v2</link>"
        f"<guid>https://reader.example.net/read/{n}</guid></item>"
        for n in (1, 2)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Reader</title>{items}'
        "</channel></rss>"
    ).encode()


def test_a_sources_id_pattern_maps_its_pages_to_arxiv_papers(
    store: Store, feed_server: FeedServer
) -> None:
    feed_server.route("/reader.xml", _reader_feed(), content_type="application/rss+xml")
    with write_transaction(store.sessions) as session:
        add_source(
            session,
            SourceSpec(
                "reader",
                feed_server.url("/reader.xml"),
                "feed",
                id_pattern=r"reader\.example\.net/read/\d+\?paper=(?P<id>[\w.]+)",
            ),
        )
    source = _reload(store, "reader")
    with _fetcher() as fetcher:
        outcome = ingest_source(store.sessions, source, fetcher, NOW)
    assert outcome.status == SourceStatus.OK, outcome.error
    papers = _papers(store)
    assert set(papers) == {"arxiv:2611.00001", "arxiv:2611.00002"}
    assert papers["arxiv:2611.00001"].version == 2
    assert papers["arxiv:2611.00001"].links["abs"] == "https://arxiv.org/abs/2611.00001"


@pytest.mark.parametrize(
    ("pattern", "complaint"),
    [("reader/(?P<id>", "not a regular expression"), (r"reader/(\d+)", "group named id")],
)
def test_a_bad_id_pattern_is_refused_when_added(store: Store, pattern: str, complaint: str) -> None:
    with write_transaction(store.sessions) as session, pytest.raises(CatalogError, match=complaint):
        add_source(
            session, SourceSpec("reader", "https://reader.example.net/feed", id_pattern=pattern)
        )


def test_a_stored_bad_pattern_fails_the_source_clearly(
    store: Store, feed_server: FeedServer
) -> None:
    feed_server.route("/reader.xml", _reader_feed(), content_type="application/rss+xml")
    source = _add(
        store, "reader", feed_server.url("/reader.xml"), "feed", options={"id_pattern": "("}
    )
    with _fetcher() as fetcher:
        outcome = ingest_source(store.sessions, source, fetcher, NOW)
    assert outcome.status == SourceStatus.FAILED
    assert "not a regular expression" in (outcome.error or "") and "--id-pattern" in (
        outcome.error or ""
    )
    assert _papers(store) == {}


# --- the golden feeds, stored together ---------------------------------------------------

GOLDEN = FIXTURES / "golden"
TOGETHER = [
    ("cs-lg", "arxiv_rss_cs_lg_2024.xml", "/rss/cs.LG", "application/rss+xml"),
    ("trending", "aggregator_trending.xml", "/trending.xml", "application/rss+xml"),
    ("mirrors", "generic_mirror_links.xml", "/mirrors.xml", "application/atom+xml"),
    ("hf-2024", "hf_daily_2024-05-16.json", "/hf.json", "application/json"),
]


def test_every_feed_at_once_stores_each_paper_once(store: Store, feed_server: FeedServer) -> None:
    for name, fixture, path, content_type in TOGETHER:
        feed_server.route(path, (GOLDEN / fixture).read_bytes(), content_type=content_type)
        _add(store, name, feed_server.url(path), "auto")
    outcomes = {}
    with _fetcher() as fetcher:
        for name, *_ in TOGETHER:
            outcome = ingest_source(store.sessions, _reload(store, name), fetcher, NOW)
            assert outcome.status == SourceStatus.OK, outcome.error
            outcomes[name] = outcome
    # the aggregator repeats papers of the arXiv listing, and the blog post is one of them
    trending = outcomes["trending"]
    assert (trending.new, trending.updated + trending.unchanged) == (0, 7)
    papers = _papers(store)
    arxiv_ids = [p.arxiv_id for p in papers.values() if p.arxiv_id]
    assert len(arxiv_ids) == len(set(arxiv_ids))
    # the lab blog's post without an id is the arXiv paper with its title and authors
    assert not [k for k in papers if "conformal-label-shift" in k]
    with store.sessions() as session:
        carried = session.scalars(
            select(Source.name)
            .join(Source.sightings)
            .join(Paper)
            .where(
                Paper.title_key
                == "conformal prediction under label shift with unlabeled target data"
            )
        ).all()
    assert sorted(carried) == ["cs-lg", "trending"]
