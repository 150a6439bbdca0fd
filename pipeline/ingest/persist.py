"""Storing parsed entries: one paper per key, a sighting per (paper, source), upvote history.

Safe under concurrency: papers are inserted with ON CONFLICT (key) DO NOTHING, so two ingestions
racing on the same paper create one row; the loser re-reads it and merges into it.
Works in chunks so a 10,000-entry feed is a few dozen statements, not 10,000 round trips.

One bad item costs one item: values that do not fit their column (a key or DOI longer than
the schema allows) are refused before any statement runs, and should the database refuse a
chunk anyway, the chunk is stored again one item at a time (each in a savepoint), so the
feed's other items are kept and the refused ones are reported with the database's reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.merge import PAPER_FIELDS, entry_to_row, merge_row
from pipeline.store.models import Paper, Sighting, UpvoteSnapshot
from pipeline.store.sql import insert_for

CHUNK = 500
PAPERS: Table = Paper.__table__  # type: ignore[assignment]
SIGHTINGS: Table = Sighting.__table__  # type: ignore[assignment]
SNAPSHOTS: Table = UpvoteSnapshot.__table__  # type: ignore[assignment]


@dataclass
class StoreCounts:
    """What one batch did to the store: papers new to Paperround, changed, or known as they are,
    and the items refused (key, reason)."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)

    def add(self, other: StoreCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.refused.extend(other.refused)


def _column_limits() -> dict[str, int]:
    """String column lengths of papers and sightings, read from the models (one truth)."""
    limits: dict[str, int] = {}
    for table in (PAPERS, SIGHTINGS):
        for column in table.c:
            length = getattr(column.type, "length", None)
            if isinstance(length, int):
                limits[column.name] = min(length, limits.get(column.name, length))
    return limits


_LIMITS = _column_limits()


def misfit(entry: PaperEntry) -> str | None:
    """Why an entry cannot be stored as it is, or None when every value fits its column."""
    values = {
        "key": entry.key,
        "arxiv_id": entry.arxiv_id,
        "doi": entry.doi,
        "primary_category": entry.primary_category,
        "thumbnail": entry.thumbnail,
        "announce_type": entry.announce_type,
    }
    for name, value in values.items():
        limit = _LIMITS.get(name)
        if value is not None and limit is not None and len(value) > limit:
            return f"{name} is {len(value):,} characters, more than the {limit:,} stored"
    return None


@dataclass
class _Item:
    row: dict[str, Any]
    upvotes: int | None
    announce_type: str | None


def _collapse(entries: Iterable[PaperEntry]) -> dict[str, _Item]:
    """One item per key: feeds sometimes repeat a paper (e.g. new + cross-list)."""
    items: dict[str, _Item] = {}
    for entry in entries:
        row = entry_to_row(entry)
        known = items.get(entry.key)
        if known is None:
            items[entry.key] = _Item(row, entry.upvotes, entry.announce_type)
            continue
        merged = merge_row(known.row, row)
        known.row.update(merged)
        if entry.upvotes is not None:
            known.upvotes = max(known.upvotes or 0, entry.upvotes)
    return items


def store_entries(
    session: Session, source_id: int, entries: Sequence[PaperEntry], now: datetime
) -> StoreCounts:
    """Upsert `entries` seen at `now` from source `source_id`. The caller commits."""
    counts = StoreCounts()
    fitting = []
    for entry in entries:
        why = misfit(entry)
        if why is None:
            fitting.append(entry)
        else:
            counts.refused.append((entry.key[:200], why))
    items = _collapse(fitting)
    keys = list(items)
    for start in range(0, len(keys), CHUNK):
        chunk = {key: items[key] for key in keys[start : start + CHUNK]}
        try:
            with session.begin_nested():
                counts.add(_store_chunk(session, source_id, chunk, now))
        except (DBAPIError, OverflowError):  # (SQLite's driver raises OverflowError itself)
            counts.add(_store_one_by_one(session, source_id, chunk, now))
    return counts


def _store_one_by_one(
    session: Session, source_id: int, chunk: dict[str, _Item], now: datetime
) -> StoreCounts:
    """The slow path for a chunk the database refused: each item in its own savepoint."""
    counts = StoreCounts()
    for key, item in chunk.items():
        try:
            with session.begin_nested():
                counts.add(_store_chunk(session, source_id, {key: item}, now))
        except (DBAPIError, OverflowError) as exc:
            cause = exc.orig if isinstance(exc, DBAPIError) else exc
            reason = (str(cause).strip().splitlines() or [type(exc).__name__])[0]
            counts.refused.append((key[:200], f"refused by the database: {reason[:200]}"))
    return counts


def _store_chunk(
    session: Session, source_id: int, items: dict[str, _Item], now: datetime
) -> StoreCounts:
    counts = StoreCounts()
    columns = [PAPERS.c.id, PAPERS.c.key, PAPERS.c.upvotes, *(PAPERS.c[f] for f in PAPER_FIELDS)]
    existing = {
        row.key: row._asdict()
        for row in session.execute(select(*columns).where(PAPERS.c.key.in_(list(items))))
    }
    ids: dict[str, int] = {key: row["id"] for key, row in existing.items()}

    missing = [key for key in items if key not in existing]
    if missing:
        rows = [
            {**items[key].row, "first_seen_at": now, "updated_at": now} for key in sorted(missing)
        ]
        stmt = insert_for(session, PAPERS).on_conflict_do_nothing(index_elements=["key"])
        inserted = session.execute(stmt.returning(PAPERS.c.id, PAPERS.c.key), rows).all()
        for paper_id, key in inserted:
            ids[key] = paper_id
        counts.new += len(inserted)
        raced = [key for key in missing if key not in ids]
        if raced:  # another ingestion inserted them between our SELECT and INSERT
            for row in session.execute(select(*columns).where(PAPERS.c.key.in_(raced))):
                existing[row.key] = row._asdict()
                ids[row.key] = row.id

    changed: list[dict[str, Any]] = []
    for key, current in existing.items():
        merged = merge_row(current, items[key].row)
        if any(merged[f] != current[f] for f in PAPER_FIELDS):
            changed.append({"b_id": current["id"], **merged, "updated_at": now})
    if changed:
        # Executemany: the SET clause comes from the dicts' keys (all rows carry the same keys).
        by_id = update(PAPERS).where(PAPERS.c.id == bindparam("b_id"))
        session.connection().execute(by_id, changed)

    upvotes_changed = _store_sightings(session, source_id, items, ids, now)
    changed_keys = {row["b_id"] for row in changed} | upvotes_changed
    for key in existing:
        if ids[key] in changed_keys:
            counts.updated += 1
        else:
            counts.unchanged += 1
    return counts


def _store_sightings(
    session: Session, source_id: int, items: dict[str, _Item], ids: dict[str, int], now: datetime
) -> set[int]:
    """Upsert sightings; record upvote snapshots on change. Returns papers whose upvotes moved."""
    paper_ids = list(ids.values())
    previous = dict(
        session.execute(
            select(SIGHTINGS.c.paper_id, SIGHTINGS.c.upvotes).where(
                SIGHTINGS.c.source_id == source_id, SIGHTINGS.c.paper_id.in_(paper_ids)
            )
        )
        .tuples()
        .all()
    )
    rows = [
        {
            "paper_id": ids[key],
            "source_id": source_id,
            "announce_type": item.announce_type,
            "upvotes": item.upvotes,
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for key, item in items.items()
    ]
    insert = insert_for(session, SIGHTINGS)
    stmt = insert.on_conflict_do_update(
        index_elements=["paper_id", "source_id"],
        set_={
            "last_seen_at": insert.excluded.last_seen_at,
            "upvotes": func.coalesce(insert.excluded.upvotes, SIGHTINGS.c.upvotes),
            "announce_type": func.coalesce(
                insert.excluded.announce_type, SIGHTINGS.c.announce_type
            ),
        },
    )
    session.connection().execute(stmt, rows)

    moved = {
        ids[key]: item.upvotes
        for key, item in items.items()
        if item.upvotes is not None and previous.get(ids[key]) != item.upvotes
    }
    if moved:
        session.connection().execute(
            SNAPSHOTS.insert(),
            [
                {"paper_id": pid, "source_id": source_id, "upvotes": up, "observed_at": now}
                for pid, up in moved.items()
            ],
        )
        _refresh_paper_upvotes(session, list(moved))
    return set(moved)


def _refresh_paper_upvotes(session: Session, paper_ids: list[int]) -> None:
    """A paper's upvotes are the highest count any source currently reports."""
    best = (
        select(func.coalesce(func.max(SIGHTINGS.c.upvotes), 0))
        .where(SIGHTINGS.c.paper_id == PAPERS.c.id)
        .scalar_subquery()
    )
    session.execute(update(PAPERS).where(PAPERS.c.id.in_(paper_ids)).values(upvotes=best))
