"""Each format on its own fixture: the records a reader of the digest will see."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.ingest.entry import FeedError
from pipeline.ingest.formats import FORMATS, detect_kind, get_format, parse_body
from pipeline.ingest.formats.synthetic import arxiv_rss_feed
from tests.conftest import FIXTURES

FEEDS = FIXTURES / "feeds"
URL = "https://feeds.example.org/x"


def parse(name: str, kind: str | None = None):
    return parse_body(kind, (FEEDS / name).read_bytes(), URL, None)


def by_key(result):
    return {entry.key: entry for entry in result.entries}


def test_registry_lists_the_kinds_and_refuses_unknown_ones():
    assert list(FORMATS) == ["arxiv-rss", "arxiv-rdf", "arxiv-atom", "biorxiv", "hf-daily", "feed"]
    assert get_format("feed").kind == "feed"
    with pytest.raises(ValueError, match="unknown source kind 'rdf'; valid kinds: arxiv-rss"):
        get_format("rdf")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("arxiv_rss.xml", "arxiv-rss"),
        ("arxiv_atom.xml", "arxiv-atom"),
        ("arxiv_atom_error.xml", "arxiv-atom"),
        ("arxiv_rdf.xml", "arxiv-rdf"),
        ("hf_daily.json", "hf-daily"),
        ("generic_rss2.xml", "feed"),
        ("generic_rss1.xml", "feed"),
        ("generic_atom.xml", "feed"),
    ],
)
def test_detect_kind(name, kind):
    assert detect_kind((FEEDS / name).read_bytes(), None) == kind


def test_detect_kind_says_what_an_unknown_body_is():
    expected = r"^not a recognized feed: found an XML document with root <svg>"
    with pytest.raises(FeedError, match=expected):
        detect_kind(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', None)


def test_arxiv_rss():
    kind, result = parse("arxiv_rss.xml")
    assert kind == "arxiv-rss"
    assert result.feed_title == "cs.LG updates on arXiv.org"
    papers = by_key(result)
    assert list(papers) == [
        "arxiv:2401.01234",
        "arxiv:2401.05678",
        "arxiv:2312.09999",
        "arxiv:2401.04444",
        "arxiv:2401.07777",
        "arxiv:hep-th/9901001",
    ]
    first = papers["arxiv:2401.01234"]
    assert first.title == "Sparse Mixtures of Experts Scale Gracefully"
    assert first.external_id == "2401.01234v1"
    assert first.version == 1
    assert first.announce_type == "new"
    assert first.abstract.startswith("We study sparse mixture-of-experts models")
    assert "Announce Type" not in first.abstract
    assert first.authors == ("Alice Smith", "Bob Jones")
    assert first.categories == ("cs.LG", "cs.AI")
    assert first.primary_category == "cs.LG"
    assert first.published_at == datetime(2024, 1, 9, 5, tzinfo=UTC)
    assert dict(first.links) == {
        "abs": "https://arxiv.org/abs/2401.01234",
        "pdf": "https://arxiv.org/pdf/2401.01234",
        "html": "https://arxiv.org/html/2401.01234",
    }
    cross = papers["arxiv:2401.05678"]
    assert (cross.announce_type, cross.categories) == ("cross", ("cs.CL", "cs.LG"))
    replaced = papers["arxiv:2312.09999"]
    assert (replaced.announce_type, replaced.version) == ("replace", 3)
    assert replaced.doi == "10.1137/23m1234567"
    assert replaced.comment == "Journal ref: SIAM J. Optim. 34 (2024) 1-30"
    assert papers["arxiv:2401.04444"].authors == ("Ann Lee", "Ben Kim", "Cara Diaz")
    marked = papers["arxiv:2401.07777"]
    # arXiv's fields are plain text: maths keeps its "<", ">" and "&" (escaped where shown)
    assert marked.title == "Bounds for 0<p<1 & the x<y Regime"
    assert marked.abstract == (
        "We prove that 0<p<1 whenever x<y & z>2, and that <b> in an abstract is text. The end."
    )
    assert marked.authors == ("Fay Wong", "Gil Ramos", "Hal Stone")
    old = papers["arxiv:hep-th/9901001"]
    assert (old.arxiv_id, old.version, old.announce_type) == ("hep-th/9901001", 2, "replace-cross")
    assert [(s.position, s.reason) for s in result.skipped] == [
        (6, "no title and no arXiv id, DOI or http(s) link")
    ]


def test_arxiv_atom_overlaps_rss_with_a_newer_version():
    kind, result = parse("arxiv_atom.xml")
    assert kind == "arxiv-atom"
    papers = by_key(result)
    assert list(papers) == ["arxiv:2401.01234", "arxiv:2402.00001", "arxiv:math/0309136"]
    moe = papers["arxiv:2401.01234"]
    assert (moe.version, moe.external_id) == (2, "2401.01234v2")
    assert moe.title == "Sparse Mixtures of Experts Scale Gracefully"
    assert moe.abstract.endswith("Version 2 adds ablations.")
    assert moe.authors == ("Alice Smith", "Bob Jones")
    assert (moe.primary_category, moe.categories) == ("cs.LG", ("cs.LG", "cs.AI"))
    assert moe.comment == "12 pages, 4 figures"
    assert moe.published_at == datetime(2024, 1, 8, 18, 59, 59, tzinfo=UTC)
    tabular = papers["arxiv:2402.00001"]
    assert tabular.doi == "10.1000/xyz.2024.1"
    assert tabular.primary_category == "stat.ML"
    assert tabular.comment == "Journal ref: J. Tab. Learn. 1 (2024) 5"
    assert tabular.links["doi"] == "https://doi.org/10.1000/xyz.2024.1"
    knots = papers["arxiv:math/0309136"]
    assert (knots.arxiv_id, knots.version, knots.primary_category) == ("math/0309136", 2, "math.GT")
    rss_keys = set(by_key(parse("arxiv_rss.xml")[1]))
    assert "arxiv:2401.01234" in rss_keys


def test_arxiv_atom_api_error_is_a_feed_error():
    with pytest.raises(FeedError, match=r"^arXiv API error: incorrect id format for 1234\.12345$"):
        parse("arxiv_atom_error.xml")


def test_hf_daily():
    kind, result = parse("hf_daily.json")
    assert kind == "hf-daily"
    papers = by_key(result)
    assert list(papers) == [
        "arxiv:2401.01234",
        "arxiv:2401.05678",
        "arxiv:2402.11111",
        "arxiv:2402.22222",
    ]
    moe = papers["arxiv:2401.01234"]
    assert (moe.upvotes, moe.num_comments, moe.github_stars) == (42, 3, 310)
    assert moe.links["code"] == "https://github.com/example/sparse-moe"
    assert moe.abstract.startswith("We study sparse mixture-of-experts models and show")
    assert moe.authors == ("Alice Smith", "Bob Jones")
    assert moe.thumbnail == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2401.01234.png"
    )
    assert moe.published_at == datetime(2024, 1, 8, 18, 59, 59, tzinfo=UTC)
    assert papers["arxiv:2401.05678"].links["project"] == "https://example.org/librarians"
    odd = papers["arxiv:2402.22222"]
    assert (odd.upvotes, odd.num_comments, odd.github_stars, odd.authors) == (None, None, None, ())
    assert "code" not in odd.links
    assert odd.abstract == "Its summary lives only at the top level."
    # The top-level publishedAt is the paper's date shifted by New York's offset yet labeled
    # UTC, so it never stands in for a paper.publishedAt of the wrong type.
    assert odd.published_at is None
    overlap = set(papers) & set(by_key(parse("arxiv_rss.xml")[1]))
    assert overlap == {"arxiv:2401.01234", "arxiv:2401.05678"}


def test_hf_daily_skips_items_of_the_wrong_shape():
    body = (
        b'[1, {"title": "no paper"}, {"paper": []}, {"paper": {"title": "T"}},'
        b' {"paper": {"id": "2401.01234", "title": "ok"}}]'
    )
    _, result = parse_body("hf-daily", body, URL, "application/json")
    assert [e.key for e in result.entries] == ["arxiv:2401.01234"]
    assert [(s.position, s.reason) for s in result.skipped] == [
        (0, "item is int, not an object"),
        (1, "item has no 'paper' object"),
        (2, "item has no 'paper' object"),
        (3, "no arXiv id, DOI or http(s) link"),
    ]


def test_generic_rss2():
    kind, result = parse("generic_rss2.xml")
    assert kind == "feed"
    assert result.feed_title == "Lab Blog: New Papers"
    blog, journal, note = result.entries
    assert (blog.key, blog.version, blog.external_id) == ("arxiv:2401.01234", 1, "lab-post-1")
    assert blog.abstract == "Read it on arXiv."
    assert blog.authors == ("Alice Smith",)
    assert journal.key == "doi:10.1038/s41586-024-00001-x"
    assert journal.links["link"] == "https://lab.example.org/posts/journal-paper"
    assert journal.abstract == "Our Nature paper."
    assert note.key == "url:https://feeds.example.org/posts/workshop-note"


def test_generic_rss1_rdf():
    kind, result = parse("generic_rss1.xml")
    assert kind == "feed"
    kernels, companion = result.entries
    assert kernels.key == "doi:10.5555/joe.2024.001"
    assert kernels.authors == ("Grace Hopper", "Alan Turing")
    assert kernels.published_at == datetime(2024, 1, 5, tzinfo=UTC)
    assert companion.key == "arxiv:2402.00001"


def test_generic_atom():
    kind, result = parse("generic_atom.xml")
    assert kind == "feed"
    moe, classic, doi_only, link_only = result.entries
    assert (moe.key, moe.version) == ("arxiv:2401.01234", 2)
    assert moe.abstract == "MoE & routing."
    assert classic.key == "arxiv:hep-th/9901001"
    assert doi_only.key == "doi:10.1145/3600006.3613165"
    assert link_only.key == "url:https://blog.example.org/post?id=4"
    assert link_only.categories == ("essay",)


def test_arxiv_rss_parses_through_the_generic_feed_too():
    _, result = parse("arxiv_rss.xml", "feed")
    assert [e.key for e in result.entries][:2] == ["arxiv:2401.01234", "arxiv:2401.05678"]


def test_synthetic_feed_is_deterministic_and_realistic():
    body = arxiv_rss_feed(50, seed=3)
    assert body == arxiv_rss_feed(50, seed=3)
    assert body != arxiv_rss_feed(50, seed=4)
    kind, result = parse_body(None, body, URL, None)
    assert kind == "arxiv-rss"
    assert len({e.key for e in result.entries}) == 50
    for entry in result.entries:
        assert 700 <= len(entry.abstract) <= 1400
        assert 3 <= len(entry.authors) <= 8
        assert 1 <= len(entry.categories) <= 4


def test_a_large_listing_parses_whole() -> None:
    """(How fast, against feedparser, is the ingest benchmark's business.)"""
    body = arxiv_rss_feed(10_000)
    result = get_format("arxiv-rss").parse(body, url=URL)
    assert len(result.entries) == 10_000 and not result.skipped
    assert len({entry.key for entry in result.entries}) == 10_000


def test_arxiv_atom_keeps_arxiv_categories_only():
    """The API writes an MSC or ACM class as a category too; a reader follows arXiv's."""
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        b"<entry><id>http://arxiv.org/abs/math.GT/0309136v1</id><title>Knots</title>"
        b'<category term="math.GT"/><category term="57M25; 57M27"/><category term="I.2.6"/>'
        b'<category term="physics.flu-dyn"/><arxiv:primary_category term="math.GT"/>'
        b"</entry></feed>"
    )
    _, result = parse_body(None, body, URL)
    (knots,) = result.entries
    assert (knots.key, knots.categories) == ("arxiv:math/0309136", ("math.GT", "physics.flu-dyn"))


