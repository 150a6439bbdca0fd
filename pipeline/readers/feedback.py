"""A reader's ratings: "more like this" (+1), "less like this" (-1), or cleared.

Ratings are the reader's own data: shown on their preferences page, exported with them,
deleted with them (ON DELETE CASCADE). Rating a paper never changes a reader's status: only
active readers can rate, and the rating is all that is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pipeline.ingest.identifiers import parse_arxiv_id
from pipeline.readers.interests import Interests, interests_of
from pipeline.store.models import Paper, Rating, ReaderInterests, Subscriber
from pipeline.store.sql import among, insert_for
from pipeline.store.status import RatingVia, SubscriberStatus
from pipeline.timeutil import utcnow

UP, DOWN, CLEAR = 1, -1, 0
VOTES = {"more": UP, "less": DOWN}  # the words feedback links carry


class FeedbackError(ValueError):
    """A rating was refused; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class RatedPaper:
    paper_id: int
    key: str
    arxiv_id: str | None
    title: str
    value: int
    via: RatingVia
    rated_at: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "arxiv_id": self.arxiv_id,
            "key": self.key,
            "title": self.title,
            "rating": "more" if self.value > 0 else "less",
            "via": str(self.via),
            "rated_at": self.rated_at.isoformat(),
        }


def rate(
    session: Session,
    subscriber: Subscriber,
    paper_id: int,
    value: int,
    via: RatingVia,
    now: datetime | None = None,
) -> None:
    """Record (value +1 or -1) or clear (0) a rating; the caller commits."""
    if subscriber.status != SubscriberStatus.ACTIVE:
        raise FeedbackError(
            f"this subscription is {subscriber.status}: ratings are kept only for active readers"
        )
    if value not in (UP, DOWN, CLEAR):
        raise FeedbackError("a rating is more (+1), less (-1) or cleared (0)")
    if session.get(Paper, paper_id) is None:
        raise FeedbackError(f"no paper {paper_id} in the store")
    now = now or utcnow()
    if value == CLEAR:
        session.execute(
            delete(Rating).where(Rating.subscriber_id == subscriber.id, Rating.paper_id == paper_id)
        )
    else:
        insert = insert_for(session, Rating.__table__)  # type: ignore[arg-type]
        session.execute(
            insert.values(
                subscriber_id=subscriber.id,
                paper_id=paper_id,
                value=value,
                via=str(via),
                created_at=now,
                updated_at=now,
            ).on_conflict_do_update(
                index_elements=["subscriber_id", "paper_id"],
                set_={"value": value, "via": str(via), "updated_at": now},
            )
        )
    interests = session.get(ReaderInterests, subscriber.id)
    if interests is None:
        session.add(ReaderInterests(subscriber_id=subscriber.id, changed_at=now, rated_at=now))
    else:
        interests.rated_at = now


def ratings_of(session: Session, subscriber_id: int) -> list[RatedPaper]:
    """The reader's ratings, newest first."""
    rows = session.execute(
        select(
            Paper.id,
            Paper.key,
            Paper.arxiv_id,
            Paper.title,
            Rating.value,
            Rating.via,
            Rating.updated_at,
        )
        .join(Paper, Paper.id == Rating.paper_id)
        .where(Rating.subscriber_id == subscriber_id)
        .order_by(Rating.updated_at.desc(), Rating.id.desc())
    )
    return [RatedPaper(*row) for row in rows]


def rating_of(session: Session, subscriber_id: int, paper_id: int) -> int:
    """The reader's current rating of the paper: +1, -1, or 0 for none."""
    value = session.scalar(
        select(Rating.value).where(
            Rating.subscriber_id == subscriber_id, Rating.paper_id == paper_id
        )
    )
    return int(value or 0)


def ratings_by_reader(session: Session, subscriber_ids: Sequence[int]) -> dict[int, dict[int, int]]:
    """{reader: {paper: rating}} for many readers (planning and training read them in chunks)."""
    result: dict[int, dict[int, int]] = {}
    ids = list(subscriber_ids)
    for start in range(0, len(ids), 5000):
        rows = session.execute(
            select(Rating.subscriber_id, Rating.paper_id, Rating.value).where(
                among(Rating.subscriber_id, ids[start : start + 5000])
            )
        )
        for reader, paper, value in rows:
            result.setdefault(reader, {})[paper] = value
    return result


def paper_by_reference(session: Session, reference: str) -> Paper | None:
    """A stored paper by arXiv id or URL (any spelling), or by its store key."""
    found = parse_arxiv_id(reference.strip())
    if found is not None:
        return session.scalar(select(Paper).where(Paper.arxiv_id == found[0]))
    return session.scalar(select(Paper).where(Paper.key == reference.strip()))


@dataclass(frozen=True, slots=True)
class PaperCard:
    """What the feedback page shows of the paper being rated."""

    id: int
    title: str
    authors: tuple[str, ...]
    url: str | None


def paper_card(session: Session, paper_id: int) -> PaperCard | None:
    paper = session.get(Paper, paper_id)
    if paper is None:
        return None
    links = paper.links or {}
    url = links.get("abs") or links.get("link") or links.get("doi")
    return PaperCard(paper.id, paper.title, tuple(paper.authors or ()), url)


@dataclass(frozen=True, slots=True)
class ReaderData:
    """What a reader told us beyond their subscription, as an export writes it."""

    interests: Interests
    liked: tuple[str, ...]  # arXiv ids (else store keys) of papers rated "more like this"
    disliked: tuple[str, ...]


def reader_data(session: Session, subscriber_ids: Sequence[int]) -> dict[int, ReaderData]:
    """Interests and ratings of these readers (every one of them, empty when none)."""
    ids = list(subscriber_ids)
    interests = {
        row.subscriber_id: interests_of(row)
        for row in session.scalars(
            select(ReaderInterests).where(ReaderInterests.subscriber_id.in_(ids))
        )
    }
    rated: dict[int, tuple[list[str], list[str]]] = {i: ([], []) for i in ids}
    rows = session.execute(
        select(Rating.subscriber_id, Rating.value, Paper.arxiv_id, Paper.key)
        .join(Paper, Paper.id == Rating.paper_id)
        .where(Rating.subscriber_id.in_(ids))
        .order_by(Rating.subscriber_id, Rating.updated_at, Rating.id)
    )
    for reader, value, arxiv_id, key in rows:
        rated[reader][0 if value > 0 else 1].append(arxiv_id or key)
    return {
        i: ReaderData(interests.get(i, Interests()), tuple(rated[i][0]), tuple(rated[i][1]))
        for i in ids
    }
