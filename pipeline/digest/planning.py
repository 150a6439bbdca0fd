"""Planning an edition: its ranked papers, and one ledger row per reader who gets something.

An edition is (cadence, slot date). Its papers are those Paperround first saw since the previous
edition of that cadence (the first edition looks back one day or one week), ranked by trending
score. Each active, unpaused, unsuppressed reader of that cadence gets the matching papers not
sent to them before; readers with the same selection share a segment (rendered once). Planning
again adds only readers not yet in the edition, so planning twice creates nothing new.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, Table, Text, cast, exists, select
from sqlalchemy.orm import Session

from pipeline.delivery.history import SentBefore
from pipeline.digest.selection import EditionIndex, Pick, Reader
from pipeline.ranking.ranked import RankedPaper, ranked_papers
from pipeline.readers.feedback import ratings_by_reader
from pipeline.readers.interests import Interests, interests_of
from pipeline.relevance.model import ReaderModel
from pipeline.relevance.training import Trainer, Vectorizers, load_models, stale_readers
from pipeline.store.models import (
    Delivery,
    Edition,
    Paper,
    ReaderInterests,
    Segment,
    Subscriber,
    Suppression,
)
from pipeline.store.sql import among, insert_for, insert_rows, range_end
from pipeline.store.status import Cadence, DeliveryStatus, EditionStatus, SubscriberStatus
from pipeline.timeutil import utcnow

FIRST_WINDOW = {Cadence.DAILY: timedelta(days=1), Cadence.WEEKLY: timedelta(days=7)}
HISTORY = timedelta(days=21)  # how far back "sent to this reader before" looks
EDITIONS: Table = Edition.__table__  # type: ignore[assignment]
SEGMENTS: Table = Segment.__table__  # type: ignore[assignment]
DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]


@dataclass
class PlanReport:
    edition_id: int
    cadence: Cadence
    slot_date: date
    created: bool
    papers: int
    readers: int  # eligible readers not yet in the edition
    deliveries: int
    segments: int
    no_match: int  # readers whose filters matched nothing: no empty email

    def as_json(self) -> dict[str, object]:
        return {
            "edition_id": self.edition_id,
            "cadence": str(self.cadence),
            "slot_date": self.slot_date.isoformat(),
            "created": self.created,
            "papers": self.papers,
            "readers": self.readers,
            "deliveries": self.deliveries,
            "segments": self.segments,
            "no_match": self.no_match,
        }


def slot_for(cadence: Cadence, day: date) -> date:
    """Weekly editions are keyed by the Monday of their ISO week."""
    if cadence == Cadence.WEEKLY:
        return day - timedelta(days=day.weekday())
    return day


def _lock_or_create_edition(
    session: Session, cadence: Cadence, slot: date, now: datetime, pool: int, gravity: float
) -> tuple[Edition, bool]:
    """The slot's edition, locked; created with its ranked papers if it did not exist."""
    # FOR UPDATE: the edition row stays locked until the caller commits the readers it adds,
    # so finish_if_done (which takes the same lock) cannot mark it done in between.
    found = session.scalar(
        select(Edition)
        .where(Edition.cadence == cadence, Edition.slot_date == slot)
        .with_for_update()
    )
    if found is not None:
        return found, False
    previous = session.scalar(
        select(Edition)
        .where(Edition.cadence == cadence, Edition.slot_date < slot)
        .order_by(Edition.slot_date.desc())
        .limit(1)
    )
    start = previous.window_end if previous is not None else now - FIRST_WINDOW[cadence]
    ranked = [
        p
        for p in ranked_papers(session, since=start, gravity=gravity, now=now)
        if p.listed_at is not None and p.listed_at <= now
    ]
    row = {
        "cadence": cadence,
        "slot_date": slot,
        "window_start": start,
        "window_end": now,
        "paper_ids": [p.id for p in ranked[:pool]],
        "status": EditionStatus.PLANNED,
        "subject": "",
        "created_at": now,
    }
    stmt = insert_for(session, EDITIONS).on_conflict_do_nothing(
        index_elements=["cadence", "slot_date"]
    )
    created = session.execute(stmt.returning(EDITIONS.c.id), [row]).first() is not None
    edition = session.scalars(
        select(Edition)
        .where(Edition.cadence == cadence, Edition.slot_date == slot)
        .with_for_update()
    ).one()
    return edition, created


