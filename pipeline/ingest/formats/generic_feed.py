"""Any RSS 0.9x/1.0/2.0 or Atom feed, through feedparser (after the xmlsafe checks).

feedparser is lenient on purpose ("bozo" feeds): when it recovers entries from a broken body
they are kept, as lemon24/reader does; only a body yielding nothing and not even looking like a
feed is refused. Identity: an arXiv id in the link/id/any link, else a DOI, else the link.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import feedparser

from pipeline.ingest.entry import FeedError, NoCatchUp, PaperEntry, ParseResult, SkippedEntry
from pipeline.ingest.formats.xmlsafe import check_xml_body
from pipeline.ingest.identifiers import parse_arxiv_id, parse_doi
from pipeline.ingest.normalize import (
    UnusableEntry,
    html_to_text,
    make_entry,
    single_line,
    split_authors,
)

_FEED_ROOTS = (b"<rss", b"<feed", b"<rdf:RDF", b"<RDF", b"<channel")
HTML_TYPES = ("text/html", "application/xhtml+xml")


class GenericFeed(NoCatchUp):
    """The "feed" kind."""

    kind = "feed"

    def sniff(self, body: bytes, content_type: str | None) -> bool:
        head = body[:4096]
        return any(root in head for root in _FEED_ROOTS)

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> ParseResult:
        check_xml_body(body, content_type)
        headers = {"content-location": url}
        if content_type:
            headers["content-type"] = content_type
        # A BytesIO, never bytes: feedparser would try to open a bytes argument as a file name.
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False)
        if not parsed.entries and not parsed.get("version"):
            problem = parsed.get("bozo_exception")
            why = f": {single_line(str(problem))[:200]}" if problem else ""
            raise FeedError(f"not an RSS or Atom feed{why}")
        entries: list[PaperEntry] = []
        skipped: list[SkippedEntry] = []
        for position, item in enumerate(parsed.entries):
            try:
                entries.append(_entry(item))
            except UnusableEntry as error:
                skipped.append(SkippedEntry(position, str(error)))
        title = html_to_text(_str(parsed.feed.get("title"))) or None
        return ParseResult(entries, skipped, feed_title=title)


def _entry(item: Any) -> PaperEntry:
    link = _str(item.get("link"))
    entry_id = _str(item.get("id"))
    hrefs = [_str(each.get("href")) for each in item.get("links") or [] if hasattr(each, "get")]
    identifier = _str(item.get("dc_identifier"))
    arxiv = next((c for c in (link, entry_id, identifier, *hrefs) if c and parse_arxiv_id(c)), None)
    doi_sources = (_str(item.get("prism_doi")), identifier, entry_id, *hrefs)
    # An arXiv DOI (10.48550/arXiv.ID) is the arXiv id again, found above: the DOI is the
    # journal's, and a stored paper keeps the first DOI it is given.
    doi = next((c for c in doi_sources if c and parse_doi(c) and not parse_arxiv_id(c)), None)
    content = item.get("content") or []
    abstract, abstract_type = _str(item.get("summary")), _type(item.get("summary_detail"))
    if not abstract and content:
        abstract, abstract_type = _str(content[0].get("value")), _type(content[0])
    return make_entry(
        title=_str(item.get("title")),
        arxiv=arxiv,
        doi=doi,
        link=link or next((h for h in hrefs if h), None),
        external_id=entry_id or link or None,
        abstract=abstract,
        authors=_authors(item),
        categories=[_str(t.get("term")) for t in item.get("tags") or [] if hasattr(t, "get")],
        published_at=_date(item.get("published_parsed") or item.get("updated_parsed")),
        title_html=_type(item.get("title_detail")) in HTML_TYPES,
        text_html=abstract_type in HTML_TYPES,
    )


def _authors(item: Any) -> list[str]:
    """The names as the feed gives them. One dc:creator holding the whole list, as arXiv and
    chemRxiv write it ("Ana Ruiz, Bo Chen and Yuki Sato"), is split; not when a part is a lone
    word, which is a "Surname, Given" name ("Hopper, Grace")."""
    given = [_str(a.get("name")) for a in item.get("authors") or [] if hasattr(a, "get")]
    names = [name for name in given if name] or [_str(item.get("author"))]
    if len(names) == 1:
        parts = split_authors(names[0])
        if len(parts) > 1 and all(len(part.split()) > 1 for part in parts):
            return parts
    return names


def _type(detail: object) -> str:
    """The content type feedparser read for a field (text/plain, text/html...)."""
    return _str(detail.get("type")) if hasattr(detail, "get") else ""


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _date(value: Any) -> datetime | None:
    """feedparser gives UTC struct_time tuples."""
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


FORMAT = GenericFeed()
