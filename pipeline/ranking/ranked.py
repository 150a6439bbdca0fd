"""Reading papers back out of the store, ranked by trending score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.ranking.trending import VELOCITY_WINDOW, Signals, aging_since, trending_score
from pipeline.store.models import Paper, Sighting, UpvoteSnapshot
from pipeline.timeutil import utcnow


@dataclass(frozen=True, slots=True)
class RankedPaper:
    """A paper with its score, as the CLI, the digest and the web pages show it."""

    id: int
    key: str
    arxiv_id: str | None
    title: str
    authors: list[str]
    abstract: str
    categories: list[str]
    links: dict[str, Any]
    upvotes: int
    velocity: int
    sources: int
    score: float
    first_seen_at: datetime
    listed_at: datetime | None  # None: only seen as a replacement of an older paper
    published_at: datetime | None
    thumbnail: str | None = None
    summary: str | None = None  # a source's TL;DR (Hugging Face's ai_summary)

    def as_json(self) -> dict[str, Any]:
        return {
            "arxiv_id": self.arxiv_id,
            "key": self.key,
            "title": self.title,
            "authors": self.authors,
            "abstract": self.abstract,
            "summary": self.summary,
            "categories": self.categories,
            "upvotes": self.upvotes,
            "velocity_24h": self.velocity,
            "sources": self.sources,
            "score": round(self.score, 6),
            "links": self.links,
            "first_seen_at": self.first_seen_at.isoformat(),
            "listed_at": self.listed_at.isoformat() if self.listed_at else None,
            "published_at": self.published_at.isoformat() if self.published_at else None,
        }


def _velocities(session: Session, ids: Sequence[int], now: datetime) -> dict[int, int]:
    """Upvotes gained in the last 24 hours: latest count minus the count just before the window."""
    if not ids:
        return {}
    since = now - VELOCITY_WINDOW
    before = dict(
        session.execute(
            select(UpvoteSnapshot.paper_id, func.max(UpvoteSnapshot.upvotes))
            .where(UpvoteSnapshot.paper_id.in_(ids), UpvoteSnapshot.observed_at <= since)
            .group_by(UpvoteSnapshot.paper_id)
        )
        .tuples()
        .all()
    )
    inside = dict(
        session.execute(
            select(UpvoteSnapshot.paper_id, func.min(UpvoteSnapshot.upvotes))
            .where(UpvoteSnapshot.paper_id.in_(ids), UpvoteSnapshot.observed_at > since)
            .group_by(UpvoteSnapshot.paper_id)
        )
        .tuples()
        .all()
    )
    latest = dict(
        session.execute(select(Paper.id, Paper.upvotes).where(Paper.id.in_(ids))).tuples().all()
    )
    result = {}
    for pid in ids:
        base = before.get(pid, inside.get(pid))
        result[pid] = max(0, latest.get(pid, 0) - base) if base is not None else 0
    return result


CHUNK = 5000  # ids per IN list: far below every engine's parameter limit


def source_counts(session: Session, ids: Sequence[int]) -> dict[int, int]:
    """How many sources carry each paper (one sighting per paper and source)."""
    counts: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        counts.update(
            session.execute(
                select(Sighting.paper_id, func.count())
                .where(Sighting.paper_id.in_(part))
                .group_by(Sighting.paper_id)
            )
            .tuples()
            .all()
        )
    return counts


def velocities(session: Session, ids: Sequence[int], now: datetime) -> dict[int, int]:
    """Upvotes gained in the last 24 hours, per paper."""
    result: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        result.update(_velocities(session, ids[start : start + CHUNK], now))
    return result


def ranked(paper: Paper, velocity: int, sources: int, now: datetime, gravity: float) -> RankedPaper:
    """One paper with its score: the one place a RankedPaper is made, so every reader of the
    ranking (the full sort here, the top-N walk in top.py) scores alike, bit for bit."""
    listed = listed_since(paper.listed_at, paper.first_seen_at)
    signals = Signals(
        upvotes=paper.upvotes,
        velocity=velocity,
        sources=sources,
        listed_at=listed,
        published_at=paper.published_at,
    )
    return RankedPaper(
        id=paper.id,
        key=paper.key,
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        authors=list(paper.authors),
        abstract=paper.abstract,
        categories=list(paper.categories),
        links=dict(paper.links),
        upvotes=paper.upvotes,
        velocity=velocity,
        sources=sources,
        score=trending_score(signals, now, gravity),
        first_seen_at=paper.first_seen_at,
        listed_at=paper.listed_at,
        published_at=paper.published_at,
        thumbnail=paper.thumbnail,
        summary=paper.summary,
    )


def listed_since(listed_at: datetime | None, first_seen_at: datetime) -> datetime:
    """When a paper's age starts. A paper seen only as a replacement has no listing (no
    window holds it); asked for by id, it counts from when it was first seen."""
    return listed_at if listed_at is not None else first_seen_at


def rank_order(paper: RankedPaper) -> tuple[float, float, str]:
    """Best first; equal scores newest first (when its age started), then by key (unique),
    so the order is total. top.py `_order` is the same on its light rows."""
    started = aging_since(listed_since(paper.listed_at, paper.first_seen_at), paper.published_at)
    return (-paper.score, -started.timestamp(), paper.key)


def ranked_papers(
    session: Session,
    *,
    top: int | None = None,
    since: datetime | None = None,
    ids: Sequence[int] | None = None,
    gravity: float = 1.5,
    now: datetime | None = None,
) -> list[RankedPaper]:
    """Papers listed at or after `since` (or exactly `ids`), best score first.

    Reads every paper of the window: right for a digest's pool; for only the first few of a
    large window, pipeline/ranking/top.py `top_trending` gives the same answer for less.
    """
    now = now or utcnow()
    query = select(Paper)
    if since is not None:
        query = query.where(Paper.listed_at >= since)
    if ids is not None:
        query = query.where(Paper.id.in_(list(ids)))
    papers = list(session.scalars(query))
    paper_ids = [p.id for p in papers]
    counts = source_counts(session, paper_ids)
    gained = velocities(session, paper_ids, now)
    result = [ranked(p, gained.get(p.id, 0), counts.get(p.id, 0), now, gravity) for p in papers]
    result.sort(key=rank_order)
    return result[:top] if top is not None else result
