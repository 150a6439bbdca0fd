"""Time helpers: one clock for the whole library, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time in UTC (aware). Tests freeze time by passing `now=` where it matters."""
    return datetime.now(UTC)
