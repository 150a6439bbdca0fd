"""One paper under two keys: title matching (pipeline.ingest.twins) and folding at store time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.normalize import make_entry
from pipeline.ingest.persist import StoreCounts, store_entries
from pipeline.ingest.twins import is_id_less, same_authors, title_key
from pipeline.store.db import write_transaction
from pipeline.store.models import Paper, Sighting, Source
from tests.conftest import Store

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TITLE = "Sparse Mixtures of Experts Route Tokens Well"


# --- the rules ---------------------------------------------------------------------------


def test_title_key_ignores_case_accents_punctuation_and_line_wraps() -> None:
    key = title_key(TITLE)
    assert key == "sparse mixtures of experts route tokens well"
    assert title_key("sparse  mixtures of\nexperts: route tokens, well!") == key
    assert title_key("SPARSE MIXTURES OF EXPERTS ROUTE TOKENS WELL.") == key
    assert title_key("Réseaux de neurones à mémoire") == title_key("reseaux de neurones a memoire")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in "Fullwidth")  # NFKD folds these
    assert title_key(f"{fullwidth} Letters Match Too") == "fullwidth letters match too"


def test_short_titles_never_match() -> None:
    for title in ("Introduction", "Editorial", "Book reviews", "Deep Sets", "", "   ", "!!!"):
        assert title_key(title) is None


def test_title_key_fits_its_column() -> None:
    key = title_key("word " * 500)
    assert key is not None and len(key) <= 300 and not key.endswith(" ")


def test_authors_overlap_by_surname_in_any_spelling() -> None:
    assert same_authors(["Alice Smith", "Bob Jones"], ["A. Smith"])
    assert same_authors(["Smith, Alice"], ["alice smith"])
    assert same_authors(["José Núñez"], ["Jose Nunez"])
    assert not same_authors(["Alice Smith"], ["Carol White"])


def test_missing_authors_neither_confirm_nor_deny() -> None:
    assert same_authors([], ["Alice Smith"])
    assert same_authors(["Alice Smith"], [])
    assert same_authors([""], ["Alice Smith"])


def test_only_link_keys_are_id_less() -> None:
    assert is_id_less("url:https://lab.example.org/blog/moe")
    assert not is_id_less("arxiv:2401.01234")
    assert not is_id_less("doi:10.1101/2024.01.01.123456")


# --- at store time -----------------------------------------------------------------------


def _source(store: Store, name: str) -> int:
    with write_transaction(store.sessions) as session:
        source = Source(name=name, kind="feed", url=f"https://example.org/{name}")
        session.add(source)
        session.flush()
        return source.id


def _store(
    store: Store, source_id: int, entries: list[PaperEntry], at: datetime = NOW
) -> StoreCounts:
    with write_transaction(store.sessions) as session:
        return store_entries(session, source_id, entries, at)


def _arxiv(
    title: str = TITLE, authors: tuple[str, ...] = ("Alice Smith", "Bob Jones")
) -> PaperEntry:
    return make_entry(title=title, arxiv="2401.01234v1", authors=authors, abstract="Long abstract.")


def _blog(
    title: str = TITLE, authors: tuple[str, ...] = ("A. Smith",), url: str = "moe"
) -> PaperEntry:
    return make_entry(title=title, link=f"https://lab.example.org/blog/{url}", authors=authors)


def _papers(store: Store) -> dict[str, Paper]:
    with store.sessions() as session:
        return {p.key: p for p in session.scalars(select(Paper))}


def _sightings(store: Store) -> set[tuple[str, str]]:
    with store.sessions() as session:
        rows = session.execute(
            select(Paper.key, Source.name).join(Sighting.paper).join(Sighting.source)
        )
        return {(key, name) for key, name in rows}


def test_an_id_less_entry_joins_the_known_paper(store: Store) -> None:
    arxiv, blog = _source(store, "arxiv"), _source(store, "blog")
    _store(store, arxiv, [_arxiv()])
    counts = _store(store, blog, [_blog(title="Sparse mixtures of experts\nroute tokens well")])
    assert (counts.new, counts.updated + counts.unchanged) == (0, 1)
    assert list(_papers(store)) == ["arxiv:2401.01234"]
    assert _sightings(store) == {("arxiv:2401.01234", "arxiv"), ("arxiv:2401.01234", "blog")}
    # and again next time: still one paper, the blog's sighting updated, not doubled
    _store(store, blog, [_blog()], NOW + timedelta(hours=1))
    assert list(_papers(store)) == ["arxiv:2401.01234"]
    assert len(_sightings(store)) == 2


def test_a_paper_known_by_its_link_takes_the_id_that_arrives_later(store: Store) -> None:
    blog, arxiv = _source(store, "blog"), _source(store, "arxiv")
    _store(store, blog, [_blog()])
    (before,) = _papers(store).values()
    counts = _store(store, arxiv, [_arxiv()])
    assert counts.new == 0
    papers = _papers(store)
    assert list(papers) == ["arxiv:2401.01234"]
    paper = papers["arxiv:2401.01234"]
    assert paper.id == before.id  # the same row, re-keyed: its history stays with it
    assert paper.arxiv_id == "2401.01234" and paper.abstract == "Long abstract."
    assert _sightings(store) == {("arxiv:2401.01234", "blog"), ("arxiv:2401.01234", "arxiv")}
    # the blog again: it finds the paper by title, not a second one by its link
    _store(store, blog, [_blog()], NOW + timedelta(hours=1))
    assert list(_papers(store)) == ["arxiv:2401.01234"]


def test_one_feed_carrying_both_keys_stores_one_paper(store: Store) -> None:
    mixed = _source(store, "mixed")
    counts = _store(store, mixed, [_blog(), _arxiv()])
    assert counts.new == 1
    assert list(_papers(store)) == ["arxiv:2401.01234"]
    assert _sightings(store) == {("arxiv:2401.01234", "mixed")}


def test_different_authors_are_different_papers(store: Store) -> None:
    arxiv, blog = _source(store, "arxiv"), _source(store, "blog")
    _store(store, arxiv, [_arxiv()])
    _store(store, blog, [_blog(authors=("Carol White",))])
    assert set(_papers(store)) == {
        "arxiv:2401.01234",
        "url:https://lab.example.org/blog/moe",
    }


def test_an_ambiguous_title_merges_into_neither(store: Store) -> None:
    arxiv, blog = _source(store, "arxiv"), _source(store, "blog")
    twin = make_entry(title=TITLE, arxiv="2402.05555", authors=["Alice Smith"])
    _store(store, arxiv, [_arxiv(), twin])
    _store(store, blog, [_blog()])
    assert len(_papers(store)) == 3


def test_entries_with_ids_never_merge_by_title(store: Store) -> None:
    arxiv = _source(store, "arxiv")
    other = make_entry(title=TITLE, arxiv="2402.05555", authors=["Alice Smith"])
    _store(store, arxiv, [_arxiv()])
    _store(store, arxiv, [other])
    doi = make_entry(title=TITLE, doi="10.1101/2024.01.01.123456", authors=["Alice Smith"])
    _store(store, arxiv, [doi])
    assert set(_papers(store)) == {
        "arxiv:2401.01234",
        "arxiv:2402.05555",
        "doi:10.1101/2024.01.01.123456",
    }


@pytest.mark.parametrize("title", ["Introduction", "Editorial", "Book reviews"])
def test_short_generic_titles_stay_apart(store: Store, title: str) -> None:
    arxiv, blog = _source(store, "arxiv"), _source(store, "blog")
    _store(store, arxiv, [_arxiv(title=title)])
    _store(store, blog, [_blog(title=title)])
    assert len(_papers(store)) == 2
