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

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery.sending import finish_if_done
from pipeline.digest.planning import PlanReport, plan_edition, slot_for
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.sql import range_end
from pipeline.store.status import Cadence, SubscriberStatus
from pipeline.timeutil import utcnow

PLAN_CHUNK = 5000  # readers planned per transaction by the beat path


@dataclass(frozen=True, slots=True)
class ReaderClock:
    """The scheduling facts of one reader."""

    subscriber_id: int
    cadence: Cadence
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
    if reader.cadence == Cadence.WEEKLY and local.weekday() != reader.weekly_day:
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
) -> dict[tuple[Cadence, date], list[int]]:
    """Readers due now, grouped by (cadence, local slot date): one planning call per group.
    Readers mostly share a handful of clocks, so each distinct clock is worked out once."""
    groups: dict[tuple[Cadence, date], list[int]] = defaultdict(list)
    slots: dict[tuple[Cadence, int, str, int], date | None] = {}
    for reader in readers:
        clock = (reader.cadence, reader.send_hour, reader.timezone, reader.weekly_day)
        if clock not in slots:
            slots[clock] = is_due(reader, now, catch_up_hours)
        slot = slots[clock]
        if slot is not None:
            groups[(reader.cadence, slot)].append(reader.subscriber_id)
    return dict(groups)


def plan_due(
    factory: sessionmaker[Session],
    *,
    pool_size: int,
    gravity: float,
    catch_up_hours: int,
    now: datetime | None = None,
) -> list[PlanReport]:
    """Plan the editions of every reader whose local send hour has come (what beat runs).

    Readers are read PLAN_CHUNK ids at a time, stepped over the primary key, and each
    chunk's due readers are planned at once, one transaction per (chunk, edition): memory
    stays flat however many readers there are, and a large list never holds one long lock.
    Returns the reports that added deliveries."""
    now = now or utcnow()
    reports: list[PlanReport] = []
    editions: dict[tuple[Cadence, date], tuple[int, int]] = {}  # (edition id, rows added)
    after = 0
    while True:
        with factory() as session:
            end = range_end(session, Subscriber.id, after, PLAN_CHUNK)
            if end is None:
                break
            rows = session.execute(
                select(
                    Subscriber.id,
                    Subscriber.cadence,
                    Subscriber.send_hour,
                    Subscriber.timezone,
                    Subscriber.weekly_day,
                ).where(
                    Subscriber.id > after,
                    Subscriber.id <= end,
                    Subscriber.status == SubscriberStatus.ACTIVE,
                    Subscriber.paused.is_(False),
                )
            ).all()
        after = end
        groups = due_groups((ReaderClock(*row) for row in rows), now, catch_up_hours)
        for group, reader_ids in sorted(groups.items()):
            cadence, slot = group
            with write_transaction(factory) as session:
                report = plan_edition(
                    session,
                    cadence=cadence,
                    day=slot,
                    now=now,
                    pool_size=pool_size,
                    gravity=gravity,
                    subscriber_ids=reader_ids,
                )
            _, added = editions.get(group, (report.edition_id, 0))
            editions[group] = (report.edition_id, added + report.deliveries)
            if report.deliveries:
                reports.append(report)
    for edition_id, added in editions.values():
        if not added:
            # nobody due got anything: the edition is not left "in flight" (readers whose
            # hour comes later put it back to planned, as for any done edition)
            finish_if_done(factory, edition_id, now)
    return reports
