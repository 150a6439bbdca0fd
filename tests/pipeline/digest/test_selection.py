"""pipeline.digest.selection: which papers of an edition a reader's filter picks, in rank order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.digest.selection import EditionIndex, Reader
from pipeline.ranking.ranked import RankedPaper

SEEN = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


def paper(
    paper_id: int, title: str, abstract: str = "", categories: tuple[str, ...] = ()
) -> RankedPaper:
    return RankedPaper(
        id=paper_id,
        key=f"arxiv:2611.{paper_id:05d}",
        arxiv_id=f"2611.{paper_id:05d}",
        title=title,
        authors=["Ann Author"],
        abstract=abstract,
        categories=list(categories),
        links={},
        upvotes=0,
        velocity=0,
        sources=1,
        score=1.0 / paper_id,
        first_seen_at=SEEN,
        listed_at=SEEN,
        published_at=None,
    )


# Edition rank order is list order; the ids deliberately do not follow it.
EDITION = [
    paper(30, "Retrieval for RAG pipelines", "We study RAG.", ("cs.CL", "cs.IR")),
    paper(10, "Cold storage of embeddings", "Storage layouts and fragments.", ("cs.DB",)),
    paper(50, "Sparse transformers", "Attention in C++ with a.b notation.", ("cs.LG", "stat.ML")),
    paper(20, "Galaxy rotation curves", "Dark matter halos.", ("astro-ph.GA",)),
    paper(40, "Ranking with diffusion", "A Transformer-free ranking model.", ("cs.IR",)),
]


def pick(
    categories: tuple[str, ...] = (),
    keywords: tuple[str, ...] = (),
    limit: int = 100,
    exclude: frozenset[int] = frozenset(),
    papers: list[RankedPaper] = EDITION,
) -> list[int]:
    chosen = EditionIndex(papers).select(Reader(0, categories, keywords, limit, exclude=exclude))
    return [p.paper_id for p in chosen]


def test_following_nothing_gets_everything_in_rank_order() -> None:
    assert pick() == [30, 10, 50, 20, 40]


def test_empty_edition_selects_nothing() -> None:
    assert pick(papers=[]) == []
    assert pick(categories=("cs.CL",), papers=[]) == []


def test_exact_category() -> None:
    assert pick(categories=("cs.IR",)) == [30, 40]
    assert pick(categories=("astro-ph.GA",)) == [20]


def test_archive_prefix_follows_every_subcategory() -> None:
    assert pick(categories=("cs",)) == [30, 10, 50, 40]
    assert pick(categories=("astro-ph",)) == [20]
    assert pick(categories=("stat",)) == [50]


@pytest.mark.parametrize("category", ["cs.I", "c", "cs.IR.x", "math", "IR", "cs.IRx"])
def test_category_is_not_a_substring_match(category: str) -> None:
    assert pick(categories=(category,)) == []


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("rag", [30]),  # whole word: "storage" and "fragments" do not count
        ("RAG", [30]),
        ("Rag", [30]),
        ("storage", [10]),  # the title counts as well as the abstract
        # "Transformer-free": a hyphen is a word boundary; simple plurals match both ways
        ("transformer", [50, 40]),
        ("transformers", [50, 40]),
        ("halo", [20]),
        ("Rags", [30]),
        ("dark matter", [20]),  # a phrase
        ("matter halos", [20]),
        ("ranking", [40]),  # title and abstract both match: listed once
        ("ragged", []),
        ("orag", []),
    ],
)
def test_keywords_match_whole_words_case_insensitively(keyword: str, expected: list[int]) -> None:
    assert pick(keywords=(keyword,)) == expected


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("c++", [50]),
        ("C++", [50]),
        ("a.b", [50]),
        ("a+b", []),
        (".", []),  # would match anything as a regular expression
        ("c.+", []),
        ("(", []),
        ("[a-z]+", []),
    ],
)
def test_keyword_metacharacters_are_literal(keyword: str, expected: list[int]) -> None:
    assert pick(keywords=(keyword,)) == expected


def test_keyword_dot_does_not_match_any_character() -> None:
    edition = [paper(1, "axb and a-b"), paper(2, "see a.b here")]
    assert pick(keywords=("a.b",), papers=edition) == [2]


def test_non_ascii_keyword_case_folds() -> None:
    edition = [paper(1, "Straße networks"), paper(2, "Strasse layouts"), paper(3, "ÉCOLE data")]
    assert pick(keywords=("STRASSE",), papers=edition) == [1, 2]
    assert pick(keywords=("école",), papers=edition) == [3]


def test_limit_keeps_the_best_ranked() -> None:
    assert pick(limit=2) == [30, 10]
    assert pick(categories=("cs",), limit=3) == [30, 10, 50]
    assert pick(limit=1) == [30]


def test_exclude_skips_papers_without_using_up_the_limit() -> None:
    assert pick(exclude=frozenset({30, 50})) == [10, 20, 40]
    assert pick(limit=2, exclude=frozenset({30})) == [10, 50]
    assert pick(categories=("cs.IR",), exclude=frozenset({30, 40})) == []
    assert pick(exclude=frozenset({999})) == [30, 10, 50, 20, 40]


def test_categories_and_keywords_are_a_union_in_rank_order() -> None:
    # keyword "galaxy" hits the 4th paper, category cs.DB the 2nd: rank order, not filter order
    assert pick(categories=("cs.DB",), keywords=("galaxy",)) == [10, 20]
    assert pick(keywords=("galaxy", "rag")) == [30, 20]
    assert pick(categories=("cs.IR",), keywords=("ranking", "storage")) == [30, 10, 40]


def test_repeated_selects_on_one_index_agree() -> None:
    index = EditionIndex(EDITION)

    def ids(reader: Reader) -> list[int]:
        return [p.paper_id for p in index.select(reader)]

    first = ids(Reader(1, (), ("rag",), 10))
    # the keyword cache must not leak between readers
    assert ids(Reader(2, (), ("storage",), 10)) == [10]
    assert ids(Reader(3, (), ("rag",), 10)) == first == [30]
    assert ids(Reader(4, ("cs.IR",), (), 1)) == [30]
    assert index.ids == [30, 10, 50, 20, 40]


def test_unknown_category_and_keyword_select_nothing() -> None:
    assert pick(categories=("q-bio.NC",), keywords=("quantum",)) == []
