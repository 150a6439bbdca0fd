"""An edition as a web page: the public archive's view and a reader's "view in your browser".

Neither is the digest message (that is pipeline/digest/preview.py): both are pages of the site,
in its layout, with no reader's actions on them. The archive shows a published edition's
papers; the browser view shows the papers one reader was sent, in their digest's order. Each
is worded for the day it is read ("Tuesday's papers" once Tuesday is over, not "Today's").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from pipeline.delivery.inspect import published_edition, reader_selection
from pipeline.digest.planning import edition_papers, slot_for
from pipeline.ranking.ranked import RankedPaper, ranked_papers
from pipeline.readers.lifecycle import SubscriptionError, reader_from_link
from pipeline.render.context import long_date, short_date
from pipeline.render.edition import ranking_phrase
from pipeline.store.models import Edition
from pipeline.store.status import Cadence
from pipeline.timeutil import utcnow

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def period_heading(cadence: Cadence, slot: date, today: date) -> str:
    """How a page names the edition's papers on `today`: "Today's papers" on its day only,
    then "Yesterday's papers", then its weekday, and past a week its date."""
    if cadence == Cadence.WEEKLY:
        if slot_for(Cadence.WEEKLY, today) == slot:
            return "This week's papers"
        if slot_for(Cadence.WEEKLY, today - timedelta(days=7)) == slot:
            return "Last week's papers"
        return f"Papers of the week of {short_date(slot)}"
    age = (today - slot).days
    if age == 0:
        return "Today's papers"
    if age == 1:
        return "Yesterday's papers"
    if 1 < age < 7:
        return f"{_WEEKDAYS[slot.weekday()]}'s papers"
    return f"Papers of {long_date(slot)}"


@dataclass(frozen=True)
class EditionPage:
    """An edition as a page shows it: its heading on the day it is read, and its papers."""

    edition_id: int
    cadence: Cadence
    slot_date: date
    heading: str  # "Tuesday's papers"
    date_label: str  # "Tuesday, 1 December 2026"
    papers: list[RankedPaper]

    @property
    def ranked_by(self) -> str:
        """How the papers are ordered, worded as the digest words it."""
        return ranking_phrase(False, any(paper.upvotes for paper in self.papers))


def _page(edition: Edition, papers: list[RankedPaper], today: date) -> EditionPage:
    return EditionPage(
        edition_id=edition.id,
        cadence=edition.cadence,
        slot_date=edition.slot_date,
        heading=period_heading(edition.cadence, edition.slot_date, today),
        date_label=long_date(edition.slot_date),
        papers=papers,
    )


def archive_page(
    session: Session, edition_id: int, gravity: float, today: date | None = None
) -> EditionPage | None:
    """A published edition's papers in rank order (None: no such edition, or nobody was to
    get it). `today` (UTC by default) words the heading."""
    edition = published_edition(session, edition_id)
    if edition is None:
        return None
    return _page(edition, edition_papers(session, edition, gravity), today or utcnow().date())


def reader_page(
    session: Session,
    link_id: str,
    version: int,
    edition_id: int,
    gravity: float,
    now: datetime | None = None,
) -> EditionPage | None:
    """The papers one reader got in the edition, in their digest's order, worded for the
    reader's own date (their time zone). None: the link was revoked, or they got nothing."""
    try:
        reader = reader_from_link(session, link_id, version)
    except SubscriptionError:
        return None
    edition = session.get(Edition, edition_id)
    chosen = reader_selection(session, edition_id, reader.id)
    if edition is None or chosen is None:
        return None
    by_id = {p.id: p for p in ranked_papers(session, ids=chosen, gravity=gravity)}
    papers = [by_id[pid] for pid in chosen if pid in by_id]
    try:
        zone = ZoneInfo(reader.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return _page(edition, papers, (now or utcnow()).astimezone(zone).date())
