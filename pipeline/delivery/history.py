"""What each reader got before: "never the same paper twice", across retention.

Two places hold it. Recent editions still have their deliveries (and the segments with their
papers); editions retention compacted (pipeline/delivery/retention.py) left one sent_history
row per reader instead. `papers_sent_to` reads both, so its callers need not know where an
edition's rows are. A paper counts unless its delivery failed or was skipped: sent, unknown
(it may have arrived), in flight and waiting all count, so a reader never gets a paper twice
because a first message may have reached them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.store.models import Delivery, Edition, Segment, SentHistory
from pipeline.store.status import DeliveryStatus

CHUNK = 5000  # readers per query (SQLite's bound-parameter limit, PostgreSQL's plan size)
NOT_SHOWN = (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)


def papers_sent_to(
    session: Session,
    subscriber_ids: Iterable[int],
    candidate_paper_ids: Collection[int] | None = None,
    *,
    since: datetime | None = None,
    exclude_edition_id: int | None = None,
) -> dict[int, set[int]]:
    """Papers each reader got (or may have got), as {subscriber id: paper ids}; readers who
    got none of them are left out.

    `candidate_paper_ids` limits the answer to those papers (an edition's pool: the sets stay
    small however long the history); `since` to editions created from then on;
    `exclude_edition_id` leaves one edition out (the one being planned). Reads each reader's
    deliveries (ix_deliveries_subscriber_id), each segment's papers once, then sent_history
    by its primary key (subscriber_id, edition_id).
    """
    wanted = None if candidate_paper_ids is None else set(candidate_paper_ids)
    ids = list(dict.fromkeys(subscriber_ids))
    result: dict[int, set[int]] = {}
    segment_papers: dict[int, set[int]] = {}

    def keep(subscriber_id: int, paper_ids: Iterable[int]) -> None:
        papers = set(paper_ids) if wanted is None else wanted.intersection(paper_ids)
        if papers:
            result.setdefault(subscriber_id, set()).update(papers)

    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        # Deliveries first, then sent_history: retention moves a reader's rows from the one
        # to the other in one transaction, so reading in this order can see them twice
        # (harmless) but never miss them.
        live = select(Delivery.subscriber_id, Delivery.segment_id).where(
            Delivery.subscriber_id.in_(chunk), Delivery.status.not_in(NOT_SHOWN)
        )
        compact = select(SentHistory.subscriber_id, SentHistory.paper_ids).where(
            SentHistory.subscriber_id.in_(chunk)
        )
        if since is not None:
            live = live.join(Edition, Edition.id == Delivery.edition_id).where(
                Edition.created_at >= since
            )
            compact = compact.join(Edition, Edition.id == SentHistory.edition_id).where(
                Edition.created_at >= since
            )
        if exclude_edition_id is not None:
            live = live.where(Delivery.edition_id != exclude_edition_id)
            compact = compact.where(SentHistory.edition_id != exclude_edition_id)
        pairs = session.execute(live).tuples().all()
        _load_segments(session, {seg for _, seg in pairs} - segment_papers.keys(), segment_papers)
        for subscriber_id, segment_id in pairs:
            keep(subscriber_id, segment_papers.get(segment_id, ()))
        for subscriber_id, paper_ids in session.execute(compact).tuples():
            keep(subscriber_id, paper_ids)
    return result


def _load_segments(session: Session, wanted: set[int], into: dict[int, set[int]]) -> None:
    """Each segment's papers, read once however many readers share it."""
    missing: Sequence[int] = sorted(wanted)
    for start in range(0, len(missing), CHUNK):
        rows = session.execute(
            select(Segment.id, Segment.paper_ids).where(
                Segment.id.in_(missing[start : start + CHUNK])
            )
        ).tuples()
        into.update((segment_id, set(paper_ids)) for segment_id, paper_ids in rows)
