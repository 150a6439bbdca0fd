"""Ingestion end to end: fixture feeds over real HTTP on loopback into SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from pipeline.ingest.catalog import SourceSpec, add_source
from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.fetch import Fetcher
from pipeline.ingest.run import ingest_sources
from pipeline.ranking.ranked import ranked_papers
from pipeline.store.db import write_transaction
from pipeline.store.models import Paper, Source
from tests.conftest import FIXTURES, Store
from tests.support import FeedServer
from tests.support.inert import assert_inert

FEEDS = FIXTURES / "feeds"
GOOD = {
    "arxiv-rss": ("arxiv_rss.xml", "application/rss+xml"),
    "arxiv-atom": ("arxiv_atom.xml", "application/atom+xml"),
    "hf-daily": ("hf_daily.json", "application/json"),
    "feed": ("generic_atom.xml", "application/atom+xml"),
}
BAD = [
    ("malformed.xml", "application/rss+xml", "malformed XML"),
    ("truncated.xml", "application/rss+xml", "malformed XML"),
    ("html_error_page.html", "text/html", "HTML page"),
    ("billion_laughs.xml", "application/xml", "entities"),
    ("xxe.xml", "application/xml", "external"),
    ("wrong_shape.json", "application/json", "expected a JSON list"),
    ("mislabeled_encoding.xml", "application/rss+xml", "UTF-8"),
    ("empty.xml", "application/rss+xml", "empty"),
]


def _fetcher(**overrides: float) -> Fetcher:
    options: dict[str, object] = {
        "user_agent": "paperround-tests",
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "max_bytes": 5_000_000,
        "max_redirects": 3,
        "max_retries": 0,
        "max_retry_after": 0.0,
    }
    options.update(overrides)
    return Fetcher(**options)  # type: ignore[arg-type]


def _serve(server: FeedServer, name: str, content_type: str, **kw: object) -> str:
    server.route("/" + name, (FEEDS / name).read_bytes(), content_type=content_type, **kw)  # type: ignore[arg-type]
    return server.url("/" + name)


def _add(store: Store, name: str, url: str, kind: str = "auto") -> None:
    with write_transaction(store.sessions) as session:
        add_source(session, SourceSpec(name=name, url=url, kind=kind))


def test_four_formats_one_deduplicated_ranked_list(store: Store, feed_server: FeedServer) -> None:
    for kind, (name, ctype) in GOOD.items():
        _add(store, kind, _serve(feed_server, name, ctype))  # kinds auto-detected
    with _fetcher() as fetcher:
        outcomes = ingest_sources(store.sessions, fetcher)
    assert {o.name: o.status for o in outcomes} == dict.fromkeys(GOOD, "ok")
    assert {o.name: o.kind for o in outcomes} == {k: k for k in GOOD}
    with store.sessions() as session:
        papers = list(session.scalars(select(Paper)))
        arxiv_ids = [p.arxiv_id for p in papers if p.arxiv_id]
        assert len(arxiv_ids) == len(set(arxiv_ids))  # one paper per arXiv id
        shared = [p for p in papers if len(p.sightings) > 1]
        assert shared, "the fixtures overlap: some paper must be carried by several sources"
        ranked = ranked_papers(session)
    assert [p.score for p in ranked] == sorted((p.score for p in ranked), reverse=True)
    assert ranked[0].upvotes == max(p.upvotes for p in ranked)
    for paper in ranked:
        assert "\n" not in paper.title and "\r" not in paper.title
        assert all("\n" not in a for a in paper.authors)
    with store.sessions() as session:
        kinds = dict(session.execute(select(Source.name, Source.kind)).tuples().all())
    assert kinds == {k: k for k in GOOD}  # the detected kind is remembered


def test_second_ingestion_adds_nothing_and_honors_304(
    store: Store, feed_server: FeedServer
) -> None:
    name, ctype = GOOD["arxiv-rss"]
    _add(store, "rss", _serve(feed_server, name, ctype, etag='"v1"'), kind="arxiv-rss")
    with _fetcher() as fetcher:
        first = ingest_sources(store.sessions, fetcher)[0]
        second = ingest_sources(store.sessions, fetcher)[0]
    assert first.status == "ok" and first.new > 0
    assert second.status == "not_modified"
    assert (second.new, second.updated) == (0, 0)
    assert feed_server.requests[-1].header("if-none-match") == '"v1"'


def test_same_body_without_validators_is_all_unchanged(
    store: Store, feed_server: FeedServer
) -> None:
    name, ctype = GOOD["hf-daily"]
    _add(store, "hf", _serve(feed_server, name, ctype))
    with _fetcher() as fetcher:
        first = ingest_sources(store.sessions, fetcher)[0]
        second = ingest_sources(store.sessions, fetcher)[0]
    assert second.status == "ok"
    assert (second.new, second.updated, second.unchanged) == (0, 0, first.new + first.updated)


@pytest.mark.parametrize(("fixture", "content_type", "needle"), BAD)
def test_bad_feed_fails_clearly_and_loses_nothing(
    store: Store, feed_server: FeedServer, fixture: str, content_type: str, needle: str
) -> None:
    name, ctype = GOOD["arxiv-rss"]
    _add(store, "good", _serve(feed_server, name, ctype))
    with _fetcher() as fetcher:
        ingest_sources(store.sessions, fetcher)
    with store.sessions() as session:
        before = {p.key: (p.title, p.abstract) for p in session.scalars(select(Paper))}

    _add(store, "bad", _serve(feed_server, fixture, content_type))
    with _fetcher() as fetcher:
        outcomes = {o.name: o for o in ingest_sources(store.sessions, fetcher)}
    bad = outcomes["bad"]
    assert bad.status == "failed"
    assert bad.error and needle.lower() in bad.error.lower()
    assert "\n" not in bad.error
    assert outcomes["good"].status == "ok"  # the others still ingest
    with store.sessions() as session:
        after = {p.key: (p.title, p.abstract) for p in session.scalars(select(Paper))}
        source = session.scalars(select(Source).where(Source.name == "bad")).one()
    assert after == before  # nothing stored earlier is lost or corrupted
    assert source.last_status == "failed" and source.last_error == bad.error


def test_timeout_is_a_clear_failure(store: Store, feed_server: FeedServer) -> None:
    name, ctype = GOOD["arxiv-rss"]
    _add(store, "slow", _serve(feed_server, name, ctype, delay=2.0))
    with _fetcher(read_timeout=0.3) as fetcher:
        outcome = ingest_sources(store.sessions, fetcher)[0]
    assert outcome.status == "failed"
    assert outcome.error and "timed out" in outcome.error


def test_hostile_feed_text_is_neutralized(store: Store, feed_server: FeedServer) -> None:
    _add(store, "hostile", _serve(feed_server, "hostile.xml", "application/rss+xml"))
    with _fetcher() as fetcher:
        outcome = ingest_sources(store.sessions, fetcher)[0]
    assert outcome.status == "ok"
    with store.sessions() as session:
        papers = list(session.scalars(select(Paper)))
    assert len(papers) == 2
    for paper in papers:
        for text in (paper.title, paper.abstract, *paper.authors):
            assert "\r" not in text and "\n" not in text
        assert all(not str(v).lower().startswith("javascript:") for v in paper.links.values())
    # what was stored (plain text, "<" included) renders inert through the digest path
    assert_inert(
        PaperEntry(
            key=p.key,
            title=p.title,
            external_id=p.key,
            abstract=p.abstract,
            authors=tuple(p.authors),
            links=p.links,
        )
        for p in papers
    )


def test_parallel_ingestions_of_the_same_feed(store: Store, feed_server: FeedServer) -> None:
    name, ctype = GOOD["arxiv-atom"]
    url = _serve(feed_server, name, ctype)
    _add(store, "a", url)
    _add(store, "b", url)
    errors: list[BaseException] = []

    def run(source: str) -> None:
        try:
            with _fetcher() as fetcher:
                ingest_sources(store.sessions, fetcher, [source])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    with store.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Paper))
        distinct = session.scalar(select(func.count(func.distinct(Paper.arxiv_id))))
    assert total and total == distinct
