"""The trending score: how much attention a paper gets now, discounted by its age.

    points   = upvotes + 2 * velocity + 2 * (sources - 1) + 1
    score    = points / (age_hours + 2) ** gravity

- upvotes: the highest count any source reports (Hugging Face daily papers carry them);
- velocity: upvotes gained over the last 24 hours, from the upvote history (a paper climbing
  now outranks one that collected the same votes last week);
- sources: how many feeds carry the paper (being picked up by several lists is a signal even
  for feeds without votes);
- age_hours: hours since the paper was listed (first announced to Paperround as a paper of
  the day, pipeline/store/models.py), or since it was published when that is later (a paper
  re-listed long after publication is judged by its fresh listing);
- gravity (setting `ranking_gravity`, default 1.5) sets how fast old papers sink, as on
  Hacker News; the +1 and +2 keep brand-new, vote-less papers ordered by age, not tied.

Equal scores are ordered by date (the newer start of aging first), then by store key
(unique), so a ranking is a total order: the same papers always come out in the same order,
in the digest, the CLI and the home page alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

VELOCITY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Signals:
    upvotes: int
    velocity: int
    sources: int
    listed_at: datetime
    published_at: datetime | None


def aging_since(listed_at: datetime, published_at: datetime | None) -> datetime:
    """When a paper's age starts: its listing, or its publication when that is later. Also
    the ranking's first tie-break (ranked.py `rank_order`): the newer paper first."""
    if published_at is not None and published_at > listed_at:
        return published_at
    return listed_at


def age_hours(signals: Signals, now: datetime) -> float:
    start = aging_since(signals.listed_at, signals.published_at)
    return max(0.0, (now - start).total_seconds() / 3600)


def trending_score(signals: Signals, now: datetime, gravity: float = 1.5) -> float:
    """The score papers are ranked by (higher is more trending)."""
    points = signals.upvotes + 2 * max(0, signals.velocity) + 2 * max(0, signals.sources - 1) + 1
    return float(points / (age_hours(signals, now) + 2) ** gravity)
