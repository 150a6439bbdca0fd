"""Merging what several sources say about one paper: the richest description wins.

Rules (kept deliberately simple and order-independent where it matters):
- a newer arXiv version replaces title, abstract and authors; otherwise a field is filled when
  empty, and the longer abstract / longer author list wins;
- categories and links are unions (existing first), the earliest published date is kept;
- counters (comments, GitHub stars) keep the highest value seen; upvotes are per source, the
  latest snapshot of each (persist.py);
- a source's own summary and keywords are replaced by its newer ones; the organization is
  filled when empty; the earliest featured time is kept;
- a paper is listed (news to readers) from the first entry that lists it: a replacement of an
  older paper lists nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.twins import title_key

PAPER_FIELDS = (
    "arxiv_id",
    "doi",
    "title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "links",
    "comment",
    "thumbnail",
    "version",
    "published_at",
    "num_comments",
    "github_stars",
    "summary",
    "keywords",
    "organization",
    "featured_at",
    "title_key",
    "listed_at",
)
REPLACEMENTS = frozenset({"replace", "replace-cross"})


def lists_paper(entry: PaperEntry) -> bool:
    """Whether the entry announces a paper of the day: everything but arXiv's replacements
    (a new version of a paper announced before), which update a paper without making it news."""
    return entry.announce_type not in REPLACEMENTS


def entry_to_row(entry: PaperEntry, now: datetime) -> dict[str, Any]:
    """The papers-table values an entry seen at `now` carries on its own."""
    return {
        "key": entry.key,
        "arxiv_id": entry.arxiv_id,
        "doi": entry.doi,
        "title": entry.title,
        "abstract": entry.abstract,
        "authors": list(entry.authors),
        "categories": list(entry.categories),
        "primary_category": entry.primary_category
        or (entry.categories[0] if entry.categories else None),
        "links": dict(entry.links),
        "comment": entry.comment,
        "thumbnail": entry.thumbnail,
        "version": entry.version,
        "published_at": entry.published_at,
        "num_comments": entry.num_comments or 0,
        "github_stars": entry.github_stars,
        "upvotes": entry.upvotes or 0,
        "summary": entry.summary,
        "keywords": list(entry.keywords) or None,
        "organization": entry.organization,
        "featured_at": entry.featured_at,
        "title_key": title_key(entry.title),
        "listed_at": now if lists_paper(entry) else None,
    }


def _union(first: list[str], second: list[str]) -> list[str]:
    seen = dict.fromkeys(first)
    seen.update(dict.fromkeys(second))
    return list(seen)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def _highest(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return a if b is None else b
    return max(a, b)


def merge_row(current: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """The merged values of a stored paper (`current`) and a new description of it."""
    merged = {name: current.get(name) for name in PAPER_FIELDS}
    newer = (incoming.get("version") or 0) > (current.get("version") or 0)
    for name in ("title", "abstract"):
        new_text = incoming.get(name) or ""
        old_text = current.get(name) or ""
        if new_text and (
            newer or not old_text or (name == "abstract" and len(new_text) > len(old_text))
        ):
            merged[name] = new_text
    new_authors = list(incoming.get("authors") or [])
    old_authors = list(current.get("authors") or [])
    if new_authors and (newer or len(new_authors) > len(old_authors)):
        merged["authors"] = new_authors
    merged["categories"] = _union(
        list(current.get("categories") or []), list(incoming.get("categories") or [])
    )
    links = dict(incoming.get("links") or {})
    links.update({k: v for k, v in (current.get("links") or {}).items() if v})
    merged["links"] = links
    for name in ("arxiv_id", "doi", "primary_category", "comment", "thumbnail"):
        if not merged[name] and incoming.get(name):
            merged[name] = incoming[name]
    if newer:
        merged["version"] = incoming.get("version")
        if incoming.get("comment"):
            merged["comment"] = incoming["comment"]
    merged["published_at"] = _earliest(current.get("published_at"), incoming.get("published_at"))
    merged["num_comments"] = (
        _highest(current.get("num_comments"), incoming.get("num_comments")) or 0
    )
    merged["github_stars"] = _highest(current.get("github_stars"), incoming.get("github_stars"))
    for name in ("summary", "keywords"):
        if incoming.get(name):
            merged[name] = incoming[name]
    if not merged["organization"] and incoming.get("organization"):
        merged["organization"] = incoming["organization"]
    for name in ("featured_at", "listed_at"):
        merged[name] = _earliest(current.get(name), incoming.get(name))
    merged["title_key"] = title_key(merged["title"] or "")
    return merged
