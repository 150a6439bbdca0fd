"""Papers on the site's pages: every title a link, a feed item's own link and DOI shown, TeX
shown as Unicode, and the wording of how an edition is ranked true to its papers."""

from __future__ import annotations

from datetime import UTC, datetime

import lxml.html

from pipeline.digest.planning import plan_edition
from pipeline.ingest.formats import parse_body
from pipeline.ingest.persist import store_entries
from pipeline.store.db import write_transaction
from pipeline.store.models import Source
from tests.support.world import add_readers
from tests.workers.web.site import Site

OWN_PAGE = "https://lab.example.org/posts/sparse-attention"
DOI = "10.1038/s41586-024-00001-x"
FEED = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Lab Blog</title>
    <link>https://lab.example.org/</link>
    <description>Papers from the lab.</description>
    <item>
      <title>Notes on sparse attention</title>
      <link>{OWN_PAGE}</link>
      <description>A post keyed by its link.</description>
      <dc:creator>Ann Lee</dc:creator>
    </item>
    <item>
      <title>$\\alpha$-Stable Schr\\"odinger bridges in $O(n^{{2}})$</title>
      <link>https://journal.example.com/articles/7</link>
      <dc:identifier>doi:{DOI.upper()}</dc:identifier>
      <description>We bound it by $\\epsilon \\leq 10^{{-3}}$ &amp; more.</description>
    </item>
  </channel>
</rss>
""".encode()


def _store_feed(site: Site) -> None:
    """The feed as ingestion stores it (the generic RSS/Atom reader, then the upsert)."""
    _, parsed = parse_body("feed", FEED, url="https://lab.example.org/feed.xml")
    assert len(parsed.entries) == 2 and not parsed.skipped
    with write_transaction(site.sessions) as session:
        source = Source(name="lab", kind="feed", url="https://lab.example.org/feed.xml")
        session.add(source)
        session.flush()
        store_entries(session, source.id, parsed.entries, datetime.now(UTC))


def _cards(html: str) -> dict[str, lxml.html.HtmlElement]:
    tree = lxml.html.document_fromstring(html)
    return {
        " ".join(card.xpath(".//*[@class='paper-title']")[0].text_content().split()): card
        for card in tree.xpath("//li[@class='paper']")
    }


def _check_cards(html: str) -> None:
    cards = _cards(html)
    tex_title = "α-Stable Schrödinger bridges in O(n²)"  # noqa: RUF001
    assert set(cards) == {"Notes on sparse attention", tex_title}
    for card in cards.values():  # every title is a link
        assert card.xpath(".//*[@class='paper-title']/a/@href")[0].startswith("https://")
    by_link = cards["Notes on sparse attention"]
    assert by_link.xpath(".//*[@class='paper-title']/a/@href") == [OWN_PAGE]
    assert by_link.xpath(".//p[@class='ways-in']/a/text()") == ["lab.example.org"]
    by_doi = cards[tex_title]
    assert by_doi.xpath(".//*[@class='paper-title']/a/@href") == [
        "https://journal.example.com/articles/7"
    ]
    assert by_doi.xpath(".//a[@class='doi']/text()") == [DOI]
    assert by_doi.xpath(".//a[@class='doi']/@href") == [f"https://doi.org/{DOI}"]
    assert "DOI" in by_doi.xpath(".//p[@class='ways-in']")[0].text_content()
    assert "$" not in html and "\\alpha" not in html


def test_home_page_feed_items_have_a_way_in_and_readable_tex(site: Site) -> None:
    _store_feed(site)
    html = site.client().get("/").get_data(as_text=True)
    _check_cards(html)


def test_archive_page_feed_items_have_a_way_in_and_readable_tex(site: Site) -> None:
    _store_feed(site)
    add_readers(site.sessions, 1)
    with write_transaction(site.sessions) as session:
        report = plan_edition(session, cadence="daily")
    html = site.client().get(f"/archive/{report.edition_id}").get_data(as_text=True)
    _check_cards(html)
    text = " ".join(lxml.html.document_fromstring(html).text_content().split())
    # no paper has upvotes: the page does not claim they are ranked by them
    assert "upvote" not in text.lower()
    assert "ranked by how new they are and how many feeds list them" in text
    assert "We bound it by ϵ ≤ 10⁻³ & more." in text


def test_titles_on_the_site_are_styled_as_links(site: Site) -> None:
    response = site.client().get("/static/site.css")
    css = response.get_data(as_text=True)
    response.close()
    rule = next(line for line in css.splitlines() if line.startswith(".paper h3 a,"))
    assert "color: var(--accent)" in rule and "text-decoration: underline" in rule
