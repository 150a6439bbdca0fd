"""Merging what several sources say about one paper: the richest description wins.

Rules (kept deliberately simple and order-independent where it matters):
- a newer arXiv version replaces title, abstract and authors; otherwise a field is filled when
  empty, and the longer abstract / longer author list wins;
- categories and links are unions (existing first), the earliest published date is kept;
- counters (upvotes, comments, GitHub stars) keep the highest value seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipeline.ingest.entry import PaperEntry

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
)


def entry_to_row(entry: PaperEntry) -> dict[str, Any]:
    """The papers-table values an entry carries on its own (for a paper seen the first time)."""
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
    return merged
