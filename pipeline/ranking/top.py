"""The first few papers of a window by trending score, without reading the whole window.

`ranked_papers` reads every paper of the window and sorts them all: a digest's pool needs
that; the home page's five papers do not, and a busy day holds tens of thousands of papers.
`top_trending` returns the same list (same scores, same order, ties included) by reading
papers in two orders at once and stopping early (Fagin's threshold algorithm):

- freshest first: by listed_at (newest first), and, for the papers published after they
  were listed (their age counts from publication, trending.py), by published_at from a
  partial index; after each step every paper not read yet started aging at or before the
  step's boundary;
- most upvoted first: every paper not read yet has at most the current count.

So a paper not read yet scores at most (3 * upvotes + 2 * (sources - 1) + 1) / (age + 2) **
gravity with those bounds: velocity is upvotes gained, so at most the count (counts are never
negative: ingestion clamps them); a paper has one sighting per source, so at most as many as
the catalog has. Once the N-th best score read so far is above that bound, no paper left can
enter the top N. Scores come from the same function as `ranked_papers` (ranked.py `ranked`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session

from pipeline.ranking.ranked import (
    RankedPaper,
    rank_order,
    ranked,
    ranked_papers,
    source_counts,
    velocities,
)
from pipeline.ranking.trending import Signals, aging_since, trending_score
from pipeline.store.models import Paper, Source
from pipeline.timeutil import utcnow

FIRST_BATCH = 64
MAX_BATCH = 4096
# The stop test leaves room for a rounding step in pow(): a paper that could tie the N-th
# best is read, never skipped.
MARGIN = 1e-9
_LIGHT = (Paper.id, Paper.key, Paper.upvotes, Paper.listed_at, Paper.published_at)
_Row = tuple[int, str, int, datetime, datetime | None]
_Query = Select[tuple[int, str, int, datetime | None, datetime | None]]


@dataclass(frozen=True, slots=True)
class _Scored:
    id: int
    key: str
    upvotes: int
    velocity: int
    sources: int
    score: float
    started: float  # when its age started (POSIX seconds): the first tie-break


def _order(paper: _Scored) -> tuple[float, float, str]:
    return (-paper.score, -paper.started, paper.key)  # ranked.py rank_order, on light rows


@dataclass
class _Walk:
    """How far each of the two reads has got, and every paper read so far, scored."""

    session: Session
    since: datetime
    now: datetime
    gravity: float
    batch: int
    seen: dict[int, _Scored] = field(default_factory=dict)
    fresh_after: tuple[datetime, int] | None = None  # (listed_at, id) read down to
    upvoted_after: tuple[int, datetime, int] | None = None  # (upvotes, listed_at, id)
    done: bool = False  # every paper of the window has been read

    def _window(self, query: _Query) -> list[_Row]:
        return self._rows(query.limit(self.batch))

    def _rows(self, query: _Query) -> list[_Row]:
        """The window's rows: listed since `since` (so never a paper without a listing)."""
        query = query.where(Paper.listed_at >= self.since)
        return [
            (pid, key, upvotes, listed, published)
            for pid, key, upvotes, listed, published in self.session.execute(query).tuples()
            if listed is not None
        ]

    def freshest(self) -> datetime | None:
        """The next papers by listing, then the re-listed papers that started aging in the
        same span. Returns the boundary: no paper left unread started aging after it."""
        query = select(*_LIGHT).order_by(Paper.listed_at.desc(), Paper.id.desc())
        if self.fresh_after is not None:
            query = query.where(tuple_(Paper.listed_at, Paper.id) < self.fresh_after)
        rows = self._window(query)
        self.done = len(rows) < self.batch
        if not rows:
            return None
        boundary = rows[-1][3]
        relisted = select(*_LIGHT).where(
            Paper.published_at > Paper.listed_at,  # the partial index's own predicate
            Paper.published_at > boundary,
        )
        if self.fresh_after is not None:
            relisted = relisted.where(Paper.published_at <= self.fresh_after[0])
        self.fresh_after = (boundary, rows[-1][0])
        self._score([*rows, *self._rows(relisted)])
        return boundary

    def most_upvoted(self) -> int:
        """The next papers by upvotes. Returns the count no paper left unread exceeds."""
        columns = (Paper.upvotes, Paper.listed_at, Paper.id)
        query = select(*_LIGHT).order_by(*(c.desc() for c in columns))
        if self.upvoted_after is not None:
            query = query.where(tuple_(*columns) < self.upvoted_after)
        rows = self._window(query)
        self.done = len(rows) < self.batch
        if rows:
            self.upvoted_after = (rows[-1][2], rows[-1][3], rows[-1][0])
            self._score(rows)
        return self.upvoted_after[0] if self.upvoted_after is not None else 0

    def _score(self, rows: list[_Row]) -> None:
        new = {row[0]: row for row in rows if row[0] not in self.seen}
        ids = list(new)
        counts = source_counts(self.session, ids)
        gained = velocities(self.session, ids, self.now)
        for pid, key, upvotes, listed, published in new.values():
            signals = Signals(upvotes, gained.get(pid, 0), counts.get(pid, 0), listed, published)
            score = trending_score(signals, self.now, self.gravity)
            started = aging_since(listed, published).timestamp()
            self.seen[pid] = _Scored(
                pid, key, upvotes, signals.velocity, signals.sources, score, started
            )

    def best(self, top: int) -> list[_Scored]:
        return heapq.nsmallest(top, self.seen.values(), key=_order)


def score_bound(
    upvotes: int, max_sources: int, started_by: datetime, now: datetime, gravity: float
) -> float:
    """The highest score a paper with at most `upvotes`, carried by at most `max_sources`,
    that started aging at or before `started_by` can have (gravity > 0)."""
    points = 3 * max(0, upvotes) + 2 * max(0, max_sources - 1) + 1
    age = max(0.0, (now - started_by).total_seconds() / 3600)
    return float(points / (age + 2) ** gravity)


def top_trending(
    session: Session,
    top: int,
    *,
    since: datetime,
    gravity: float = 1.5,
    now: datetime | None = None,
    batch: int = FIRST_BATCH,
) -> list[RankedPaper]:
    """Exactly `ranked_papers(session, top=top, since=since, gravity=gravity, now=now)`, from
    a few batches of papers instead of the whole window (each step doubles the batch)."""
    now = now or utcnow()
    if top <= 0:
        return []
    if gravity <= 0:  # old papers would not sink: no bound holds, so read them all
        return ranked_papers(session, top=top, since=since, gravity=gravity, now=now)
    max_sources = session.scalar(select(func.count()).select_from(Source)) or 0
    walk = _Walk(session, since, now, gravity, max(1, batch))
    upvotes: int | None = None
    while True:
        started_by = walk.freshest()
        if walk.done or started_by is None:
            break
        if upvotes != 0:  # at zero the rest are all zero: reading on would only repeat
            upvotes = walk.most_upvoted()
            if walk.done:
                break
        best = walk.best(top)
        bound = score_bound(upvotes or 0, max_sources, started_by, now, gravity)
        if len(best) == top and best[-1].score > bound * (1 + MARGIN):
            break
        walk.batch = min(walk.batch * 2, MAX_BATCH)
    chosen = walk.best(top)
    rows = session.scalars(select(Paper).where(Paper.id.in_([s.id for s in chosen])))
    papers = {paper.id: paper for paper in rows}
    result = [
        ranked(papers[s.id], s.velocity, s.sources, now, gravity) for s in chosen if s.id in papers
    ]
    result.sort(key=rank_order)
    return result