def edition_papers(
    session: Session, edition: Edition, gravity: float = 1.5, only: Sequence[int] | None = None
) -> list[RankedPaper]:
    """The edition's papers (or those of them in `only`) in its stored rank order (scores as
    of now, order as planned)."""
    wanted = edition.paper_ids if only is None else list(only)
    by_id = {p.id: p for p in ranked_papers(session, ids=wanted, gravity=gravity)}
    return [by_id[pid] for pid in edition.paper_ids if pid in by_id]


@dataclass(frozen=True, slots=True)
class EditionListing:
    id: int
    cadence: Cadence
    slot_date: date
    papers: int


def recent_editions(session: Session, limit: int) -> list[EditionListing]:
    """The latest editions by slot date, newest first (the public archive's index)."""
    rows = session.execute(
        select(Edition.id, Edition.cadence, Edition.slot_date, Edition.paper_ids)
        .order_by(Edition.slot_date.desc(), Edition.id.desc())
        .limit(limit)
    )
    return [EditionListing(i, c, d, len(ids)) for i, c, d, ids in rows]


def papers_of_edition(
    session: Session, edition_id: int, gravity: float = 1.5
) -> list[RankedPaper] | None:
    """The papers of edition `edition_id` in rank order; None when there is no such edition."""
    edition = session.get(Edition, edition_id)
    return edition_papers(session, edition, gravity) if edition is not None else None


CHUNK = 5000  # readers planned per step: memory stays flat however many there are
ONLINE_TRAINING = 2000  # out-of-date models trained during one planning call, at most


@dataclass(frozen=True, slots=True)
class EligibleReader:
    """What selection needs of a reader who may get this edition."""

    id: int
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    papers_per_digest: int


def _eligible_chunks(
    session: Session, edition: Edition, subscriber_ids: Sequence[int] | None
) -> Iterator[list[EligibleReader]]:
    """Eligible readers CHUNK ids at a time, in id order (a chunk may be empty), only the
    columns selection needs: `subscriber_ids` (the beat's list) or every reader, stepped
    over the primary key (pipeline/store/sql.py range_end says why). Readers already in the
    edition are left out by the caller, through the unique index: an anti-join here would
    depend on statistics of a table being filled."""
    query = select(
        Subscriber.id,
        cast(Subscriber.categories, Text),
        cast(Subscriber.keywords, Text),
        Subscriber.papers_per_digest,
    ).where(
        Subscriber.status == SubscriberStatus.ACTIVE,
        Subscriber.paused.is_(False),
        Subscriber.cadence == edition.cadence,
        ~exists().where(Suppression.email_key == Subscriber.email_key),
    )

    def read(bounded: Select[tuple[int, str, str, int]]) -> list[EligibleReader]:
        return [
            EligibleReader(reader, json_list(categories), json_list(keywords), papers)
            for reader, categories, keywords, papers in session.execute(
                bounded.order_by(Subscriber.id)
            ).tuples()
        ]

    if subscriber_ids is not None:
        wanted = sorted(set(subscriber_ids))
        for start in range(0, len(wanted), CHUNK):
            yield read(query.where(among(Subscriber.id, wanted[start : start + CHUNK])))
        return
    after = 0
    while (end := range_end(session, Subscriber.id, after, CHUNK)) is not None:
        yield read(query.where(Subscriber.id > after, Subscriber.id <= end))
        after = end


@functools.lru_cache(maxsize=4096)
def json_list(value: str | None) -> tuple[str, ...]:
    """A JSON list read as text and decoded once per distinct value: most readers' lists
    are empty or shared with many others, and decoding each row's cost a third of reading
    a chunk."""
    if not value or value == "[]":
        return ()
    decoded = json.loads(value)
    return tuple(str(v) for v in decoded) if isinstance(decoded, list) else ()


def _already_in(session: Session, edition_id: int, reader_ids: Sequence[int]) -> set[int]:
    return set(
        session.scalars(
            select(Delivery.subscriber_id).where(
                Delivery.edition_id == edition_id, among(Delivery.subscriber_id, list(reader_ids))
            )
        )
    )


