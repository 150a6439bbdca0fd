"""Hugging Face daily papers (huggingface.co/api/daily_papers): a JSON list, one object a paper.

Each item nests the paper under "paper" (id = arXiv id, title, summary, authors, upvotes,
githubRepo, githubStars, projectPage, ai_summary, ai_keywords, organization, publishedAt,
submittedOnDailyAt) and repeats some fields at the top level (title, summary, publishedAt,
numComments, thumbnail). Optional fields may be absent or null. The shape is not a published
contract, so a wrong shape is refused whole and a wrong field type is dropped, never a crash.

`?date=YYYY-MM-DD` asks for one past day: after downtime the runner fetches each missed day
(`catch_up_urls`), so no day's trending papers are lost.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pipeline.ingest.entry import FeedError, PaperEntry, ParseResult, SkippedEntry
from pipeline.ingest.normalize import UnusableEntry, make_entry, non_negative_int

# The real answer is well under 1 MB; settings.max_feed_bytes bounds downloads before this.
MAX_JSON_BYTES = 64_000_000


class HfDaily:
    """The "hf-daily" kind."""

    kind = "hf-daily"

    def sniff(self, body: bytes, content_type: str | None) -> bool:
        """Any JSON: this is the only JSON kind, so its parse gives the clearest error."""
        start = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
        return start[:1] in (b"[", b"{") or "json" in (content_type or "").lower()

    def catch_up_urls(
        self, url: str, last_ok: datetime | None, now: datetime, max_days: int
    ) -> list[str]:
        """The daily pages since the last good fetch, oldest first: its own day again (papers
        featured later that day, upvotes that came since) up to yesterday; at most max_days."""
        if last_ok is None or max_days <= 0:
            return []
        days = []
        day = max(last_ok.date(), now.date() - timedelta(days=max_days))
        while day < now.date():
            days.append(day)
            day += timedelta(days=1)
        return [_with_date(url, day) for day in days]

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> ParseResult:
        items = _load_list(body)
        entries: list[PaperEntry] = []
        skipped: list[SkippedEntry] = []
        for position, item in enumerate(items):
            try:
                entries.append(_entry(item))
            except UnusableEntry as error:
                skipped.append(SkippedEntry(position, str(error)))
        return ParseResult(entries, skipped, feed_title="Hugging Face daily papers")


def _load_list(body: bytes) -> list[Any]:
    if not body.strip():
        raise FeedError(f"empty body ({len(body)} bytes)")
    if len(body) > MAX_JSON_BYTES:
        raise FeedError(f"JSON body too large: {len(body)} bytes (limit {MAX_JSON_BYTES})")
    try:
        data = json.loads(body)
    except RecursionError:
        raise FeedError("JSON nested too deeply to be a daily papers list") from None
    except UnicodeDecodeError as error:
        raise FeedError(f"JSON body is not valid UTF-8 (byte at offset {error.start})") from None
    except ValueError as error:
        raise FeedError(f"malformed JSON: {str(error)[:200]}") from None
    if isinstance(data, dict):
        said = data.get("error") or data.get("message")
        detail = f": {str(said)[:200]!r}" if said else f" with keys {sorted(data)[:5]}"
        raise FeedError(f"expected a JSON list of daily papers, got an object{detail}")
    if not isinstance(data, list):
        raise FeedError(f"expected a JSON list of daily papers, got {type(data).__name__}")
    return data


def _entry(item: Any) -> PaperEntry:
    if not isinstance(item, dict):
        raise UnusableEntry(f"item is {type(item).__name__}, not an object")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise UnusableEntry("item has no 'paper' object")
    paper_id = _str(paper.get("id"))
    return make_entry(
        title=_str(paper.get("title")) or _str(item.get("title")),  # (hard line wraps fold)
        arxiv=paper_id,
        external_id=paper_id or None,
        abstract=_str(paper.get("summary")) or _str(item.get("summary")),
        authors=[_str(a.get("name")) for a in _list(paper.get("authors")) if isinstance(a, dict)],
        links={
            "code": _str(paper.get("githubRepo")),
            "project": _str(paper.get("projectPage")),
        },
        thumbnail=_str(item.get("thumbnail")) or None,
        # paper.publishedAt is the paper's own date. The top-level publishedAt is not used: since
        # 2025 it is that date shifted by New York's UTC offset yet still written with a "Z".
        published_at=_date(paper.get("publishedAt")),
        featured_at=_date(paper.get("submittedOnDailyAt")) or _date(item.get("submittedOnDailyAt")),
        upvotes=non_negative_int(paper.get("upvotes")),
        num_comments=non_negative_int(item.get("numComments")),
        github_stars=non_negative_int(paper.get("githubStars")),
        summary=_str(paper.get("ai_summary")) or None,
        keywords=[k for k in _list(paper.get("ai_keywords")) if isinstance(k, str)],
        organization=_organization(paper.get("organization") or item.get("organization")),
    )


def _with_date(url: str, day: date) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "date"]
    query.append(("date", day.isoformat()))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _organization(value: object) -> str | None:
    """Hugging Face names an organization {"name": "google", "fullname": "Google"}."""
    if isinstance(value, dict):
        return _str(value.get("fullname")) or _str(value.get("name")) or None
    return _str(value) or None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


FORMAT = HfDaily()
