"""pipeline.ingest.merge: entry_to_row and merge_row, the rules for combining paper descriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.merge import PAPER_FIELDS, entry_to_row, merge_row
from pipeline.ingest.normalize import make_entry

EARLY = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
LATE = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
SEEN = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def row(**fields: Any) -> dict[str, Any]:
    """A row for the paper 2611.01234 with the given fields set through make_entry."""
    fields.setdefault("title", "Attention is enough")
    fields.setdefault("arxiv", "2611.01234")
    seen = fields.pop("seen", SEEN)
    return entry_to_row(make_entry(**fields), seen)


def fields_of(values: dict[str, Any]) -> dict[str, Any]:
    return {name: values[name] for name in PAPER_FIELDS}


# --- entry_to_row ------------------------------------------------------------------------


def test_entry_to_row_carries_every_paper_field() -> None:
    entry = make_entry(
        title="A <b>bold</b> title",
        arxiv="arXiv:2611.01234v3",
        doi="10.1234/ABC.5",
        abstract="Some abstract.",
        authors=["Ann", "Bob"],
        categories=["cs.CL", "cs.LG"],
        links={"code": "https://github.com/ann/x"},
        comment="12 pages",
        thumbnail="https://example.org/t.png",
        published_at=EARLY,
        upvotes=7,
        num_comments=3,
        github_stars=11,
        summary="A TL;DR.",
        keywords=["attention", "bold"],
        organization="Example Lab",
        featured_at=LATE,
    )
    result = entry_to_row(entry, SEEN)
    assert set(result) == {"key", "upvotes", *PAPER_FIELDS}
    assert result == {
        "key": "arxiv:2611.01234",
        "arxiv_id": "2611.01234",
        "doi": "10.1234/abc.5",
        "title": "A <b>bold</b> title",  # plain text stays text
        "abstract": "Some abstract.",
        "authors": ["Ann", "Bob"],
        "categories": ["cs.CL", "cs.LG"],
        "primary_category": "cs.CL",
        "links": {
            "abs": "https://arxiv.org/abs/2611.01234",
            "pdf": "https://arxiv.org/pdf/2611.01234",
            "doi": "https://doi.org/10.1234/abc.5",
            "code": "https://github.com/ann/x",
        },
        "comment": "12 pages",
        "thumbnail": "https://example.org/t.png",
        "version": 3,
        "published_at": EARLY,
        "num_comments": 3,
        "github_stars": 11,
        "upvotes": 7,
        "summary": "A TL;DR.",
        "keywords": ["attention", "bold"],
        "organization": "Example Lab",
        "featured_at": LATE,
        "title_key": "a b bold b title",
        "listed_at": SEEN,
    }
    # lists and dicts are copies, not the entry's own (frozen) containers
    assert isinstance(result["authors"], list) and isinstance(result["links"], dict)
    result["links"]["x"] = "y"
    assert "x" not in entry.links


def test_entry_to_row_defaults_missing_counters_to_zero_but_keeps_unknown_stars() -> None:
    result = row()
    assert result["num_comments"] == 0 and result["upvotes"] == 0
    assert result["github_stars"] is None
    assert result["version"] is None and result["published_at"] is None
    assert result["primary_category"] is None and result["categories"] == []


def test_entry_to_row_primary_category_falls_back_to_first_category() -> None:
    entry = PaperEntry(key="url:https://x.org/p", title="T", external_id="p", categories=("a.B",))
    assert entry_to_row(entry, SEEN)["primary_category"] == "a.B"
    entry = PaperEntry(
        key="url:https://x.org/p",
        title="T",
        external_id="p",
        categories=("a.B", "c.D"),
        primary_category="c.D",
    )
    assert entry_to_row(entry, SEEN)["primary_category"] == "c.D"


# --- newer versions ----------------------------------------------------------------------


def test_newer_version_replaces_title_abstract_and_authors() -> None:
    current = row(
        arxiv="2611.01234v1",
        title="Old title",
        abstract="An old abstract that is quite a bit longer than the new one.",
        authors=["Ann", "Bob", "Cy"],
        comment="v1 comment",
    )
    incoming = row(
        arxiv="2611.01234v2",
        title="New title",
        abstract="Shorter new abstract.",
        authors=["Ann"],
        comment="v2 comment",
    )
    merged = merge_row(current, incoming)
    assert merged["title"] == "New title"
    assert merged["abstract"] == "Shorter new abstract."
    assert merged["authors"] == ["Ann"]
    assert merged["version"] == 2
    assert merged["comment"] == "v2 comment"


def test_older_version_does_not_replace_and_does_not_lower_the_version() -> None:
    current = row(arxiv="2611.01234v3", title="V3 title", authors=["Ann", "Bob"], comment="v3")
    incoming = row(arxiv="2611.01234v2", title="V2 title", authors=["Ann"], comment="v2")
    merged = merge_row(current, incoming)
    assert merged["title"] == "V3 title"
    assert merged["authors"] == ["Ann", "Bob"]
    assert merged["version"] == 3
    assert merged["comment"] == "v3"


def test_a_version_beats_no_version_but_no_version_never_downgrades() -> None:
    unversioned = row(title="Listing title")
    versioned = row(arxiv="2611.01234v1", title="Real title")
    assert merge_row(unversioned, versioned)["title"] == "Real title"
    assert merge_row(unversioned, versioned)["version"] == 1
    merged = merge_row(versioned, unversioned)
    assert merged["title"] == "Real title" and merged["version"] == 1


def test_newer_version_with_empty_text_keeps_the_old_text() -> None:
    current = row(arxiv="2611.01234v1", abstract="Kept abstract.", authors=["Ann"])
    incoming = row(arxiv="2611.01234v2")  # no abstract, no authors
    merged = merge_row(current, incoming)
    assert merged["abstract"] == "Kept abstract."
    assert merged["authors"] == ["Ann"]
    assert merged["version"] == 2


# --- same version: fill when empty, longer wins ------------------------------------------


def test_title_is_filled_only_when_empty() -> None:
    current = {**row(), "title": ""}
    assert merge_row(current, row(title="Now a title"))["title"] == "Now a title"
    longer = row(title="A much longer title than the stored one")
    assert merge_row(row(title="Short"), longer)["title"] == "Short"


def test_longer_abstract_wins_shorter_does_not() -> None:
    short, long = row(abstract="Short."), row(abstract="A considerably longer abstract.")
    assert merge_row(short, long)["abstract"] == "A considerably longer abstract."
    assert merge_row(long, short)["abstract"] == "A considerably longer abstract."
    assert merge_row(row(), short)["abstract"] == "Short."
    assert merge_row(short, row())["abstract"] == "Short."


def test_longer_author_list_wins_equal_length_keeps_current() -> None:
    two, three = row(authors=["Ann", "Bob"]), row(authors=["Ann", "Bob", "Cy"])
    assert merge_row(two, three)["authors"] == ["Ann", "Bob", "Cy"]
    assert merge_row(three, two)["authors"] == ["Ann", "Bob", "Cy"]
    assert merge_row(two, row(authors=["Xi", "Yu"]))["authors"] == ["Ann", "Bob"]
    assert merge_row(row(), two)["authors"] == ["Ann", "Bob"]
    assert merge_row(two, row())["authors"] == ["Ann", "Bob"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("doi", "10.1234/x"),
        ("primary_category", "cs.CL"),
        ("comment", "Accepted at a venue"),
        ("thumbnail", "https://example.org/t.png"),
    ],
)
def test_optional_fields_fill_when_empty_and_are_not_overwritten(name: str, value: str) -> None:
    empty = {**row(), name: None}
    filled = {**row(), name: value}
    other = {**row(), name: "something else"}
    assert merge_row(empty, filled)[name] == value
    assert merge_row(filled, other)[name] == value
    assert merge_row(filled, empty)[name] == value


def test_arxiv_id_is_filled_for_a_doi_only_paper() -> None:
    doi_only = entry_to_row(make_entry(title="T", doi="10.1234/x"), SEEN)
    assert doi_only["arxiv_id"] is None
    assert merge_row(doi_only, row(doi="10.1234/x"))["arxiv_id"] == "2611.01234"


# --- unions, dates, counters --------------------------------------------------------------


def test_categories_are_a_union_with_existing_first() -> None:
    current = row(categories=["cs.LG", "cs.CL"])
    incoming = row(categories=["stat.ML", "cs.CL", "cs.AI"])
    assert merge_row(current, incoming)["categories"] == ["cs.LG", "cs.CL", "stat.ML", "cs.AI"]
    assert merge_row(incoming, current)["categories"] == ["stat.ML", "cs.CL", "cs.AI", "cs.LG"]
    assert merge_row(current, row())["categories"] == ["cs.LG", "cs.CL"]


def test_links_are_a_union_and_existing_links_win() -> None:
    current = row(links={"code": "https://github.com/ann/x"})
    incoming = row(
        links={"code": "https://gitlab.com/other/x", "project": "https://x.example.org/"}
    )
    merged = merge_row(current, incoming)["links"]
    assert merged == {
        "abs": "https://arxiv.org/abs/2611.01234",
        "pdf": "https://arxiv.org/pdf/2611.01234",
        "code": "https://github.com/ann/x",
        "project": "https://x.example.org/",
    }


def test_an_empty_existing_link_is_replaced() -> None:
    current = {**row(), "links": {"code": ""}}
    incoming = {**row(), "links": {"code": "https://github.com/ann/x"}}
    assert merge_row(current, incoming)["links"] == {"code": "https://github.com/ann/x"}


def test_merge_does_not_modify_its_inputs() -> None:
    current, incoming = row(categories=["cs.LG"]), row(categories=["cs.CL"], links={})
    before = (repr(current), repr(incoming))
    merge_row(current, incoming)
    assert (repr(current), repr(incoming)) == before


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [
        (LATE, EARLY, EARLY),
        (EARLY, LATE, EARLY),
        (None, LATE, LATE),
        (EARLY, None, EARLY),
        (None, None, None),
    ],
)
def test_earliest_published_date_is_kept(
    current: datetime | None, incoming: datetime | None, expected: datetime | None
) -> None:
    merged = merge_row(row(published_at=current), row(published_at=incoming))
    assert merged["published_at"] == expected


def test_published_dates_in_other_zones_compare_as_instants() -> None:
    # 20:00 at UTC-5 is 01:00 UTC the next day: later than 23:00 UTC the day before
    eastern = datetime(2026, 11, 20, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    utc = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert merge_row(row(published_at=eastern), row(published_at=utc))["published_at"] == utc


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [(3, 9, 9), (9, 3, 9), (None, 4, 4), (4, None, 4), (None, None, None), (0, None, 0)],
)
def test_github_stars_keep_the_highest_known(
    current: int | None, incoming: int | None, expected: int | None
) -> None:
    merged = merge_row({**row(), "github_stars": current}, {**row(), "github_stars": incoming})
    assert merged["github_stars"] == expected


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [(3, 9, 9), (9, 3, 9), (None, 4, 4), (4, None, 4), (None, None, 0), (0, 0, 0)],
)
def test_comment_counts_keep_the_highest_and_are_never_none(
    current: int | None, incoming: int | None, expected: int
) -> None:
    merged = merge_row({**row(), "num_comments": current}, {**row(), "num_comments": incoming})
    assert merged["num_comments"] == expected


# --- idempotence and shape ------------------------------------------------------------------


RICH = {
    "arxiv": "2611.01234v2",
    "title": "A rich paper",
    "doi": "10.1234/x",
    "abstract": "An abstract.",
    "authors": ["Ann", "Bob"],
    "categories": ["cs.CL", "cs.LG"],
    "links": {"code": "https://github.com/ann/x"},
    "comment": "9 pages",
    "thumbnail": "https://example.org/t.png",
    "published_at": EARLY,
    "num_comments": 4,
    "github_stars": 12,
}


@pytest.mark.parametrize(
    "fields",
    [
        RICH,
        {"title": "Bare"},
        {"title": "DOI only", "arxiv": None, "doi": "10.1000/y", "num_comments": 0},
        {"title": "Link only", "arxiv": None, "link": "https://example.org/paper"},
    ],
    ids=["rich", "bare", "doi", "link"],
)
def test_merging_a_row_with_itself_changes_nothing(fields: dict[str, Any]) -> None:
    values = row(**fields)
    assert merge_row(values, values) == fields_of(values)
    once = merge_row(values, row(**RICH))
    assert merge_row(once, row(**RICH)) == once


def test_result_has_exactly_the_paper_fields() -> None:
    merged = merge_row(row(), row(upvotes=50))
    assert set(merged) == set(PAPER_FIELDS)
    assert "upvotes" not in merged and "key" not in merged


def test_missing_fields_in_current_are_treated_as_empty() -> None:
    merged = merge_row({}, row(**RICH))
    assert merged == fields_of(row(**RICH))


# --- fields from Hugging Face, listing ---------------------------------------------------


def test_a_sources_newer_summary_and_keywords_replace_the_old_ones() -> None:
    old = row(summary="First TL;DR.", keywords=["moe"])
    new = row(summary="Better TL;DR.", keywords=["moe", "routing"])
    assert merge_row(old, new)["summary"] == "Better TL;DR."
    assert merge_row(old, new)["keywords"] == ["moe", "routing"]
    # a source without them (arXiv) keeps what Hugging Face said
    assert merge_row(new, row())["summary"] == "Better TL;DR."
    assert merge_row(new, row())["keywords"] == ["moe", "routing"]


def test_organization_is_filled_once_and_featured_at_keeps_the_earliest() -> None:
    first = row(organization="Lab A", featured_at=LATE)
    second = row(organization="Lab B", featured_at=EARLY)
    assert merge_row(first, second)["organization"] == "Lab A"
    assert merge_row(row(), second)["organization"] == "Lab B"
    assert merge_row(first, second)["featured_at"] == EARLY
    assert merge_row(second, row())["featured_at"] == EARLY


def test_a_replacement_lists_nothing_and_a_later_listing_lists_the_paper() -> None:
    replaced = row(announce_type="replace", seen=EARLY)
    assert replaced["listed_at"] is None
    assert row(announce_type="replace-cross")["listed_at"] is None
    assert row(announce_type="cross", seen=EARLY)["listed_at"] == EARLY
    assert row(announce_type=None, seen=EARLY)["listed_at"] == EARLY  # any other source lists
    # a paper known only from a replacement becomes news when something lists it...
    assert merge_row(replaced, row(announce_type="new", seen=LATE))["listed_at"] == LATE
    # ...and a listed paper stays listed from its first listing, whatever comes after
    listed = row(announce_type="new", seen=EARLY)
    assert merge_row(listed, row(announce_type="replace", seen=LATE))["listed_at"] == EARLY
    assert merge_row(listed, row(announce_type="new", seen=LATE))["listed_at"] == EARLY


def test_title_key_follows_the_merged_title() -> None:
    old = row(title="Old Title Of The Paper", arxiv="2611.01234v1")
    new = row(title="New Title, Of The Paper!", arxiv="2611.01234v2")
    assert merge_row(old, new)["title_key"] == "new title of the paper"
    assert merge_row(new, old)["title_key"] == "new title of the paper"