def _history_of(session: Session, edition: Edition) -> SentBefore:
    """What readers got before, of this edition's candidates only."""
    return SentBefore(
        session,
        edition.paper_ids,
        since=edition.window_start - HISTORY,
        exclude_edition_id=edition.id,
    )


def _interests(session: Session, reader_ids: Sequence[int]) -> dict[int, Interests]:
    rows = session.scalars(
        select(ReaderInterests).where(among(ReaderInterests.subscriber_id, list(reader_ids)))
    )
    return {row.subscriber_id: interests_of(row) for row in rows}


def paper_titles(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Titles by paper id (the "similar to ..." reasons quote them)."""
    wanted = list(dict.fromkeys(ids))
    titles: dict[int, str] = {}
    for start in range(0, len(wanted), 5000):
        titles.update(
            session.execute(
                select(Paper.id, Paper.title).where(among(Paper.id, wanted[start : start + 5000]))
            )
            .tuples()
            .all()
        )
    return titles


@dataclass
class _Models:
    """Reader models for a planning run: stored ones, and out-of-date ones trained on the
    spot (at most ONLINE_TRAINING per run; the nightly task trains the rest)."""

    session: Session
    vectorizers: Vectorizers
    now: datetime
    trained: int = 0
    _trainer: Trainer | None = None

    def for_readers(self, reader_ids: Sequence[int]) -> dict[int, ReaderModel]:
        models = load_models(self.session, reader_ids)
        stale = stale_readers(self.session, reader_ids, limit=ONLINE_TRAINING - self.trained)
        if stale and self.trained < ONLINE_TRAINING:
            trainer = self._trainer_for_now()
            if trainer is not None:
                for reader, model in trainer.train_readers(stale).items():
                    if model is None:
                        models.pop(reader, None)
                    else:
                        models[reader] = model
                self.trained += len(stale)
        return models

    def _trainer_for_now(self) -> Trainer | None:
        if self._trainer is None:
            try:
                vectorizer = self.vectorizers.current_or_fit(self.now)
            except ValueError:  # no papers to fit a vocabulary on
                return None
            self._trainer = Trainer(self.session, vectorizer, self.now)
        return self._trainer


def selection_hash(paper_ids: Sequence[int], reasons: Sequence[Sequence[str]] = ()) -> str:
    text = ",".join(map(str, paper_ids))
    if reasons:
        text += "\0" + json.dumps([list(r) for r in reasons], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Selection:
    """One reader's papers with their reasons, as a segment stores them."""

    paper_ids: tuple[int, ...]
    reasons: tuple[tuple[str, ...], ...]
    followed: tuple[bool, ...]
    key: str  # selection_hash of papers and reasons: the segment it belongs to

    @classmethod
    def of(cls, picks: Sequence[Pick]) -> Selection:
        paper_ids = tuple(p.paper_id for p in picks)
        reasons = tuple(p.reasons for p in picks)
        return cls(
            paper_ids, reasons, tuple(p.followed for p in picks), selection_hash(paper_ids, reasons)
        )


class EditionPlanner:
    """One edition's planning context, built once: the edition (locked or created), its
    ranked pool, the selection index, reader models and what readers got before.

    `plan` adds readers to it and may be called again in later transactions of the same
    session (the beat plans 5,000 readers per transaction, and rebuilding this per chunk was
    a third of its time at a million readers); each call takes the edition row's lock
    again, the one finish_if_done takes."""

    def __init__(
        self,
        session: Session,
        *,
        cadence: str = Cadence.DAILY,
        day: date | None = None,
        now: datetime | None = None,
        pool_size: int = 20_000,
        gravity: float = 1.5,
    ) -> None:
        if cadence not in FIRST_WINDOW:
            raise ValueError(f"cadence must be daily or weekly, not {cadence!r}")
        self.cadence = Cadence(cadence)
        self.now = now or utcnow()
        self.slot = slot_for(self.cadence, day or self.now.date())
        self.session = session
        edition, self.created = _lock_or_create_edition(
            session, self.cadence, self.slot, self.now, pool_size, gravity
        )
        self.edition_id = edition.id
        self.papers = len(edition.paper_ids)
        vectorizers = Vectorizers(session)
        self.index = EditionIndex(
            edition_papers(session, edition, gravity),
            vectorizers,
            lambda ids: paper_titles(session, ids),
        )
        self.models = _Models(session, vectorizers, self.now)
        self.history = _history_of(session, edition)

    def plan(self, subscriber_ids: Sequence[int] | None = None) -> PlanReport:
        """Add every eligible reader (or those of `subscriber_ids`) not in the edition yet.
        The caller commits."""
        return self._plan(lambda edition: _eligible_chunks(self.session, edition, subscriber_ids))

    def plan_readers(self, readers: Sequence[EligibleReader]) -> PlanReport:
        """Add these readers, whose eligibility the caller checked (the beat reads them
        with their clocks, and reading them again cost a third of its extra time per
        chunk); readers already in the edition are skipped. The caller commits. A reader
        who left since is caught at send time, as for any planned row."""
        return self._plan(lambda _edition: iter([list(readers)]))

    def _plan(self, chunks_of: Callable[[Edition], Iterator[list[EligibleReader]]]) -> PlanReport:
        session = self.session
        edition = session.execute(
            select(Edition)
            .where(Edition.id == self.edition_id)
            .with_for_update()
            .execution_options(populate_existing=True)  # as of this transaction
        ).scalar_one()
        report = PlanReport(
            edition_id=self.edition_id,
            cadence=self.cadence,
            slot_date=self.slot,
            created=self.created,
            papers=self.papers,
            readers=0,
            deliveries=0,
            segments=0,
            no_match=0,
        )
        self.created = False
        segment_keys: set[int] = set()  # 8 bytes of each key: a million readers cost MBs
        for chunk in chunks_of(edition):
            if not chunk:
                continue
            planned = _already_in(session, self.edition_id, [r.id for r in chunk])
            fresh = [r for r in chunk if r.id not in planned]
            if not fresh:
                continue
            selections = _select_chunk(session, self.index, self.models, self.history, fresh)
            report.readers += len(fresh)
            report.no_match += len(fresh) - len(selections)
            segment_keys.update(int(s.key[:16], 16) for s in selections.values())
            report.deliveries += _write_chunk(session, self.edition_id, selections, self.now)
        report.segments = len(segment_keys)
        if report.deliveries and edition.status == EditionStatus.DONE:
            # Readers whose send hour came later join a slot already sent to others: the
            # edition is in flight again (`paperround status` lists it until they are served).
            edition.status = EditionStatus.PLANNED
            edition.completed_at = None
        return report


def plan_edition(
    session: Session,
    *,
    cadence: str = Cadence.DAILY,
    day: date | None = None,
    now: datetime | None = None,
    pool_size: int = 20_000,
    gravity: float = 1.5,
    subscriber_ids: Sequence[int] | None = None,
) -> PlanReport:
    """Create (or extend) the edition of `cadence` for `day`. The caller commits.

    Every paper listed in the edition's window is a candidate (up to `pool_size`, a safety
    cap); readers are read, selected and written CHUNK at a time."""
    planner = EditionPlanner(
        session, cadence=cadence, day=day, now=now, pool_size=pool_size, gravity=gravity
    )
    return planner.plan(subscriber_ids)


def _select_chunk(
    session: Session,
    index: EditionIndex,
    models: _Models,
    history: SentBefore,
    readers: Sequence[EligibleReader],
) -> dict[int, Selection]:
    picks = _pick_chunk(session, index, models, history, readers)
    made: dict[int, Selection] = {}  # readers who want the same things share one list
    result = {}
    for reader, chosen in picks.items():
        if chosen:
            selection = made.get(id(chosen))
            if selection is None:
                selection = made[id(chosen)] = Selection.of(chosen)
            result[reader] = selection
    return result


def _pick_chunk(
    session: Session,
    index: EditionIndex,
    models: _Models,
    history: SentBefore,
    readers: Sequence[EligibleReader],
) -> dict[int, list[Pick]]:
    """Each reader's picks: their interests, model, ratings and history read for the chunk
    at once."""
    ids = [r.id for r in readers]
    sent_before = history.for_readers(session, ids)
    rated = ratings_by_reader(session, ids)
    interests = _interests(session, ids)
    personal = models.for_readers([i for i in ids if i in interests])
    nothing: frozenset[int] = frozenset()
    plain = Interests()
    profiles = [
        Reader(
            id=r.id,
            categories=r.categories,
            keywords=r.keywords,
            limit=r.papers_per_digest,
            interests=interests.get(r.id, plain),
            model=personal.get(r.id),
            exclude=(
                frozenset({*sent_before.get(r.id, ()), *rated.get(r.id, ())})
                if r.id in sent_before or r.id in rated
                else nothing
            ),
        )
        for r in readers
    ]
    return index.select_all(profiles)


def _write_chunk(
    session: Session, edition_id: int, selections: Mapping[int, Selection], now: datetime
) -> int:
    """Segments and one deliveries row per reader; returns the rows created (counted by
    the database, no RETURNING)."""
    segment_ids = _segments(session, edition_id, selections.values())
    rows = [
        {
            "edition_id": edition_id,
            "subscriber_id": reader_id,
            "segment_id": segment_ids[chosen.key],
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "updated_at": now,
        }
        for reader_id, chosen in selections.items()
    ]
    return insert_rows(session, DELIVERIES, rows, conflict=["edition_id", "subscriber_id"]).count


def _segments(session: Session, edition_id: int, selections: Iterable[Selection]) -> dict[str, int]:
    """Segment id per selection key, creating the missing segments."""
    wanted = {chosen.key: chosen for chosen in selections}
    if not wanted:
        return {}
    rows = [
        {
            "edition_id": edition_id,
            "selection_hash": key,
            "paper_ids": list(chosen.paper_ids),
            "reasons": [list(r) for r in chosen.reasons],
            "followed": [i for i, f in enumerate(chosen.followed) if f],
        }
        for key, chosen in wanted.items()
    ]
    insert_rows(session, SEGMENTS, rows, conflict=["edition_id", "selection_hash"])
    found: dict[str, int] = {}
    hashes = list(wanted)
    for start in range(0, len(hashes), 5000):
        found.update(
            session.execute(
                select(Segment.selection_hash, Segment.id).where(
                    Segment.edition_id == edition_id,
                    Segment.selection_hash.in_(hashes[start : start + 5000]),
                )
            )
            .tuples()
            .all()
        )
    return found


@dataclass(frozen=True, slots=True)
class ExplainedPick:
    """One paper of a reader's selection with its score and reasons (`digest preview --for
    EMAIL --json`)."""

    paper: RankedPaper
    score: float
    relevance: float
    reasons: tuple[str, ...]
    followed: bool

    def as_json(self) -> dict[str, object]:
        return {
            **self.paper.as_json(),
            "score": round(self.score, 6),
            "trending_score": round(self.paper.score, 6),
            "relevance": round(self.relevance, 6),
            "reasons": list(self.reasons),
            "followed_author": self.followed,
        }


def explain_selection(
    session: Session, edition: Edition, subscriber_id: int, gravity: float = 1.5
) -> list[ExplainedPick]:
    """What selection picks for one reader in this edition, in order, and why: the same rules
    planning applies (their model trained first if out of date). Writes nothing the caller
    keeps unless it commits."""
    row = session.execute(
        select(
            Subscriber.id, Subscriber.categories, Subscriber.keywords, Subscriber.papers_per_digest
        ).where(Subscriber.id == subscriber_id)
    ).first()
    if row is None:
        return []
    papers = edition_papers(session, edition, gravity)
    vectorizers = Vectorizers(session)
    index = EditionIndex(papers, vectorizers, lambda ids: paper_titles(session, ids))
    models = _Models(session, vectorizers, utcnow())
    history = _history_of(session, edition)
    reader = EligibleReader(row[0], tuple(row[1] or ()), tuple(row[2] or ()), row[3])
    chosen = _pick_chunk(session, index, models, history, [reader])
    by_id = {p.id: p for p in papers}
    return [
        ExplainedPick(by_id[p.paper_id], p.score, p.relevance, p.reasons, p.followed)
        for p in chosen.get(subscriber_id, [])
    ]
