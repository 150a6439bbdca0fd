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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import String, Text, cast, exists, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery.sending import finish_if_done
from pipeline.digest.planning import (
    EditionPlanner,
    EligibleReader,
    PlanReport,
    json_list,
    slot_for,
)
from pipeline.store.models import Subscriber, Suppression
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

    Readers are read PLAN_CHUNK at a time in id order, and each chunk's due readers are
    planned at once, one transaction per (chunk, edition), through one EditionPlanner per
    edition: memory stays flat however many readers there are, and a large list never
    holds one long lock. Returns the reports that added deliveries."""
    now = now or utcnow()
    reports: list[PlanReport] = []
    added: dict[tuple[Cadence, date], int] = {}
    with factory() as session:
        planners: dict[tuple[Cadence, date], EditionPlanner] = {}
        for due_now in _due_chunks(factory, now, catch_up_hours):
            for group, readers in sorted(due_now.items()):
                with session.begin():
                    session.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})
                    planner = planners.get(group)
                    if planner is None:
                        planner = planners[group] = EditionPlanner(
                            session,
                            cadence=group[0],
                            day=group[1],
                            now=now,
                            pool_size=pool_size,
                            gravity=gravity,
                        )
                    report = planner.plan_readers(readers)
                added[group] = added.get(group, 0) + report.deliveries
                if report.deliveries:
                    reports.append(report)
        editions = {group: planner.edition_id for group, planner in planners.items()}
    for group, edition_id in editions.items():
        if not added.get(group):
            # nobody due got anything: the edition is not left "in flight" (readers whose
            # hour comes later put it back to planned, as for any done edition)
            finish_if_done(factory, edition_id, now)
    return reports


def _due_chunks(
    factory: sessionmaker[Session], now: datetime, catch_up_hours: int
) -> Iterator[dict[tuple[Cadence, date], list[EligibleReader]]]:
    """Due readers by (cadence, slot), with what selection needs of them, PLAN_CHUNK
    readers read at a time in id order. The read has no filter but the key (status, pause
    and suppression are checked here), so its plan is an index range scan whatever the
    table's statistics say."""
    suppressed = exists().where(Suppression.email_key == Subscriber.email_key)
    after = 0
    while True:
        with factory() as session:
            rows = session.execute(
                select(
                    Subscriber.id,
                    type_coerce(Subscriber.status, String),
                    Subscriber.paused,
                    suppressed,
                    type_coerce(Subscriber.cadence, String),
                    Subscriber.send_hour,
                    Subscriber.timezone,
                    Subscriber.weekly_day,
                    cast(Subscriber.categories, Text),
                    cast(Subscriber.keywords, Text),
                    Subscriber.papers_per_digest,
                )
                .where(Subscriber.id > after)
                .order_by(Subscriber.id)
                .limit(PLAN_CHUNK)
            ).all()
        if not rows:
            return
        after = rows[-1][0]
        cadences = {c: Cadence(c) for c in {row[4] for row in rows}}
        mailable = [
            row for row in rows if row[1] == SubscriberStatus.ACTIVE and not row[2] and not row[3]
        ]
        clocks = (ReaderClock(r[0], cadences[r[4]], r[5], r[6], r[7]) for r in mailable)
        groups = due_groups(clocks, now, catch_up_hours)
        if not groups:
            continue
        by_id = {r[0]: r for r in mailable}
        yield {
            group: [
                EligibleReader(i, json_list(by_id[i][8]), json_list(by_id[i][9]), by_id[i][10])
                for i in ids
            ]
            for group, ids in groups.items()
        }
