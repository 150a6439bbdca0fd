"""Ids, DOIs, links and text normalization: the rules every source format shares."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.identifiers import parse_arxiv_id, parse_doi
from pipeline.ingest.normalize import (
    UnusableEntry,
    canonical_url,
    feed_text,
    html_to_text,
    looks_like_html,
    make_entry,
    paper_key,
    single_line,
    split_authors,
    visible_line,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2401.01234", ("2401.01234", None)),
        ("2401.01234v3", ("2401.01234", 3)),
        ("arXiv:2401.01234v2", ("2401.01234", 2)),
        ("ARXIV: 2401.01234", ("2401.01234", None)),
        ("  2401.01234  ", ("2401.01234", None)),
        ("oai:arXiv.org:2401.01234v1", ("2401.01234", 1)),
        ("0704.0001", ("0704.0001", None)),
        ("1412.9999v1", ("1412.9999", 1)),
        ("1501.00001", ("1501.00001", None)),
        ("https://arxiv.org/abs/2401.01234", ("2401.01234", None)),
        ("https://arxiv.org/abs/2401.01234v4", ("2401.01234", 4)),
        ("http://arxiv.org/abs/2401.01234v2", ("2401.01234", 2)),
        ("https://www.arxiv.org/pdf/2401.01234v2", ("2401.01234", 2)),
        ("https://arxiv.org/pdf/2401.01234v2.pdf", ("2401.01234", 2)),
        ("https://arxiv.org/pdf/2401.01234.pdf", ("2401.01234", None)),
        ("http://export.arxiv.org/abs/2401.01234", ("2401.01234", None)),
        ("https://arxiv.org/html/2401.01234v1", ("2401.01234", 1)),
        ("arxiv.org/abs/2401.01234", ("2401.01234", None)),
        ("HTTPS://ArXiv.Org/abs/2401.01234/", ("2401.01234", None)),
        ("https://arxiv.org/abs/2401.01234?context=cs#x", ("2401.01234", None)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("arXiv:hep-th/9901001v1", ("hep-th/9901001", 1)),
        ("math.GT/0309136v2", ("math/0309136", 2)),
        ("https://arxiv.org/abs/math.GT/0309136", ("math/0309136", None)),
        ("http://arxiv.org/abs/cond-mat/0011234v1", ("cond-mat/0011234", 1)),
    ],
)
def test_parse_arxiv_id_accepts(text, expected):
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "2401.1234",  # 4 digits after 2015
        "1412.12345",  # 5 digits before 2015
        "2413.01234",  # month 13
        "0612.0001",  # new style before April 2007
        "2401.01234v0",
        "2401.01234vx",
        "2401.01234abc",
        "x2401.01234",
        "https://evil.example/abs/2401.01234",
        "https://arxiv.org.evil.example/abs/2401.01234",
        "ftp://arxiv.org/abs/2401.01234",
        "https://arxiv.org/list/cs.LG/recent",
        "https://arxiv.org/abs/",
        "hep-th/990100",
        "hep-th/9913001",  # month 13
        "javascript:alert(1)",
        "2401.01234" * 40,
    ],
)
def test_parse_arxiv_id_rejects(text):
    assert parse_arxiv_id(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.1038/S41586-024-00001-X", "10.1038/s41586-024-00001-x"),
        ("doi:10.1000/XYZ", "10.1000/xyz"),
        ("DOI: 10.1000/xyz.", "10.1000/xyz"),
        ("https://doi.org/10.1145/3600006.3613165", "10.1145/3600006.3613165"),
        ("http://dx.doi.org/10.1002/%28SICI%291097", "10.1002/(sici)1097"),
    ],
)
def test_parse_doi_accepts(text, expected):
    assert parse_doi(text) == expected


@pytest.mark.parametrize(
    "text", ["", "10.12/x", "11.1000/xyz", "doi:", "https://evil.example/10.1000/x", "10.1000/"]
)
def test_parse_doi_rejects(text):
    assert parse_doi(text) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.ORG/Path?a=1#frag", "https://example.org/Path?a=1"),
        ("https://example.org", "https://example.org/"),
        ("http://example.org:80/x", "http://example.org/x"),
        ("https://example.org:8443/x", "https://example.org:8443/x"),
        (
            "https://example.org/p?utm_source=rss&id=4&UTM_Medium=x",
            "https://example.org/p?id=4",
        ),
        ("  https://example.org/x  ", "https://example.org/x"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>x</script>",
        "/relative/path",
        "ftp://example.org/",
        "https://",
        "https://user:pw@example.org/",
        "https://example.org/a b",
        "https://example.org:99999/",
        "",
    ],
)
def test_canonical_url_refuses(url):
    assert canonical_url(url) is None


def test_single_line_collapses_every_kind_of_break():
    raw = " a\r\nb\tc\u2028d\u2029e\x85f\x0bg\x0ch\x00i\x1bj\x7fk\u00a0l  "
    assert single_line(raw) == "a b c d e f g h i j k l"
    assert single_line("") == ""
    assert single_line("plain text") == "plain text"


@pytest.mark.parametrize(
    "text", ["0<p<1", "x<y", "a <b>c", "x < y and 3<4 & z>2", "AT&T", "&amp; stays &amp;"]
)
def test_text_stays_text(text):
    """Plain text keeps "<", ">" and "&" as characters; the renderers escape them."""
    assert single_line(text) == text
    assert feed_text(text, html_declared=False) == text


@pytest.mark.parametrize("text", ["0<p<1", "x<y", "if a<b and c>d", "n < 10 & m > 3"])
def test_maths_in_a_field_declared_html_is_not_mistaken_for_markup(text):
    assert not looks_like_html(text)
    assert feed_text(text, html_declared=True) == text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("We <b>show</b> x&lt;y", "We show x<y"),
        ("<p>One</p><p>Two</p>", "One Two"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("a<!-- hidden -->b", "ab"),
        ("<img src=x onerror=alert(1)>text", "text"),
    ],
)
def test_real_markup_in_a_field_declared_html_is_sanitized(raw, text):
    assert looks_like_html(raw)
    assert feed_text(raw, html_declared=True) == text


def test_bidi_controls_and_invisible_characters_leave_titles_and_names():
    hostile = "Safe\u202etxt.exe\u202c ti\u200btle\ufeff \u2066isolated\u2069"
    assert visible_line(hostile) == "Safetxt.exe title isolated"
    assert visible_line("Mehdi\u200cpour") == "Mehdi\u200cpour"  # ZWNJ spells Persian
    entry = make_entry(title=hostile, arxiv="2401.01234", authors=["Ann\u202eeL", "Bo\u200b"])
    assert entry.title == "Safetxt.exe title isolated"
    assert entry.authors == ("AnneL", "Bo")


def test_html_to_text_strips_markup_scripts_and_handlers():
    raw = (
        '<p onclick="steal()">Hello &amp; <b>welcome</b></p><p>second</p>'
        "<script>alert('x')</script><style>p{}</style>"
        '<img src=x onerror="alert(1)"><a href="javascript:alert(2)">link</a>'
    )
    assert html_to_text(raw) == "Hello & welcome second link"


def test_html_to_text_gives_escaped_markup_back_as_text():
    """Escaped markup in HTML is text about markup: it comes out as those characters (and is
    escaped again wherever it is shown, so it never runs)."""
    assert html_to_text("&lt;script&gt;alert(1)&lt;/script&gt;") == "<script>alert(1)</script>"


def test_html_to_text_keeps_plain_text_and_entities():
    assert html_to_text("a &lt; b &amp;&amp; c &gt; d") == "a < b && c > d"
    assert html_to_text("Caf&eacute; &#x1F600;") == "Café 😀"
    assert html_to_text("E = mc^2, $x_i$") == "E = mc^2, $x_i$"


def test_html_to_text_survives_lone_surrogates_and_nul():
    assert html_to_text("a\ud800b<i>c</i>\x00") == "a?bc"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Alice Smith, Bob Jones", ["Alice Smith", "Bob Jones"]),
        ("Ann Lee, Ben Kim and Cara Diaz", ["Ann Lee", "Ben Kim", "Cara Diaz"]),
        ("Fay Wong, Gil Ramos, and Hal Stone", ["Fay Wong", "Gil Ramos", "Hal Stone"]),
        ("Sandra Anderson and Andy Roe", ["Sandra Anderson", "Andy Roe"]),
        ("", []),
    ],
)
def test_split_authors(text, names):
    assert split_authors(text) == names


def test_paper_key_prefers_arxiv_then_doi_then_url():
    assert paper_key("2401.01234", "10.1/x", "https://a/") == "arxiv:2401.01234"
    assert paper_key(None, "10.1/x", "https://a/") == "doi:10.1/x"
    assert paper_key(None, None, "https://a/") == "url:https://a/"
    assert paper_key(None, None, None) is None


def test_make_entry_normalizes_everything():
    entry = make_entry(
        title="  A\r\n<i>Title</i> ",
        arxiv="https://arxiv.org/abs/2401.01234v2",
        doi="doi:10.1000/ABC",
        abstract="<p>One</p>\n<p>Two</p>",
        title_html=True,
        text_html=True,
        authors=["Alice\nSmith", "Bob", "", "Bob"],
        categories=["cs.LG", "cs.AI", "cs.LG", " "],
        links={"code": "https://github.com/x/y", "evil": "https://e/", "project": "javascript:x"},
        published_at=datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5))),
        arxiv_html=True,
    )
    assert entry.key == "arxiv:2401.01234"
    assert entry.external_id == "2401.01234v2"
    assert (entry.arxiv_id, entry.version, entry.doi) == ("2401.01234", 2, "10.1000/abc")
    assert entry.title == "A Title"
    assert entry.abstract == "One Two"
    assert entry.authors == ("Alice Smith", "Bob")
    assert entry.categories == ("cs.LG", "cs.AI")
    assert entry.primary_category == "cs.LG"
    assert dict(entry.links) == {
        "abs": "https://arxiv.org/abs/2401.01234",
        "pdf": "https://arxiv.org/pdf/2401.01234",
        "html": "https://arxiv.org/html/2401.01234",
        "doi": "https://doi.org/10.1000/abc",
        "code": "https://github.com/x/y",
    }
    assert entry.published_at == datetime(2024, 1, 1, 17, tzinfo=UTC)


def test_make_entry_falls_back_to_doi_then_link():
    by_doi = make_entry(title="T", doi="10.1000/x", link="https://e.org/p")
    assert (by_doi.key, dict(by_doi.links)["link"]) == ("doi:10.1000/x", "https://e.org/p")
    by_link = make_entry(title="T", link="https://E.org/p?utm_source=z#f")
    assert by_link.key == "url:https://e.org/p"
    assert by_link.external_id == "https://e.org/p"


def test_make_entry_untitled_with_id_uses_the_id_as_title():
    assert make_entry(title="", arxiv="2401.01234").title == "arXiv:2401.01234"


def test_make_entry_refuses_entries_without_any_id():
    with pytest.raises(UnusableEntry, match="no title and no arXiv id, DOI or http"):
        make_entry(title=None, link="javascript:alert(1)")
    with pytest.raises(UnusableEntry, match=r"^no arXiv id, DOI or http"):
        make_entry(title="Has a title", arxiv="not an id")


_TAG_START = re.compile(r"</?[A-Za-z][^<>]*>|<!--")  # a whole tag, or a comment


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_property_html_to_text_never_yields_breaks_or_tags(raw):
    for out in (html_to_text(raw), single_line(raw)):
        assert "\r" not in out and "\n" not in out
        assert out == out.strip()
    if "&" not in raw:  # no character reference can spell a "<": every one left is a tag
        assert not _TAG_START.search(html_to_text(raw))


_MARKUP_BITS = st.sampled_from(
    ["<", ">", "&", "&lt;", "&gt;", "&amp;lt;", "<script>", "</script>", "<b", "<!--", "-->",
     "<![CDATA[", "]]>", "\r\n", "\u2028", "\x85", "\x00", "&#10;", "&#x3c;", "a", "é", " ",
     "<img src=x onerror=alert(1)>", "<style>", "</", "?>", "<?"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_MARKUP_BITS, max_size=40).map("".join))
def test_property_markup_soup_never_yields_breaks_or_tags(raw):
    for out in (html_to_text(raw), single_line(raw)):
        assert "\r" not in out and "\n" not in out
    if "&" not in raw:
        assert not _TAG_START.search(html_to_text(raw))
