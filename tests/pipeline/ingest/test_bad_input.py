"""Bad and hostile bodies: refused with one clear line, or rendered harmless."""

from __future__ import annotations

import pytest

from pipeline.ingest.entry import FeedError
from pipeline.ingest.formats import detect_kind, parse_body
from pipeline.ingest.formats.xmlsafe import check_xml_body, decode_xml
from tests.conftest import FIXTURES
from tests.support.inert import assert_inert

FEEDS = FIXTURES / "feeds"
URL = "https://feeds.example.org/x"

BAD = [
    ("malformed.xml", r"^malformed XML at line 9: Opening and ending tag mismatch: description"),
    ("truncated.xml", r"^malformed XML at line \d+: Premature end of data .*truncated\?\)$"),
    ("html_error_page.html", r"^got an HTML page instead of a feed .*503 Service Temporarily"),
    ("billion_laughs.xml", r"^the DOCTYPE declares entities .*billion laughs"),
    ("xxe.xml", r"^the DOCTYPE names an external DTD \(SYSTEM identifier; .*XXE"),
    ("wrong_shape.json", r"^expected a JSON list of daily papers, got an object: 'Invalid date"),
    ("mislabeled_encoding.xml", r"^body is not valid UTF-8 as declared: byte 0xE9 at offset \d+"),
    ("empty.xml", r"^empty body \(0 bytes\)$"),
]
KINDS = [None, "arxiv-rss", "arxiv-atom", "feed"]


def assert_one_line(error: FeedError) -> None:
    message = str(error)
    assert message
    assert "\n" not in message and "\r" not in message
    assert len(message) < 300


@pytest.mark.parametrize(("name", "pattern"), BAD)
def test_bad_fixture_is_refused_with_one_clear_line(name, pattern):
    with pytest.raises(FeedError, match=pattern) as caught:
        parse_body(None, (FEEDS / name).read_bytes(), URL, None)
    assert_one_line(caught.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "name",
    [
        "html_error_page.html",
        "billion_laughs.xml",
        "xxe.xml",
        "mislabeled_encoding.xml",
        "empty.xml",
    ],
)
def test_xml_refusals_hold_for_every_xml_kind(name, kind):
    with pytest.raises(FeedError) as caught:
        parse_body(kind, (FEEDS / name).read_bytes(), URL, "text/html" if "html" in name else None)
    assert_one_line(caught.value)


@pytest.mark.parametrize("kind", ["arxiv-rss", "arxiv-atom"])
@pytest.mark.parametrize("name", ["malformed.xml", "truncated.xml"])
def test_strict_kinds_refuse_broken_xml(name, kind):
    with pytest.raises(FeedError, match=r"^malformed XML at line") as caught:
        parse_body(kind, (FEEDS / name).read_bytes(), URL, None)
    assert_one_line(caught.value)


def test_html_page_names_the_content_type():
    with pytest.raises(FeedError, match="got an HTML page served as 'text/html; charset=utf-8'"):
        body = (FEEDS / "html_error_page.html").read_bytes()
        parse_body("feed", body, URL, "text/html; charset=utf-8")


def test_parameter_entities_and_public_dtds_are_refused():
    param = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">%p;]><rss/>'
    )
    with pytest.raises(FeedError, match="declares entities"):
        check_xml_body(param)
    public = b'<!DOCTYPE rss PUBLIC "-//Evil//EN" "http://127.0.0.1:9/e.dtd"><rss version="2.0"/>'
    with pytest.raises(FeedError, match="PUBLIC identifier"):
        check_xml_body(public)


def test_doctype_hidden_after_a_comment_is_still_seen():
    body = b'<?xml version="1.0"?><!-- <rss> --><!DOCTYPE x SYSTEM "file:///etc/passwd"><rss/>'
    with pytest.raises(FeedError, match="external DTD"):
        check_xml_body(body)


