"""How good the relevance model is, measured on the store's own ratings.

Time split: every rating before the split time (by default the 80th percentile of rating
times) trains, every later one tests. For each reader with a liked paper on both sides,
the later rated papers are ranked together with RANDOM_NEGATIVES recent papers the reader
never rated (the "ranking against random papers" setting of Scholar Inbox's comparison),
by three rankers:

- model: the reader's model trained on the earlier ratings (and seeds), as planning would;
- trending: upvotes, then recency (what a reader gets without any personal signal);
- keywords: 1 for a paper matching the reader's categories or keywords, then trending.

A later "more like this" is relevant; everything else is not. Reported per ranker: mean
nDCG@10 and mean AUC over the readers evaluated.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.readers.interests import keyword_pattern
from pipeline.relevance.features import PaperText
from pipeline.relevance.model import relevance_matrix
from pipeline.relevance.training import PaperVectors, Trainer, Vectorizers, paper_texts
from pipeline.store.models import Paper, Rating, Subscriber

RANDOM_NEGATIVES = 50
TOP = 10
RANKERS = ("model", "trending", "keywords")


@dataclass
class Evaluation:
    readers: int = 0
    ratings_train: int = 0
    ratings_test: int = 0
    split_at: datetime | None = None
    ndcg: dict[str, float] = field(default_factory=dict)
    auc: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "readers": self.readers,
            "ratings_train": self.ratings_train,
            "ratings_test": self.ratings_test,
            "split_at": self.split_at.isoformat() if self.split_at else None,
            "ndcg_at_10": {k: round(v, 4) for k, v in self.ndcg.items()},
            "auc": {k: round(v, 4) for k, v in self.auc.items()},
        }


def ndcg_at(relevant: Sequence[bool], k: int = TOP) -> float:
    """nDCG@k of a ranked list of relevant/irrelevant items (binary gains)."""
    gains = [1.0 / math.log2(i + 2) for i, hit in enumerate(relevant[:k]) if hit]
    ideal = [1.0 / math.log2(i + 2) for i in range(min(k, sum(relevant)))]
    return sum(gains) / sum(ideal) if ideal else 0.0


def auc(scores: Sequence[float], relevant: Sequence[bool]) -> float:
    """The probability that a relevant item outscores an irrelevant one (ties count half)."""
    positives = [s for s, r in zip(scores, relevant, strict=True) if r]
    negatives = [s for s, r in zip(scores, relevant, strict=True) if not r]
    if not positives or not negatives:
        return 0.5
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return float(wins) / (len(positives) * len(negatives))


@dataclass(frozen=True)
class _Rated:
    reader: int
    paper: int
    value: int
    at: datetime


def evaluate(session: Session, split_at: datetime | None = None, seed: int = 7) -> Evaluation:
    """Replay the store's ratings (see the module docstring). Reads only; trains nothing
    that is stored."""
    rows = [
        _Rated(*row)
        for row in session.execute(
            select(Rating.subscriber_id, Rating.paper_id, Rating.value, Rating.updated_at).order_by(
                Rating.updated_at, Rating.id
            )
        )
    ]
    result = Evaluation()
    if len(rows) < 2:
        return result
    split = split_at or rows[int(len(rows) * 0.8)].at
    result.split_at = split
    train_rows = [r for r in rows if r.at < split]
    test_rows = [r for r in rows if r.at >= split]
    vectorizer = Vectorizers(session).current_or_fit()
    trainer = Trainer(session, vectorizer, split)
    pool = list(session.scalars(select(Paper.id).order_by(Paper.id.desc()).limit(5000)))
    texts = paper_texts(session, {r.paper for r in rows} | set(pool))
    vectors = PaperVectors(vectorizer, texts)
    stats = _paper_stats(session, texts)
    filters = _reader_filters(session, {r.reader for r in rows})
    sums = {name: [0.0, 0.0] for name in RANKERS}
    rng = random.Random(seed)
    for reader in sorted({r.reader for r in test_rows}):
        earlier = [r for r in reversed(train_rows) if r.reader == reader]  # newest first
        later = [r for r in test_rows if r.reader == reader]
        if not any(r.value > 0 for r in earlier) or not any(r.value > 0 for r in later):
            continue
        model = trainer.model_for(
            reader,
            [r.paper for r in earlier if r.value > 0],
            [r.paper for r in earlier if r.value < 0],
            {r.paper for r in earlier},
            len(earlier),
            vectors,
        )
        if model is None:
            continue
        rated = {r.paper for r in earlier} | {r.paper for r in later}
        unrated = [p for p in pool if p not in rated and p in texts]
        negatives = rng.sample(unrated, min(RANDOM_NEGATIVES, len(unrated)))
        items = [r.paper for r in later if r.paper in texts] + negatives
        relevant = [p in {r.paper for r in later if r.value > 0} for p in items]
        wanted = filters.get(reader)
        scored = {
            "model": [float(v) for v in relevance_matrix(vectors.rows(items), [model])[:, 0]],
            "trending": [stats[p] for p in items],
            "keywords": [
                (1.0 if wanted and _matches(texts[p], wanted) else 0.0) + stats[p] / 1e6
                for p in items
            ],
        }
        for name, scores in scored.items():
            order = sorted(range(len(items)), key=_by_score(scores, items))
            sums[name][0] += ndcg_at([relevant[i] for i in order])
            sums[name][1] += auc(scores, relevant)
        result.readers += 1
    result.ratings_train, result.ratings_test = len(train_rows), len(test_rows)
    for name, (ndcg_sum, auc_sum) in sums.items():
        result.ndcg[name] = ndcg_sum / result.readers if result.readers else 0.0
        result.auc[name] = auc_sum / result.readers if result.readers else 0.0
    return result


def _by_score(scores: Sequence[float], items: Sequence[int]) -> Callable[[int], tuple[float, int]]:
    """Best score first, ties by paper id (a total, repeatable order)."""
    return lambda i: (-scores[i], items[i])


def _paper_stats(session: Session, texts: Mapping[int, PaperText]) -> dict[int, float]:
    """A trending stand-in for past papers: upvotes, ties by recency (later id)."""
    upvotes = dict(
        session.execute(select(Paper.id, Paper.upvotes).where(Paper.id.in_(list(texts))))
        .tuples()
        .all()
    )
    return {pid: float(upvotes.get(pid, 0)) + pid / 1e9 for pid in texts}


def _reader_filters(session: Session, readers: set[int]) -> dict[int, tuple[set[str], list[str]]]:
    rows = session.execute(
        select(Subscriber.id, Subscriber.categories, Subscriber.keywords).where(
            Subscriber.id.in_(list(readers))
        )
    )
    return {rid: (set(cats or ()), [k.casefold() for k in kws or ()]) for rid, cats, kws in rows}


def _matches(paper: PaperText, wanted: tuple[set[str], list[str]]) -> bool:
    categories, keywords = wanted
    if categories & {*paper.categories, *(c.split(".")[0] for c in paper.categories)}:
        return True
    text = paper.text.casefold()
    return any(keyword_pattern(k).search(text) for k in keywords)
