"""Who is due when: local send hours across time zones and daylight-saving edges (frozen clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from pipeline.digest.due import ReaderClock, due_groups, is_due, plan_due
from pipeline.store.models import Edition
from pipeline.store.status import Cadence, EditionStatus
from tests.conftest import Store
from tests.support.world import add_readers, seed_papers


def reader(
    tz: str, hour: int = 8, cadence: str = "daily", weekday: int = 0, rid: int = 1
) -> ReaderClock:
    return ReaderClock(rid, Cadence(cadence), hour, tz, weekday)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        ("2026-11-26T06:59", None),  # 07:59 in Berlin (UTC+1)
        ("2026-11-26T07:00", date(2026, 11, 26)),  # 08:00 Berlin
        ("2026-11-26T12:59", date(2026, 11, 26)),  # inside the 6-hour catch-up window
        ("2026-11-26T13:00", None),  # too late for today: waits for tomorrow
    ],
)
def test_daily_reader_in_berlin(now: str, due: date | None) -> None:
    assert is_due(reader("Europe/Berlin"), at(now)) == due


def test_local_date_not_utc_date_keys_the_edition() -> None:
    # 23:00 UTC on 26 Nov is 08:00 on 27 Nov in Tokyo: the Tokyo reader gets the 27 Nov edition
    assert is_due(reader("Asia/Tokyo"), at("2026-11-26T23:00")) == date(2026, 11, 27)
    # 13:00 UTC on 26 Nov is 08:00 on 26 Nov in New York (UTC-5)
    assert is_due(reader("America/New_York"), at("2026-11-26T13:00")) == date(2026, 11, 26)


def test_half_hour_zones() -> None:
    # India is UTC+5:30: 08:00 local is 02:30 UTC
    assert is_due(reader("Asia/Kolkata"), at("2026-11-26T02:29")) is None
    assert is_due(reader("Asia/Kolkata"), at("2026-11-26T02:30")) == date(2026, 11, 26)


def test_spring_forward_missing_hour_still_sends() -> None:
    # New York, 8 Mar 2026: 02:00 EST jumps to 03:00 EDT (07:00 UTC). A 02:00 reader:
    r = reader("America/New_York", hour=2)
    assert is_due(r, at("2026-03-08T06:59")) is None  # 01:59 EST
    assert is_due(r, at("2026-03-08T07:00")) == date(2026, 3, 8)  # 03:00 EDT: the hour came


def test_spring_forward_shifts_utc_hour_of_a_normal_reader() -> None:
    r = reader("Europe/Berlin", hour=8)
    # before 29 Mar 2026 Berlin is UTC+1, after it UTC+2
    assert is_due(r, at("2026-03-28T07:00")) == date(2026, 3, 28)
    assert is_due(r, at("2026-03-29T06:00")) == date(2026, 3, 29)
    assert is_due(r, at("2026-03-29T05:59")) is None


def test_fall_back_repeated_hour_is_one_slot() -> None:
    # New York, 1 Nov 2026: 01:00-01:59 happens twice (05:00 and 06:00 UTC). A 01:00 reader
    # is due at the first 01:00 and stays due for the same slot (the ledger sends once).
    r = reader("America/New_York", hour=1)
    assert is_due(r, at("2026-11-01T04:59")) is None
    first = is_due(r, at("2026-11-01T05:00"))
    second = is_due(r, at("2026-11-01T06:00"))
    assert first == second == date(2026, 11, 1)


def test_weekly_reader_only_on_their_weekday_and_keyed_by_monday() -> None:
    wednesday = reader("Europe/Berlin", cadence="weekly", weekday=2)
    assert is_due(wednesday, at("2026-11-24T07:00")) is None  # Tuesday
    assert is_due(wednesday, at("2026-11-25T07:00")) == date(2026, 11, 23)  # Wed -> Monday slot


def test_due_groups_by_cadence_and_local_slot() -> None:
    readers = [
        reader("Europe/Berlin", rid=1),
        reader("Europe/Paris", rid=2),
        reader("Asia/Tokyo", rid=3),
        reader("America/New_York", rid=4),
        reader("Europe/Berlin", cadence="weekly", weekday=3, rid=5),  # Thursday 26 Nov
    ]
    groups = due_groups(readers, at("2026-11-26T07:30"))
    assert groups == {
        ("daily", date(2026, 11, 26)): [1, 2],
        ("weekly", date(2026, 11, 23)): [5],
    }


# --- plan_due: what beat runs -------------------------------------------------------------


def test_plan_due_plans_the_readers_whose_hour_came_and_closes_an_empty_edition(
    store: Store,
) -> None:
    now = datetime(2026, 11, 20, 8, 5, tzinfo=UTC)
    seed_papers(store.sessions, n=6, now=now - timedelta(hours=2))
    add_readers(store.sessions, 2, send_hour=8)  # due now: 08:00 UTC
    add_readers(store.sessions, 1, start=10, send_hour=20)  # not yet
    add_readers(
        store.sessions,
        1,
        start=20,
        send_hour=8,
        cadence="weekly",
        weekly_day=4,
        keywords=["nothing-matches-this"],
    )  # due (a Friday), matches nothing
    reports = plan_due(store.sessions, pool_size=100, gravity=1.5, catch_up_hours=6, now=now)
    assert [(str(r.cadence), r.deliveries) for r in reports] == [("daily", 2)]
    with store.sessions() as session:
        editions = {str(e.cadence): e for e in session.scalars(select(Edition))}
    assert editions["daily"].status == EditionStatus.PLANNED  # two readers to send to
    # the weekly edition nobody due gets is over at once, not left "in flight"
    assert editions["weekly"].status == EditionStatus.DONE
    later = plan_due(
        store.sessions, pool_size=100, gravity=1.5, catch_up_hours=6, now=now + timedelta(hours=12)
    )
    assert [(str(r.cadence), r.deliveries) for r in later] == [("daily", 1)]
