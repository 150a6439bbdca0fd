"""The digest's value types: what an edition shows, whoever receives it. Plain data, no I/O."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.render.fields import safe_url
from pipeline.text import one_line

Cadence = Literal["daily", "weekly"]


@dataclass(frozen=True)
class Site:
    """What every mail says about the site that sends it."""

    name: str
    base_url: str
    postal_address: str


@dataclass(frozen=True)
class DigestPaper:
    """One paper as the digest shows it; text fields are untrusted (they come from feeds)."""

    key: str
    arxiv_id: str | None
    title: str
    authors: tuple[str, ...]
    abstract: str
    categories: tuple[str, ...]
    upvotes: int
    links: Mapping[str, str]
    thumbnail: str | None = None
    summary: str | None = None  # a source's one-line TL;DR (Hugging Face's ai_summary)

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a digest paper needs a non-empty key")
        if not self.title.strip():
            raise ValueError(f"paper {self.key!r} has an empty title")
        if self.upvotes < 0:
            raise ValueError(f"paper {self.key!r} has negative upvotes ({self.upvotes})")


@dataclass(frozen=True)
class EditionContent:
    """Everything one edition's digest shows, whoever receives it."""

    edition_id: int
    cadence: Cadence
    date: datetime.date
    papers: Sequence[DigestPaper]
    site_name: str
    base_url: str
    postal_address: str
    intro: str | None = None

    def __post_init__(self) -> None:
        if self.cadence not in ("daily", "weekly"):
            raise ValueError(f"cadence must be 'daily' or 'weekly', not {self.cadence!r}")
        keys = [paper.key for paper in self.papers]
        if len(set(keys)) != len(keys):
            raise ValueError(f"edition {self.edition_id} lists a paper key twice")
        check_site(self.site_name, self.base_url, self.postal_address)


@dataclass(frozen=True)
class SegmentBody:
    """A segment's HTML and text with the reader's links still as placeholders, kept as the
    parts they join from (the message encodes each part once per edition, not per segment)."""

    html_parts: tuple[str, ...]
    text_parts: tuple[str, ...]
    subject: str

    @property
    def html(self) -> str:
        return "".join(self.html_parts)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


def check_site(site_name: str, base_url: str, postal_address: str) -> None:
    if not one_line(site_name):
        raise ValueError("site_name must not be empty")
    if safe_url(base_url) != base_url:
        raise ValueError(f"base_url must be a plain http(s) URL, not {base_url[:100]!r}")
    if not postal_address.strip():
        # CAN-SPAM (15 U.S.C. 7704(a)(5)) requires the sender's postal address in every mail.
        raise ValueError("postal_address must not be empty: bulk mail must carry it")
