"""One relevance benchmark run in its own process, so its peak RSS is its own:

    python -m bench.relevance_run READERS MODELLED NEW_PAPERS [sqlite|postgresql]

Seeds a fresh store: 2,000 older papers (what readers rated) and NEW_PAPERS papers in
today's window (a generated arXiv listing: ~1,000-character abstracts), READERS readers
(a third following nothing, a third one or two categories, a third a few keywords), of
whom MODELLED rated five older papers each. Then, timed apart:

- training: the nightly job (`train_due`: a vocabulary, then every reader who rated);
- planning: `plan_edition` of today's edition for every reader (candidates are the whole
  window; scoring, selection, segments and the ledger rows), committed.

Prints JSON: timings, counts, peak RSS (VmHWM) after each phase.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from bench.digest_run import _store, peak_rss_mb
from bench.digest_world import _row
from pipeline.digest.planning import plan_edition
from pipeline.ingest.formats import parse_body
from pipeline.ingest.formats.synthetic import arxiv_rss_feed
from pipeline.ingest.persist import store_entries
from pipeline.relevance.training import train_due
from pipeline.store.db import session_factory, write_transaction
from pipeline.store.models import Delivery, Paper, Rating, ReaderInterests, Source, Subscriber

OLDER = 2000
RATINGS_EACH = 5
CATEGORIES = ("cs.LG", "cs.AI", "cs.CL", "cs.CV", "stat.ML", "math.OC", "cs.RO", "eess.IV")
KEYWORDS = ("diffusion", "latency", "graphs", "robustness", "attention", "sparse", "scaling")


def _papers(factory, now: datetime, new: int) -> tuple[list[int], list[int]]:
    feed = arxiv_rss_feed(OLDER + new, seed=11)
    _kind, parsed = parse_body("arxiv-rss", feed, "https://rss.arxiv.org/rss/cs.LG")
    entries = parsed.entries
    with write_transaction(factory) as session:
        source = Source(name="bench", kind="arxiv-rss", url="https://example.org/rss")
        session.add(source)
        session.flush()
        store_entries(session, source.id, entries[:OLDER], now - timedelta(days=3))
        store_entries(session, source.id, entries[OLDER:], now - timedelta(hours=2))
    with factory() as session:
        cutoff = now - timedelta(days=1)
        older = list(session.scalars(select(Paper.id).where(Paper.listed_at < cutoff)))
        window = list(session.scalars(select(Paper.id).where(Paper.listed_at >= cutoff)))
    return older, window


def _readers(factory, now: datetime, readers: int, modelled: int, older: list[int]) -> None:
    rng = random.Random(5)
    rows = []
    for i in range(readers):
        prefs: dict[str, object] = {"papers_per_digest": 10}
        if i % 3 == 1:
            prefs["categories"] = rng.sample(CATEGORIES, rng.randint(1, 2))
        elif i % 3 == 2:
            prefs["keywords"] = rng.sample(KEYWORDS, rng.randint(1, 3))
        rows.append(_row(i, now, **prefs))
    with write_transaction(factory) as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(Subscriber), rows[start : start + 5000])
    with factory() as session:
        ids = list(session.scalars(select(Subscriber.id).order_by(Subscriber.id).limit(modelled)))
    ratings, interests = [], []
    for reader in ids:
        liked = rng.sample(older, RATINGS_EACH)
        for k, paper in enumerate(liked):
            value = -1 if k == RATINGS_EACH - 1 else 1
            ratings.append(
                {
                    "subscriber_id": reader,
                    "paper_id": paper,
                    "value": value,
                    "via": "email",
                    "created_at": now - timedelta(days=1),
                    "updated_at": now - timedelta(days=1),
                }
            )
        interests.append(
            {
                "subscriber_id": reader,
                "seeds": [],
                "follow_authors": [],
                "mute_authors": [],
                "exclude_keywords": [],
                "skip_empty": True,
                "changed_at": now - timedelta(days=2),
                "rated_at": now - timedelta(days=1),
            }
        )
    with write_transaction(factory) as session:
        for start in range(0, len(ratings), 10_000):
            session.execute(insert(Rating), ratings[start : start + 10_000])
        for start in range(0, len(interests), 10_000):
            session.execute(insert(ReaderInterests), interests[start : start + 10_000])


def main(readers: int, modelled: int, new: int, store: str = "sqlite") -> dict[str, object]:
    now = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory(prefix="paperround-bench-") as folder,
        _store(store, folder) as engine,
    ):
        factory = session_factory(engine)
        older, window = _papers(factory, now, new)
        _readers(factory, now, readers, modelled, older)
        setup_rss = peak_rss_mb()
        start = time.perf_counter()
        trained = train_due(factory, now - timedelta(hours=1))
        training_s = time.perf_counter() - start
        training_rss = peak_rss_mb()
        start = time.perf_counter()
        with write_transaction(factory) as session:
            report = plan_edition(session, now=now)
        plan_s = time.perf_counter() - start
        with factory() as session:
            planned = session.scalar(select(func.count()).select_from(Delivery))
        return {
            "store": store,
            "readers": readers,
            "modelled": modelled,
            "window_papers": len(window),
            "models": trained.models,
            "training_s": training_s,
            "training_ms_per_reader": 1000 * training_s / max(1, trained.trained),
            "plan_s": plan_s,
            "deliveries": planned,
            "segments": report.segments,
            "no_match": report.no_match,
            "setup_rss_mb": setup_rss,
            "training_rss_mb": training_rss,
            "peak_rss_mb": peak_rss_mb(),
        }


if __name__ == "__main__":
    args = sys.argv[1:]
    result = main(int(args[0]), int(args[1]), int(args[2]), *args[3:4])
    print(json.dumps(result))
