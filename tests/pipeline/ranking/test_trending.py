"""The trending score's documented behavior."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.ranking.trending import Signals, trending_score

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _signals(upvotes: int = 0, velocity: int = 0, sources: int = 1, hours: float = 0) -> Signals:
    return Signals(upvotes, velocity, sources, NOW - timedelta(hours=hours), None)


def test_more_upvotes_rank_higher() -> None:
    assert trending_score(_signals(upvotes=50), NOW) > trending_score(_signals(upvotes=5), NOW)


def test_age_decays_score() -> None:
    fresh, old = _signals(upvotes=20, hours=2), _signals(upvotes=20, hours=48)
    assert trending_score(fresh, NOW) > trending_score(old, NOW)


def test_velocity_beats_stale_votes() -> None:
    climbing = _signals(upvotes=30, velocity=25, hours=24)
    stale = _signals(upvotes=40, velocity=0, hours=24)
    assert trending_score(climbing, NOW) > trending_score(stale, NOW)


def test_more_sources_is_a_signal() -> None:
    assert trending_score(_signals(sources=3), NOW) > trending_score(_signals(sources=1), NOW)


def test_later_publication_resets_age() -> None:
    seen_long_ago = Signals(10, 0, 1, NOW - timedelta(days=30), NOW - timedelta(hours=1))
    assert trending_score(seen_long_ago, NOW) == trending_score(_signals(10, hours=1), NOW)


def test_gravity_controls_decay() -> None:
    s = _signals(upvotes=10, hours=10)
    assert trending_score(s, NOW, gravity=1.0) > trending_score(s, NOW, gravity=2.0)
