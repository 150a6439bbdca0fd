"""arXiv's older listings: RSS 1.0 (RDF), as export.arxiv.org/rss/<category> served until 2024.

Archived copies of these feeds are still around (and mirrored), so they are read as an arXiv
format: the id and the primary category come from the title's suffix
("Title. (arXiv:1209.2411v1 [math.PR] UPDATED)"), which is cut from the stored title; UPDATED
marks a replacement and CROSS LISTED a cross-list, as announce types do in the 2024 format.
The description is HTML (escaped <p>), and so is dc:creator (a link per author). Items carry
no date: each is dated by the channel's dc:date, the listing's (as an RSS 2.0 item's pubDate
is), so a paper read from an archived copy is not taken for a new one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pipeline.ingest.entry import FeedError, NoCatchUp, PaperEntry, ParseResult, SkippedEntry
from pipeline.ingest.formats.xmlsafe import parse_xml
from pipeline.ingest.identifiers import listing_category, split_rdf_title, with_listing
from pipeline.ingest.normalize import UnusableEntry, html_to_text, make_entry, split_authors

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RSS1_NS = "http://purl.org/rss/1.0/"
DC_NS = "http://purl.org/dc/elements/1.1/"
_R = f"{{{RSS1_NS}}}"
_DATE = f"{{{DC_NS}}}date"
_ARXIV_CHANNEL = re.compile(rb"<channel\s+rdf:about=\"https?://(?:[a-z]+\.)?arxiv\.org/?\"")


class ArxivRdf(NoCatchUp):
    """The "arxiv-rdf" kind."""

    kind = "arxiv-rdf"

    def sniff(self, body: bytes, content_type: str | None) -> bool:
        """An RSS 1.0 feed whose channel is arXiv's (another RDF feed may link to arXiv)."""
        head = body[:4096]
        return RSS1_NS.encode() in head and _ARXIV_CHANNEL.search(head) is not None

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> ParseResult:
        root = parse_xml(body, content_type)
        if root.tag != f"{{{RDF_NS}}}RDF":
            raise FeedError(f"not an RSS 1.0 feed: the root element is <{_local(root.tag)}>")
        entries: list[PaperEntry] = []
        skipped: list[SkippedEntry] = []
        channel = root.find(f"{_R}channel")
        title = _text(channel, f"{_R}title").strip() if channel is not None else ""
        listing = listing_category(url, title)
        listed = _w3c_date(_text(channel, _DATE)) if channel is not None else None
        for position, item in enumerate(root.iterchildren(f"{_R}item")):
            try:
                entries.append(_entry(item, listing, listed))
            except UnusableEntry as error:
                skipped.append(SkippedEntry(position, str(error)))
        return ParseResult(entries, skipped, feed_title=title or None)


def _entry(item: Any, listing: str | None, listed: datetime | None) -> PaperEntry:
    parts = split_rdf_title(_text(item, f"{_R}title"))
    link = _text(item, f"{_R}link") or str(item.get(f"{{{RDF_NS}}}about") or "")
    creators = html_to_text(_text(item, f"{{{DC_NS}}}creator"))
    return make_entry(
        title=parts.title,
        arxiv=parts.arxiv or link,
        link=link,
        abstract=_text(item, f"{_R}description"),
        text_html=True,
        authors=split_authors(creators),
        categories=with_listing(
            [parts.category] if parts.category else [], listing, parts.announce_type
        ),
        published_at=_w3c_date(_text(item, _DATE)) or listed,
        announce_type=parts.announce_type,
        arxiv_html=True,
    )


def _w3c_date(raw: str) -> datetime | None:
    """dc:date is W3C-DTF ("2012-09-12T20:30:00-05:00"), a profile of ISO 8601."""
    try:
        return datetime.fromisoformat(raw.strip()) if raw.strip() else None
    except ValueError:
        return None


def _text(element: Any, tag: str) -> str:
    return str(element.findtext(tag) or "")


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


FORMAT = ArxivRdf()
