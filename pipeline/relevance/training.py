"""Fitting vocabularies and training reader models, and reading them back.

The vocabulary is refitted nightly on the papers listed in the last VOCABULARY_DAYS days
(a new version; the old ones stay while a model uses them). A reader's model is trained
again only when their ratings or seeds changed since it was trained, or when it still uses
an older vocabulary (a bounded number per night, oldest first), so a night's work follows
the day's feedback, not the number of readers. Planning and previews also train a reader
whose model is out of date on the spot (tens of milliseconds), so a rating counts in the
very next digest.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from scipy import sparse
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.readers.feedback import ratings_by_reader
from pipeline.relevance.features import PaperText, Vectorizer, fit_vectorizer
from pipeline.relevance.model import ReaderModel, train
from pipeline.store.db import write_transaction
from pipeline.store.models import (
    Paper,
    Rating,
    ReaderInterests,
    RelevanceModel,
    RelevanceVectorizer,
)
from pipeline.store.sql import among
from pipeline.timeutil import utcnow

VOCABULARY_DAYS = 60
VOCABULARY_PAPERS = 50_000
NEGATIVE_POOL_DAYS = 30
NEGATIVE_POOL = 2000
NEGATIVES_PER_LIKE = 5
MIN_NEGATIVES, MAX_NEGATIVES = 20, 100
CHUNK = 1000


def paper_texts(session: Session, ids: Iterable[int]) -> dict[int, PaperText]:
    wanted = list(dict.fromkeys(ids))
    found: dict[int, PaperText] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(Paper.id, Paper.title, Paper.abstract, Paper.categories).where(
                Paper.id.in_(wanted[start : start + CHUNK])
            )
        )
        for pid, title, abstract, categories in rows:
            found[pid] = PaperText(pid, title, abstract or "", tuple(categories or ()))
    return found


# --- vocabularies ------------------------------------------------------------------------


def refit_vectorizer(session: Session, now: datetime | None = None) -> Vectorizer:
    """Fit and store a new vocabulary version on recent papers; the caller commits."""
    now = now or utcnow()
    since = now - timedelta(days=VOCABULARY_DAYS)
    ids = list(
        session.scalars(
            select(Paper.id)
            .where(or_(Paper.listed_at >= since, Paper.first_seen_at >= since))
            .order_by(Paper.id.desc())
            .limit(VOCABULARY_PAPERS)
        )
    )
    if len(ids) < 50:  # a young store: use what there is
        ids = list(
            session.scalars(select(Paper.id).order_by(Paper.id.desc()).limit(VOCABULARY_PAPERS))
        )
    fitted = fit_vectorizer(list(paper_texts(session, ids).values()))
    row = RelevanceVectorizer(
        fitted_at=now, papers=len(ids), terms=len(fitted.terms), data=fitted.to_bytes()
    )
    session.add(row)
    session.flush()
    fitted.version = row.version
    return fitted


class Vectorizers:
    """Stored vocabulary versions, each read once (a planning run reads a handful at most)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._loaded: dict[int, Vectorizer] = {}

    def get(self, version: int) -> Vectorizer:
        if version not in self._loaded:
            data = self._session.scalar(
                select(RelevanceVectorizer.data).where(RelevanceVectorizer.version == version)
            )
            if data is None:
                raise LookupError(f"vocabulary version {version} is gone")
            self._loaded[version] = Vectorizer.from_bytes(data, version)
        return self._loaded[version]

    def current(self) -> Vectorizer | None:
        version = self._session.scalar(select(func.max(RelevanceVectorizer.version)))
        return self.get(int(version)) if version is not None else None

    def current_or_fit(self, now: datetime | None = None) -> Vectorizer:
        found = self.current()
        if found is None:
            found = refit_vectorizer(self._session, now)
            self._loaded[found.version or 0] = found
        return found


