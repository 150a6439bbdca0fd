"""bioRxiv and medRxiv through their public JSON API (api.biorxiv.org).

    https://api.biorxiv.org/details/<server>/<from>/<to>/<cursor>      (dates YYYY-MM-DD)
    https://api.biorxiv.org/details/<server>/<N>d/<cursor>             (the last N days)

An answer holds `messages` (status, count, total, cursor) and a `collection` of up to 100
records, one per version of a preprint: doi, version, title, authors ("A; B; C"), date,
category, abstract, server. A paper is its DOI; versions fold into one paper (the newest
version's text wins, as with arXiv). The next page is the same URL with the cursor moved on.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pipeline.ingest.entry import FeedError, NoCatchUp, PaperEntry, ParseResult, SkippedEntry
from pipeline.ingest.normalize import UnusableEntry, make_entry

PAGE_SIZE = 100  # the API's fixed page size
_PATH = re.compile(
    r"^/details/(?P<server>biorxiv|medrxiv)/(?P<range>[^/]+(?:/[^/]+)?)/?(?P<cursor>\d+)?/?$"
)
_SERVERS = {"biorxiv": "https://www.biorxiv.org", "medrxiv": "https://www.medrxiv.org"}


class Biorxiv(NoCatchUp):
    """The "biorxiv" kind (bioRxiv and medRxiv alike: the server is in the URL)."""

    kind = "biorxiv"

    def sniff(self, body: bytes, content_type: str | None) -> bool:
        head = body[:2048]
        return b'"collection"' in head or (b'"messages"' in head and b'"cursor"' in head)

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> ParseResult:
        data = _load(body)
        messages = data.get("messages")
        status = messages[0] if isinstance(messages, list) and messages else {}
        if not isinstance(status, dict):
            status = {}
        if str(status.get("status", "ok")).lower() not in ("ok", "no posts found"):
            raise FeedError(f"bioRxiv API says: {str(status.get('status'))[:200]}")
        records = data.get("collection")
        if records is None:
            records = []
        if not isinstance(records, list):
            raise FeedError("bioRxiv API answer without a collection list")
        entries: list[PaperEntry] = []
        skipped: list[SkippedEntry] = []
        for position, record in enumerate(records):
            try:
                entries.append(_entry(record))
            except UnusableEntry as error:
                skipped.append(SkippedEntry(position, str(error)))
        server = _server_of(url)
        title = f"{server} preprints" if server else "bioRxiv preprints"
        return ParseResult(entries, skipped, feed_title=title, next_url=_next_page(url, status))


def _load(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise FeedError(f"empty body ({len(body)} bytes)")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise FeedError(f"malformed JSON: {str(error)[:200]}") from None
    if not isinstance(data, dict):
        raise FeedError(f"expected a JSON object from the bioRxiv API, got {type(data).__name__}")
    return data


def _entry(record: object) -> PaperEntry:
    if not isinstance(record, dict):
        raise UnusableEntry(f"record is {type(record).__name__}, not an object")
    doi = _str(record.get("doi"))
    version = _str(record.get("version"))
    server = _str(record.get("server")).lower() or "biorxiv"
    base = _SERVERS.get(server, _SERVERS["biorxiv"])
    link = f"{base}/content/{doi}v{version}" if doi and version.isdigit() else None
    return make_entry(
        title=_str(record.get("title")),
        doi=f"{doi}v{version}" if doi and version.isdigit() else doi,
        link=link,
        abstract=_str(record.get("abstract")),
        authors=[a.strip() for a in _str(record.get("authors")).split(";") if a.strip()],
        categories=[_str(record.get("category"))] if record.get("category") else [],
        published_at=_date(record.get("date")),
        links={"pdf": f"{link}.full.pdf" if link else None},
    )


def _next_page(url: str, status: dict[str, Any]) -> str | None:
    """The same query with the cursor moved past this page, while records remain."""
    try:
        cursor = int(status.get("cursor", 0))
        count = int(status.get("count", 0))
        total = int(status.get("total", 0))
    except (TypeError, ValueError):
        return None
    if count <= 0 or cursor + count >= total:
        return None
    parts = urlsplit(url)
    match = _PATH.match(parts.path)
    if match is None:
        return None
    path = f"/details/{match['server']}/{match['range']}/{cursor + count}"
    return urlunsplit(parts._replace(path=path))


def _server_of(url: str) -> str | None:
    match = _PATH.match(urlsplit(url).path)
    return {"biorxiv": "bioRxiv", "medrxiv": "medRxiv"}[match["server"]] if match else None


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


FORMAT = Biorxiv()
