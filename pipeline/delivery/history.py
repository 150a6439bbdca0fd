"""What each reader got before: "never the same paper twice", across retention.

Two places hold it. Recent editions still have their deliveries (and the segments with their
papers); editions retention compacted (pipeline/delivery/retention.py) left one sent_history
row per reader instead. `SentBefore` reads both, so its callers need not know where an
edition's rows are. A paper counts unless its delivery failed or was skipped: sent, unknown
(it may have arrived), in flight and waiting all count, so a reader never gets a paper twice
because a first message may have reached them.

Its cost follows the edition's candidates, not the readers' history: only editions whose
pool shares a candidate can have sent one (a segment's papers are always drawn from its
edition's pool), and only those are read, through the unique key (edition_id, subscriber_id)
and sent_history's primary key. One cadence's windows do not overlap, so an older edition
qualifies only through a paper listed again (a new version, another source); most days a
reader's history is not read at all, and the 30th edition plans like the 2nd.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.store.models import Delivery, Edition, Segment, SentHistory
from pipeline.store.sql import among
from pipeline.store.status import DeliveryStatus

CHUNK = 5000  # readers per query (SQLite's bound-parameter limit, PostgreSQL's plan size)
NOT_SHOWN = (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)
SEGMENT_CACHE = 50_000  # segments whose candidate papers are remembered between chunks


class SentBefore:
    """Which of an edition's candidate papers each reader got (or may have got) in other
    editions created from `since` on. Built once per planning pass, asked per chunk."""

    def __init__(
        self,
        session: Session,
        candidate_paper_ids: Collection[int],
        *,
        since: datetime,
        exclude_edition_id: int | None = None,
    ) -> None:
        self.candidates = frozenset(candidate_paper_ids)
        self.live: list[int] = []  # editions that may still hold deliveries
        self.compacted: list[int] = []  # editions retention moved (some) readers out of
        self._segments: dict[int, frozenset[int]] = {}
        if not self.candidates:
            return
        rows = session.execute(
            select(Edition.id, Edition.paper_ids, Edition.compacted, Edition.compacted_at).where(
                Edition.created_at >= since, Edition.id != exclude_edition_id
            )
        ).tuples()
        for edition_id, pool, compacted, compacted_at in rows:
            if self.candidates.isdisjoint(pool or ()):
                continue
            if compacted_at is None:
                self.live.append(edition_id)
            if compacted is not None:
                self.compacted.append(edition_id)

    @property
    def editions(self) -> list[int]:
        """The editions a chunk's lookup reads (empty: nothing to look up)."""
        return sorted(set(self.live) | set(self.compacted))

    def for_readers(self, session: Session, reader_ids: Sequence[int]) -> dict[int, set[int]]:
        """{reader id: candidate papers they got}; readers who got none are left out."""
        result: dict[int, set[int]] = {}
        if not reader_ids or not (self.live or self.compacted):
            return result

        def keep(reader_id: int, papers: Iterable[int]) -> None:
            if papers:
                result.setdefault(reader_id, set()).update(papers)

        for start in range(0, len(reader_ids), CHUNK):
            chunk = reader_ids[start : start + CHUNK]
            if self.live:
                pairs = (
                    session.execute(
                        select(Delivery.subscriber_id, Delivery.segment_id).where(
                            among(Delivery.edition_id, self.live),
                            among(Delivery.subscriber_id, chunk),
                            Delivery.status.not_in(NOT_SHOWN),
                        )
                    )
                    .tuples()
                    .all()
                )
                self._learn_segments(session, {seg for _, seg in pairs})
                for reader_id, segment_id in pairs:
                    keep(reader_id, self._segments.get(segment_id, frozenset()))
            if self.compacted:
                for reader_id, paper_ids in session.execute(
                    select(SentHistory.subscriber_id, SentHistory.paper_ids).where(
                        among(SentHistory.subscriber_id, chunk),
                        among(SentHistory.edition_id, self.compacted),
                    )
                ).tuples():
                    keep(reader_id, self.candidates.intersection(paper_ids))
        return result

    def _learn_segments(self, session: Session, segment_ids: set[int]) -> None:
        """Each segment's candidate papers, read once while the cache holds (personal
        segments are one per reader: the cache is bounded, not the edition)."""
        missing = sorted(segment_ids - self._segments.keys())
        if not missing:
            return
        if len(self._segments) + len(missing) > SEGMENT_CACHE:
            self._segments.clear()
        for start in range(0, len(missing), CHUNK):
            rows = session.execute(
                select(Segment.id, Segment.paper_ids).where(
                    among(Segment.id, missing[start : start + CHUNK])
                )
            ).tuples()
            self._segments.update(
                (segment_id, self.candidates.intersection(papers)) for segment_id, papers in rows
            )
