"""arXiv's RSS 2.0 listings as served since 2024 (rss.arxiv.org/rss/<category>).

Parsed with lxml in one pass over each item's children: a daily cs listing runs to thousands
of items and feedparser is several times slower (see docs/benchmarks.md).
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pipeline.ingest.entry import FeedError, NoCatchUp, PaperEntry, ParseResult, SkippedEntry
from pipeline.ingest.formats.xmlsafe import parse_xml
from pipeline.ingest.identifiers import listing_category, with_listing
from pipeline.ingest.normalize import UnusableEntry, html_to_text, make_entry, split_authors

ARXIV_NS = "http://arxiv.org/schemas/atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
_ANNOUNCE = f"{{{ARXIV_NS}}}announce_type"
_DOI = f"{{{ARXIV_NS}}}DOI"
_JOURNAL = f"{{{ARXIV_NS}}}journal_reference"
_CREATOR = f"{{{DC_NS}}}creator"
# "arXiv:2401.01234v1 Announce Type: new \nAbstract: ..." (the 2024 description layout).
_DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.DOTALL
)


class ArxivRss(NoCatchUp):
    """The "arxiv-rss" kind."""

    kind = "arxiv-rss"

    def sniff(self, body: bytes, content_type: str | None) -> bool:
        head = body[:2048]
        return b"<rss" in head and ARXIV_NS.encode() in head

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> ParseResult:
        root = parse_xml(body, content_type)
        channel = root.find("channel")
        if root.tag != "rss" or channel is None:
            raise FeedError(f"not an RSS 2.0 feed: the root element is <{_local(root.tag)}>")
        entries: list[PaperEntry] = []
        skipped: list[SkippedEntry] = []
        dates: dict[str, datetime | None] = {}
        title = html_to_text(_text(channel.find("title")))
        listing = listing_category(url, title)
        for position, item in enumerate(channel.iterchildren("item")):
            try:
                entries.append(_entry(item, dates, listing))
            except UnusableEntry as error:
                skipped.append(SkippedEntry(position, str(error)))
        return ParseResult(entries, skipped, feed_title=title or None)


def _entry(item: Any, dates: dict[str, datetime | None], listing: str | None) -> PaperEntry:
    fields: dict[str, str] = {}
    categories: list[str] = []
    for child in item.iterchildren():
        tag, text = child.tag, child.text
        if not isinstance(tag, str) or not text:
            continue
        if tag == "category":
            categories.append(text)
        else:
            fields.setdefault(tag, text)
    description = fields.get("description", "")
    announced = _DESCRIPTION.match(description)
    abstract = description[announced.end() :] if announced else description
    arxiv = fields.get("guid") or (announced["id"] if announced else None) or fields.get("link")
    announce_type = fields.get(_ANNOUNCE) or (announced["type"] if announced else None)
    journal = fields.get(_JOURNAL)
    return make_entry(
        title=fields.get("title"),
        arxiv=arxiv,
        doi=fields.get(_DOI),
        link=fields.get("link"),
        abstract=abstract,
        authors=split_authors(fields.get(_CREATOR, "")),
        categories=with_listing(categories, listing, announce_type),
        comment=f"Journal ref: {journal}" if journal else None,
        published_at=_date(fields.get("pubDate"), dates),
        announce_type=announce_type,
        arxiv_html=True,
    )


def _date(raw: str | None, cache: dict[str, datetime | None]) -> datetime | None:
    """RFC 822 dates (RSS 2.0); a listing shares a handful, so each is parsed once."""
    if not raw:
        return None
    if raw not in cache:
        try:
            cache[raw] = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            cache[raw] = None
    return cache[raw]


def _text(element: Any) -> str:
    return str(element.text or "") if element is not None else ""


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


FORMAT = ArxivRss()