def test_netscape_rss091_dtd_is_harmless_and_allowed():
    body = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
        b"<title>Old</title><item><title>Paper</title><link>https://arxiv.org/abs/2401.01234</link>"
        b"</item></channel></rss>"
    )
    kind, result = parse_body(None, body, URL, None)
    assert (kind, [e.key for e in result.entries]) == ("feed", ["arxiv:2401.01234"])


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        (b"   \n\t ", r"^empty body \(6 bytes\)$"),
        (b"Service Unavailable\r\n", r"^not an XML feed: the body starts with 'Service Unava"),
        (b'<?xml version="1.0" encoding="x-klingon"?><rss/>', r"^unknown encoding 'x-klingon'"),
        (b'<?xml version="1.0" encoding="us-ascii"?><rss>\xc3\xa9</rss>', r"^body is not valid US"),
    ],
)
def test_other_unusable_bodies(body, pattern):
    with pytest.raises(FeedError, match=pattern) as caught:
        parse_body("feed", body, URL, None)
    assert_one_line(caught.value)


def test_declared_and_bom_encodings_are_honoured():
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><rss><t>é</t></rss>'.encode("latin-1")
    assert "é" in decode_xml(latin)
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><rss><t>é</t></rss>'.encode("utf-16")
    assert "é" in decode_xml(utf16)


def test_deep_xml_nesting_is_refused():
    body = b"<rss>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</rss>"
    with pytest.raises(FeedError, match=r"^malformed XML at line 1: .*[Dd]epth"):
        parse_body("arxiv-rss", body, URL, None)


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        (b"[" * 50_000_000, r"^JSON nested too deeply"),
        (b'{"data": []}', r"^expected a JSON list of daily papers, got an object with keys \['d"),
        (b'"just a string"', r"^expected a JSON list of daily papers, got str$"),
        (b"[{]", r"^malformed JSON: "),
        (b'["\xff"]', r"^(JSON body is not valid UTF-8|malformed JSON)"),
        (b"[" + b" " * 64_000_001, r"^JSON body too large"),
    ],
)
def test_bad_json_is_refused(body, pattern):
    with pytest.raises(FeedError, match=pattern) as caught:
        parse_body("hf-daily", body, URL, "application/json")
    assert_one_line(caught.value)


def test_unrecognized_json_is_detected_as_hf_daily_for_a_clear_error():
    body = (FEEDS / "wrong_shape.json").read_bytes()
    assert detect_kind(body, None) == "hf-daily"


@pytest.mark.parametrize("kind", [None, "feed"])
def test_hostile_feed_is_rendered_harmless(kind):
    """Stored text is single-line plain text; markup in it never becomes markup again."""
    _, result = parse_body(kind, (FEEDS / "hostile.xml").read_bytes(), URL, None)
    assert len(result.entries) == 2
    assert [s.reason for s in result.skipped] == ["no arXiv id, DOI or http(s) link"]
    assert result.feed_title is not None
    for entry in result.entries:
        for text in (entry.title, entry.abstract, *entry.authors, *entry.categories):
            assert "\r" not in text and "\n" not in text and "\u2028" not in text
        assert all(url.startswith("https://") for url in entry.links.values())
    first, second = result.entries
    # feedparser reads the C1 control &#x85; as cp1252's ellipsis; either way, one line.
    assert first.title.startswith("Line one Bcc: victim@example.org Line three")
    assert first.title.endswith("tabbed <script>alert(document.cookie)</script>")  # as text
    assert first.categories == ("cs.CR Injected: header",)
    # titles are plain text in RSS: the markup in this one is kept as the characters it is
    assert second.title.startswith('<b onmouseover="alert(5)">Bold</b> title with')
    if kind == "feed":  # an RSS description is declared HTML, and this one is: sanitized
        for bad in ("<img", "<svg", "<style", "onerror=", "onclick", "javascript:", "location"):
            assert bad not in first.abstract.lower(), (bad, first.abstract)
        # what was escaped in the HTML is text about markup, kept as such
        assert first.abstract.endswith("Text click <script>escaped</script> tail")
    assert_inert(result.entries)
