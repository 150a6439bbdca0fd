"""Storing parsed entries: one paper per key, a sighting per (paper, source), upvote history.

Safe under concurrency: papers are inserted with ON CONFLICT (key) DO NOTHING, so two ingestions
racing on the same paper create one row; the loser re-reads it and merges into it.
Works in chunks so a 10,000-entry feed is a few dozen statements, not 10,000 round trips.

One paper under two keys is caught before it is stored twice: an entry with only a link for a
key, whose title (folded) and authors match one known paper, is stored as that paper; and a
paper known only by a link takes the arXiv id or DOI of the first entry that brings one for
the same title (pipeline/ingest/twins.py).

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
from pipeline.ingest.twins import is_id_less, same_authors
from pipeline.store.models import Paper, Sighting, UpvoteSnapshot
from pipeline.store.sql import insert_rows

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

    def absorb(self, other: _Item) -> None:
        """Take in another description of the same paper from the same feed."""
        self.row.update(merge_row(self.row, other.row))
        if other.upvotes is not None:
            self.upvotes = max(self.upvotes or 0, other.upvotes)
        self.announce_type = self.announce_type or other.announce_type


def _collapse(entries: Iterable[PaperEntry], now: datetime) -> dict[str, _Item]:
    """One item per key: feeds sometimes repeat a paper (e.g. new + cross-list)."""
    items: dict[str, _Item] = {}
    for entry in entries:
        item = _Item(entry_to_row(entry, now), entry.upvotes, entry.announce_type)
        known = items.get(entry.key)
        if known is None:
            items[entry.key] = item
        else:
            known.absorb(item)
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
    items = _collapse(fitting, now)
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
    items, folded = _fold_twins(session, items, set(existing))
    if folded:  # some items are now papers stored under other keys
        others = [key for key in items if key not in existing]
        for row in session.execute(select(*columns).where(PAPERS.c.key.in_(others))):
            existing[row.key] = row._asdict()
    existing = {key: row for key, row in existing.items() if key in items}
    ids: dict[str, int] = {key: row["id"] for key, row in existing.items()}

    missing = [key for key in items if key not in existing]
    if missing:
        rows = [
            {**items[key].row, "first_seen_at": now, "updated_at": now} for key in sorted(missing)
        ]
        inserted = insert_rows(
            session, PAPERS, rows, conflict=["key"], returning=["id", "key"]
        ).rows
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


def _fold_twins(
    session: Session, items: dict[str, _Item], known_keys: set[str]
) -> tuple[dict[str, _Item], bool]:
    """The chunk's items keyed by the paper each one is: an entry with only a link for a key
    is the known paper (stored, or in this chunk) with its title and authors, when exactly
    one matches; a stored link-keyed paper takes the key of the chunk's item with an id for
    its title. Returns the items, re-keyed and merged where two turned out to be one, and
    whether any was."""
    new_titles = {
        item.row["title_key"]: key
        for key, item in items.items()
        if key not in known_keys and item.row["title_key"]
    }
    if not new_titles:
        return items, False
    candidates: dict[str, list[tuple[int | None, str, list[str]]]] = {}
    for key, item in items.items():
        if not is_id_less(key) and item.row["title_key"]:
            candidates.setdefault(item.row["title_key"], []).append(
                (None, key, item.row["authors"])
            )
    query = select(PAPERS.c.id, PAPERS.c.key, PAPERS.c.authors, PAPERS.c.title_key).where(
        PAPERS.c.title_key.in_(list(new_titles))
    )
    for paper_id, key, authors, stored_title in session.execute(query):
        if key not in items or is_id_less(key):
            candidates.setdefault(stored_title, []).append((paper_id, key, authors or []))
    target: dict[str, str] = {}
    renamed: set[int] = set()
    for key, item in items.items():
        if key in known_keys or not item.row["title_key"]:
            continue
        matches = {
            (paper_id, other)
            for paper_id, other, authors in candidates.get(item.row["title_key"], [])
            if other != key and same_authors(item.row["authors"], authors)
        }
        if len(matches) != 1:
            continue  # no twin, or too many to tell which
        ((paper_id, other),) = matches
        if is_id_less(key):
            target[key] = other
        elif paper_id is not None and is_id_less(other) and paper_id not in renamed:
            # the link-keyed paper now has an id: it becomes the paper with that key, and the
            # link's own entry, if this chunk has it, is that paper too
            session.execute(update(PAPERS).where(PAPERS.c.id == paper_id).values(key=key))
            renamed.add(paper_id)
            if other in items:
                target[other] = key
    if not target:
        return items, bool(renamed)
    folded: dict[str, _Item] = {}
    for key, item in items.items():
        home = target.get(key, key)
        if home in folded:
            folded[home].absorb(item)
        else:
            item.row["key"] = home
            folded[home] = item
    return folded, True


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
    # a fetch that does not say (no upvotes, no announce type) keeps what an earlier one said
    insert_rows(
        session,
        SIGHTINGS,
        rows,
        conflict=["paper_id", "source_id"],
        on_conflict_set={
            "last_seen_at": "excluded.last_seen_at",
            "upvotes": "coalesce(excluded.upvotes, sightings.upvotes)",
            "announce_type": "coalesce(excluded.announce_type, sightings.announce_type)",
        },
    )

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
