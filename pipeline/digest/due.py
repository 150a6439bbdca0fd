"""Who is due a digest now: each reader's local send hour, per IANA time zone.

A daily reader is due once their local clock has reached `send_hour` on their local date (and
for at most `catch_up` hours after, so a service that was down still sends that day's digest,
while a reader who subscribes late in the evening waits for tomorrow). A weekly reader is due
the same way on their local `weekly_day`. The edition a reader gets is keyed by their LOCAL
date (weekly: the Monday of that week), so a reader in Tokyo and one in Berlin both get "the
26 November edition" at 08:00 their time.

Daylight saving needs no special case: "local hour >= send hour" is evaluated on the real local
clock. When 02:00 does not exist (spring forward) a 02:00 reader is due at 03:00; when 01:00
happens twice (fall back) the ledger's (edition, reader) uniqueness stops a second send.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.digest.planning import slot_for


@dataclass(frozen=True, slots=True)
class ReaderClock:
    """The scheduling facts of one reader."""

    subscriber_id: int
    cadence: str
    send_hour: int
    timezone: str
    weekly_day: int


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # preferences are validated; this only guards old rows


def is_due(reader: ReaderClock, now: datetime, catch_up_hours: int = 6) -> date | None:
    """The local slot date the reader is due for at `now` (aware), or None."""
    local = now.astimezone(_zone(reader.timezone))
    if reader.cadence == "weekly" and local.weekday() != reader.weekly_day:
        return None
    start = local.replace(hour=reader.send_hour, minute=0, second=0, microsecond=0)
    # replace() on a non-existent local time (spring forward) yields a time that normalizes
    # to the next valid hour; comparing absolute instants keeps the rule exact.
    elapsed = now.astimezone(UTC) - start.astimezone(UTC)
    if timedelta(0) <= elapsed < timedelta(hours=catch_up_hours):
        return slot_for(reader.cadence, local.date())
    return None


def due_groups(
    readers: Iterable[ReaderClock], now: datetime, catch_up_hours: int = 6
) -> dict[tuple[str, date], list[int]]:
    """Readers due now, grouped by (cadence, local slot date): one planning call per group."""
    groups: dict[tuple[str, date], list[int]] = defaultdict(list)
    for reader in readers:
        slot = is_due(reader, now, catch_up_hours)
        if slot is not None:
            groups[(reader.cadence, slot)].append(reader.subscriber_id)
    return dict(groups)
