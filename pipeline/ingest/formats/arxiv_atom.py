"""arXiv API answers (export.arxiv.org/api/query): Atom 1.0 with arXiv's own extensions.

The API reports a bad query as a feed holding one entry whose id is
http://arxiv.org/api/errors#...; that is refused as a FeedError carrying the API's message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.ingest.entry import FeedError, NoCatchUp, PaperEntry, ParseResult, SkippedEntry
from pipeline.ingest.formats.xmlsafe import parse_xml
from pipeline.ingest.identifiers import is_arxiv_category
from pipeline.ingest.normalize import UnusableEntry, html_to_text, make_entry, single_line

ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_NS = "http://arxiv.org/schemas/atom"
_A = f"{{{ATOM_NS}}}"
_X = f"{{{ARXIV_NS}}}"
_ERROR_ID_PREFIX = "http://arxiv.org/api/errors"


class ArxivAtom(NoCatchUp):
    """The "arxiv-atom" kind."""

    kind = "arxiv-atom"

    def sniff(self, body: bytes, content_type: str | None) -> bool:
        head = body[:2048]
        return b"<feed" in head and (b"arxiv.org/api" in head or ARXIV_NS.encode() in head)

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> ParseResult:
        root = parse_xml(body, content_type)
        if root.tag != f"{_A}feed":
            raise FeedError(f"not an Atom feed: the root element is <{_local(root.tag)}>")
        entries: list[PaperEntry] = []
        skipped: list[SkippedEntry] = []
        for position, element in enumerate(root.iterchildren(f"{_A}entry")):
            entry_id = _text(element, f"{_A}id")
            if entry_id.startswith(_ERROR_ID_PREFIX):
                message = single_line(_text(element, f"{_A}summary")) or entry_id
                raise FeedError(f"arXiv API error: {message[:300]}")
            try:
                entries.append(_entry(element, entry_id))
            except UnusableEntry as error:
                skipped.append(SkippedEntry(position, str(error)))
        title = html_to_text(_text(root, f"{_A}title")) or None
        return ParseResult(entries, skipped, feed_title=title)


def _entry(element: Any, entry_id: str) -> PaperEntry:
    links: dict[str, str] = {}
    for link in element.iterchildren(f"{_A}link"):
        href = link.get("href") or ""
        if link.get("title") == "pdf":
            links.setdefault("pdf", href)
        elif link.get("title") == "doi":
            links.setdefault("doi", href)
        elif link.get("rel", "alternate") == "alternate":
            links.setdefault("abs", href)
    primary = element.find(f"{_X}primary_category")
    # The API lists MSC and ACM classes as categories too ("57M25; 57M27"): not arXiv's.
    terms = [str(c.get("term") or "").strip() for c in element.iterchildren(f"{_A}category")]
    comment = _text(element, f"{_X}comment")
    journal = _text(element, f"{_X}journal_ref")
    if journal:
        comment = f"{comment}; Journal ref: {journal}" if comment else f"Journal ref: {journal}"
    return make_entry(
        title=_text(element, f"{_A}title"),
        arxiv=entry_id or links.get("abs"),
        doi=_text(element, f"{_X}doi") or links.get("doi"),
        link=links.get("abs") or entry_id,
        abstract=_text(element, f"{_A}summary"),
        authors=[_text(author, f"{_A}name") for author in element.iterchildren(f"{_A}author")],
        categories=[term for term in terms if is_arxiv_category(term)],
        primary_category=primary.get("term") if primary is not None else None,
        comment=comment or None,
        published_at=_iso_date(_text(element, f"{_A}published")),
    )


def _iso_date(raw: str) -> datetime | None:
    """RFC 3339 timestamps as Atom requires (RFC 4287 section 3.3)."""
    try:
        return datetime.fromisoformat(raw.strip()) if raw else None
    except ValueError:
        return None


def _text(element: Any, tag: str) -> str:
    return str(element.findtext(tag) or "")


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


FORMAT = ArxivAtom()