def drop_unused_vectorizers(session: Session) -> int:
    """Delete vocabulary versions no model uses, except the newest; returns how many."""
    newest = session.scalar(select(func.max(RelevanceVectorizer.version)))
    if newest is None:
        return 0
    used = select(RelevanceModel.vectorizer_version)
    result = session.execute(
        delete(RelevanceVectorizer).where(
            RelevanceVectorizer.version != newest, RelevanceVectorizer.version.not_in(used)
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- reader models -----------------------------------------------------------------------


class PaperVectors:
    """Papers' vectors in one matrix, rows looked up by paper id: a reader's rows are one
    fancy index, not a stack of single rows."""

    def __init__(self, vectorizer: Vectorizer, texts: Mapping[int, PaperText]) -> None:
        ordered = list(texts.values())
        self.ids = [p.id for p in ordered]
        self._row_of = {p.id: k for k, p in enumerate(ordered)}
        self._matrix = vectorizer.transform(ordered)

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self._row_of

    def rows(self, paper_ids: Sequence[int]) -> sparse.csr_matrix:
        return self._matrix[[self._row_of[p] for p in paper_ids]]


class Trainer:
    """Trains reader models against one vocabulary, sharing the pool of recent papers that
    weak negatives are drawn from."""

    def __init__(
        self, session: Session, vectorizer: Vectorizer, now: datetime | None = None
    ) -> None:
        self.session = session
        self.vectorizer = vectorizer
        self.now = now or utcnow()
        self._pool: PaperVectors | None = None

    def _negatives(self) -> PaperVectors:
        if self._pool is None:
            since = self.now - timedelta(days=NEGATIVE_POOL_DAYS)
            ids = list(
                self.session.scalars(
                    select(Paper.id)
                    # never a paper listed after `now`: evaluation trains "as of" a past
                    # split, and a later paper the reader went on to like is no negative
                    .where(Paper.listed_at >= since, Paper.listed_at <= self.now)
                    .order_by(Paper.listed_at.desc(), Paper.id.desc())
                    .limit(NEGATIVE_POOL)
                )
            )
            texts = paper_texts(self.session, ids)
            self._pool = PaperVectors(self.vectorizer, {i: texts[i] for i in ids if i in texts})
        return self._pool

    def train_readers(self, subscriber_ids: Sequence[int]) -> dict[int, ReaderModel | None]:
        """Train (and store) the models of these readers; None for a reader with nothing to
        learn from (their stored model, if any, is removed). The caller commits."""
        ratings = ratings_by_reader(self.session, subscriber_ids)
        order = self._rating_order(subscriber_ids)
        seeds = self._seed_papers(subscriber_ids)
        needed = {p for r in ratings.values() for p in r} | {p for s in seeds.values() for p in s}
        vectors = PaperVectors(self.vectorizer, paper_texts(self.session, needed))
        result: dict[int, ReaderModel | None] = {}
        for reader in subscriber_ids:
            rated = ratings.get(reader, {})
            liked = [p for p in order.get(reader, []) if rated.get(p, 0) > 0]
            liked += [p for p in seeds.get(reader, []) if p not in rated and p not in liked]
            disliked = [p for p in order.get(reader, []) if rated.get(p, 0) < 0]
            self._mark_trained(reader)
            model = self.model_for(reader, liked, disliked, set(rated), len(rated), vectors)
            if model is None:
                self.session.execute(
                    delete(RelevanceModel).where(RelevanceModel.subscriber_id == reader)
                )
            else:
                self._store(reader, model)
            result[reader] = model
        return result

    def model_for(
        self,
        reader: int,
        liked: Sequence[int],
        disliked: Sequence[int],
        rated: set[int],
        ratings: int,
        vectors: PaperVectors,
    ) -> ReaderModel | None:
        """A model (not stored) from these papers: liked most recent first; None without a
        liked paper. Evaluation trains on a past slice of ratings with it."""
        liked = [p for p in liked if p in vectors]
        disliked = [p for p in disliked if p in vectors]
        if not liked:
            return None
        unrated = self._sample_unrated(reader, rated | set(liked), len(liked))
        return train(
            self.vectorizer,
            vectors.rows(liked),
            liked,
            vectors.rows(disliked),
            unrated,
            ratings=ratings,
        )

    def _rating_order(self, subscriber_ids: Sequence[int]) -> dict[int, list[int]]:
        """Each reader's rated papers, most recently rated first."""
        order: dict[int, list[int]] = {}
        for start in range(0, len(subscriber_ids), CHUNK):
            rows = self.session.execute(
                select(Rating.subscriber_id, Rating.paper_id)
                .where(among(Rating.subscriber_id, list(subscriber_ids[start : start + CHUNK])))
                .order_by(Rating.subscriber_id, Rating.updated_at.desc(), Rating.id.desc())
            )
            for reader, paper in rows:
                order.setdefault(reader, []).append(paper)
        return order

    def _seed_papers(self, subscriber_ids: Sequence[int]) -> dict[int, list[int]]:
        """Seed papers (arXiv ids) that are in the store, by reader."""
        seeds: dict[int, list[str]] = {}
        for start in range(0, len(subscriber_ids), CHUNK):
            rows = self.session.execute(
                select(ReaderInterests.subscriber_id, ReaderInterests.seeds).where(
                    among(
                        ReaderInterests.subscriber_id, list(subscriber_ids[start : start + CHUNK])
                    )
                )
            )
            for reader, ids in rows:
                if ids:
                    seeds[reader] = list(ids)
        wanted = {a for ids in seeds.values() for a in ids}
        by_arxiv: dict[str, int] = {}
        listed = list(wanted)
        for start in range(0, len(listed), CHUNK):
            rows = self.session.execute(
                select(Paper.arxiv_id, Paper.id).where(
                    Paper.arxiv_id.in_(listed[start : start + CHUNK])
                )
            )
            by_arxiv.update((arxiv_id, pid) for arxiv_id, pid in rows if arxiv_id)
        return {r: [by_arxiv[a] for a in ids if a in by_arxiv] for r, ids in seeds.items()}

    def _sample_unrated(self, reader: int, known: set[int], likes: int) -> sparse.csr_matrix:
        pool = self._negatives()
        candidates = [p for p in pool.ids if p not in known]
        count = min(
            len(candidates), max(MIN_NEGATIVES, min(MAX_NEGATIVES, NEGATIVES_PER_LIKE * likes))
        )
        chosen = random.Random(reader).sample(candidates, count) if count else []
        return pool.rows(chosen)

    def _mark_trained(self, reader: int) -> None:
        interests = self.session.get(ReaderInterests, reader)
        if interests is None:
            interests = ReaderInterests(subscriber_id=reader, changed_at=self.now)
            self.session.add(interests)
        interests.trained_at = self.now

    def _store(self, reader: int, model: ReaderModel) -> None:
        row = self.session.get(RelevanceModel, reader)
        if row is None:
            row = RelevanceModel(subscriber_id=reader)
            self.session.add(row)
        row.vectorizer_version = model.vectorizer_version
        row.kind = model.kind
        row.ratings = model.ratings
        row.prototype_ids = list(model.prototype_ids)
        row.trained_at = self.now
        row.data = model.to_bytes()


def stale_readers(
    session: Session, subscriber_ids: Sequence[int] | None = None, limit: int | None = None
) -> list[int]:
    """Readers whose ratings or seeds changed since their model was last trained (or who
    were never trained), optionally among `subscriber_ids`, in id order."""
    trained = ReaderInterests.trained_at
    query = select(ReaderInterests.subscriber_id).where(
        or_(
            trained.is_(None),
            trained < ReaderInterests.changed_at,
            trained < ReaderInterests.rated_at,
        )
    )
    if subscriber_ids is not None:
        query = query.where(among(ReaderInterests.subscriber_id, list(subscriber_ids)))
    query = query.order_by(ReaderInterests.subscriber_id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def outdated_models(session: Session, version: int, limit: int) -> list[int]:
    """Readers whose model uses an older vocabulary than `version`, oldest first."""
    return list(
        session.scalars(
            select(RelevanceModel.subscriber_id)
            .where(RelevanceModel.vectorizer_version < version)
            .order_by(RelevanceModel.trained_at, RelevanceModel.subscriber_id)
            .limit(limit)
        )
    )


def load_models(session: Session, subscriber_ids: Sequence[int]) -> dict[int, ReaderModel]:
    models: dict[int, ReaderModel] = {}
    for start in range(0, len(subscriber_ids), CHUNK):
        rows = session.execute(
            select(
                RelevanceModel.subscriber_id,
                RelevanceModel.vectorizer_version,
                RelevanceModel.ratings,
                RelevanceModel.prototype_ids,
                RelevanceModel.data,
            ).where(among(RelevanceModel.subscriber_id, subscriber_ids[start : start + CHUNK]))
        )
        for reader, version, ratings, prototype_ids, data in rows:
            models[reader] = ReaderModel.from_bytes(data, version, ratings, prototype_ids or [])
    return models


@dataclass
class TrainingReport:
    refitted: int | None = None  # the new vocabulary version, if one was fitted
    trained: int = 0
    models: int = 0  # readers with a model after training
    dropped_vocabularies: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "refitted_version": self.refitted,
            "trained": self.trained,
            "models": self.models,
            "dropped_vocabularies": self.dropped_vocabularies,
        }


REFIT_AFTER = timedelta(hours=20)  # a nightly refit, even if the schedule drifts


def train_due(
    factory: sessionmaker[Session],
    now: datetime | None = None,
    *,
    refit: bool | None = None,
    batch: int = 500,
    outdated: int = 5000,
    on_batch: Callable[[int], None] | None = None,
) -> TrainingReport:
    """The nightly work: refit the vocabulary (when `refit`, or by default when the newest
    is older than REFIT_AFTER), train every reader whose feedback changed, then up to
    `outdated` readers still on an older vocabulary; drop vocabularies no model uses.
    Commits after each batch, so a crash loses one batch at most."""
    now = now or utcnow()
    report = TrainingReport()
    with write_transaction(factory) as session:
        newest = session.scalar(select(func.max(RelevanceVectorizer.fitted_at)))
        due = refit if refit is not None else newest is None or now - newest >= REFIT_AFTER
        has_papers = session.scalar(select(Paper.id).limit(1)) is not None
        if due and has_papers:
            report.refitted = refit_vectorizer(session, now).version
    while True:
        with write_transaction(factory) as session:
            vectorizer = Vectorizers(session).current()
            if vectorizer is None or vectorizer.version is None:
                break
            readers = stale_readers(session, limit=batch)
            if not readers and outdated > 0:
                readers = outdated_models(session, vectorizer.version, min(batch, outdated))
                outdated -= len(readers)
            if not readers:
                break
            trained = Trainer(session, vectorizer, now).train_readers(readers)
            report.trained += len(trained)
            report.models += sum(model is not None for model in trained.values())
        if on_batch is not None:
            on_batch(len(trained))
    with write_transaction(factory) as session:
        report.dropped_vocabularies = drop_unused_vectorizers(session)
    return report
