"""The common interface of source formats: bytes in, normalized PaperEntry records out.

Every format module exposes one object satisfying `SourceFormat`. Parsing is pure (no network,
no store): fetching lives in pipeline/ingest/fetch.py and storing in pipeline/ingest/persist.py.
These types sit below both the formats and normalize.py, which builds every entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class FeedError(Exception):
    """The whole body was refused. `str(error)` is one line saying why, fit for `sources list`."""


@dataclass(frozen=True, slots=True)
class PaperEntry:
    """One paper as one source describes it, already normalized (pipeline/ingest/normalize.py).

    `key` is the store's identity: "arxiv:<id without version>", else "doi:<doi lower-cased>",
    else "url:<canonical link>". Text fields are single-line, plain text (no markup).
    """

    key: str
    title: str
    external_id: str
    arxiv_id: str | None = None
    version: int | None = None
    doi: str | None = None
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    primary_category: str | None = None
    links: Mapping[str, str] = field(default_factory=dict)
    comment: str | None = None
    thumbnail: str | None = None
    published_at: datetime | None = None
    upvotes: int | None = None
    num_comments: int | None = None
    github_stars: int | None = None
    announce_type: str | None = None
    summary: str | None = None  # a short machine summary (Hugging Face's ai_summary): a TL;DR
    keywords: tuple[str, ...] = ()  # a source's own keywords (Hugging Face's ai_keywords)
    organization: str | None = None  # who published it, when the source says
    featured_at: datetime | None = (
        None  # when the source featured it (HF daily: submittedOnDailyAt)
    )


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """An entry that could not become a paper (no title, no usable id): kept for the summary."""

    position: int
    reason: str


@dataclass(frozen=True, slots=True)
class ParseResult:
    entries: list[PaperEntry]
    skipped: list[SkippedEntry] = field(default_factory=list)
    feed_title: str | None = None
    # A paged API's next page (bioRxiv's cursor), fetched by the runner within its bounds.
    next_url: str | None = None


class SourceFormat(Protocol):
    """A feed format. `kind` is the name users pass to `sources add --kind`."""

    kind: str

    def catch_up_urls(
        self, url: str, last_ok: datetime | None, now: datetime, max_days: int
    ) -> list[str]:
        """Documents to fetch first, for the days missed since `last_ok` (most formats: none)."""
        ...

    def sniff(self, body: bytes, content_type: str | None) -> bool:
        """True when `body` looks like this format (used to auto-detect the kind)."""
        ...

    def parse(self, body: bytes, *, url: str, content_type: str | None = None) -> ParseResult:
        """Parse a whole body. Raises FeedError with a one-line reason when it is unusable."""
        ...


class NoCatchUp:
    """For formats that only ever serve their latest listing."""

    def catch_up_urls(
        self, url: str, last_ok: datetime | None, now: datetime, max_days: int
    ) -> list[str]:
        return []