def test_arxiv_rdf_items_are_dated_by_their_listing():
    """RSS 1.0 items carry no date: the channel's dc:date is the listing's, so an archived
    listing's papers are not taken for new ones; an item's own dc:date wins."""
    _, result = parse("arxiv_rdf.xml")
    assert {entry.published_at for entry in result.entries} == {
        datetime(2012, 9, 13, 1, 30, tzinfo=UTC)
    }
    undated, dated = b"</dc:creator>\n</item>", b"</dc:creator><dc:date>2012-09-10</dc:date></item>"
    body = (FEEDS / "arxiv_rdf.xml").read_bytes().replace(undated, dated, 1)
    _, result = parse_body("arxiv-rdf", body, URL)
    assert result.entries[0].published_at == datetime(2012, 9, 10, tzinfo=UTC)


def _one_item_rss(inner: str) -> bytes:
    return (
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>'
        f"<item><title>A paper of ours</title>{inner}</item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("creators", "authors"),
    [
        (
            "<dc:creator>Ana Ruiz, Bo Chen and Yuki Sato</dc:creator>",
            ("Ana Ruiz", "Bo Chen", "Yuki Sato"),
        ),
        (
            "<dc:creator>Ana Ruiz</dc:creator><dc:creator>Bo Chen</dc:creator>",
            ("Ana Ruiz", "Bo Chen"),
        ),
        ("<dc:creator>Hopper, Grace</dc:creator>", ("Hopper, Grace",)),
        ("<dc:creator>van der Berg, Anna</dc:creator>", ("van der Berg, Anna",)),
    ],
)
def test_generic_feed_splits_one_creator_naming_several(creators, authors):
    body = _one_item_rss(f"<link>https://lab.example.org/p/1</link>{creators}")
    _, result = parse_body("feed", body, URL)
    assert result.entries[0].authors == authors


def test_generic_feed_takes_no_arxiv_doi_for_the_papers_doi():
    """10.48550/arXiv.ID is the arXiv id again; a stored paper keeps the first DOI it gets,
    so the journal's must not lose to it."""
    arxiv_doi = "<link>https://doi.org/10.48550/arXiv.2312.00752</link>"
    _, result = parse_body("feed", _one_item_rss(arxiv_doi), URL)
    (paper,) = result.entries
    assert (paper.key, paper.doi, "doi" in paper.links) == ("arxiv:2312.00752", None, False)
    journal = "<dc:identifier>doi:10.1145/3600006.3613165</dc:identifier>"
    _, result = parse_body("feed", _one_item_rss(arxiv_doi + journal), URL)
    (paper,) = result.entries
    assert (paper.key, paper.doi) == ("arxiv:2312.00752", "10.1145/3600006.3613165")
