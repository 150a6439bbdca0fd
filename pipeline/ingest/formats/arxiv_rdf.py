"""arXiv's older listings: RSS 1.0 (RDF), as export.arxiv.org/rss/<category> served until 2024.

Archived copies of these feeds are still around (and mirrored), so they are read as an arXiv
format: the id and the primary category come from the title's suffix
("Title. (arXiv:1209.2411v1 [math.PR] UPDATED)"), which is cut from the stored title; UPDATED
marks a replacement and CROSS LISTED a cross-list, as announce types do in the 2024 format.
The description is HTML (escaped <p>), and so is dc:creator (a link per author).
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.ingest.entry import FeedError, PaperEntry, ParseResult, SkippedEntry
from pipeline.ingest.formats.xmlsafe import parse_xml
from pipeline.ingest.identifiers import split_rdf_title
from pipeline.ingest.normalize import UnusableEntry, html_to_text, make_entry, split_authors

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RSS1_NS = "http://purl.org/rss/1.0/"
DC_NS = "http://purl.org/dc/elements/1.1/"
_R = f"{{{RSS1_NS}}}"
_ARXIV_CHANNEL = re.compile(rb"<channel\s+rdf:about=\"https?://(?:[a-z]+\.)?arxiv\.org/?\"")


class ArxivRdf:
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
        for position, item in enumerate(root.iterchildren(f"{_R}item")):
            try:
                entries.append(_entry(item))
            except UnusableEntry as error:
                skipped.append(SkippedEntry(position, str(error)))
        channel = root.find(f"{_R}channel")
        title = _text(channel, f"{_R}title") if channel is not None else ""
        return ParseResult(entries, skipped, feed_title=title.strip() or None)


def _entry(item: Any) -> PaperEntry:
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
        categories=[parts.category] if parts.category else [],
        announce_type=parts.announce_type,
        arxiv_html=True,
    )


def _text(element: Any, tag: str) -> str:
    return str(element.findtext(tag) or "")


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


FORMAT = ArxivRdf()
