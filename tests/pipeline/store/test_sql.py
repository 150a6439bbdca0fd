"""pipeline.store.sql.insert_rows: the bulk INSERT ingestion uses, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, func, select

from pipeline.store import sql
from pipeline.store.db import create_engine_for, init_store, write_transaction
from pipeline.store.models import Paper, Sighting, Source
from pipeline.store.sql import insert_rows
from tests.conftest import Store

NOW = datetime(2026, 11, 20, 8, 0, 0, 123456, tzinfo=UTC)
PAPERS: Table = Paper.__table__  # type: ignore[assignment]
SIGHTINGS: Table = Sighting.__table__  # type: ignore[assignment]


def _row(n: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "key": f"arxiv:2611.{n:05d}",
        "title": f"Paper {n}",
        "abstract": "",
        "authors": [f"Ann {n}", "Bob"],
        "categories": ["cs.LG"],
        "links": {"abs": f"https://arxiv.org/abs/2611.{n:05d}"},
        "keywords": None,
        "published_at": None,
        "first_seen_at": NOW,
        "listed_at": NOW + timedelta(seconds=n),
        "updated_at": NOW,
        "upvotes": n,
        "num_comments": 0,
    }
    row.update(changes)
    return row


def test_rows_read_back_as_the_orm_wrote_them(store: Store) -> None:
    with write_transaction(store.sessions) as session:
        written = insert_rows(
            session, PAPERS, [_row(1), _row(2)], conflict=["key"], returning=["id", "key"]
        ).rows
        session.add(Paper(**_row(3)))
    assert [key for _id, key in written] == ["arxiv:2611.00001", "arxiv:2611.00002"]
    with store.sessions() as session:
        papers = {p.key: p for p in session.scalars(select(Paper))}
        one = papers["arxiv:2611.00001"]
        assert (one.authors, one.links, one.keywords) == (
            ["Ann 1", "Bob"],
            {"abs": "https://arxiv.org/abs/2611.00001"},
            None,
        )
        assert one.first_seen_at == NOW and one.listed_at == NOW + timedelta(seconds=1)
        # times compare in SQL alike, whichever way they were written (SQLite stores text)
        later = session.scalars(
            select(Paper.key)
            .where(Paper.listed_at >= NOW + timedelta(seconds=2))
            .order_by(Paper.key)
        ).all()
        assert later == ["arxiv:2611.00002", "arxiv:2611.00003"]
        same = session.scalar(
            select(func.count()).select_from(Paper).where(Paper.first_seen_at == NOW)
        )
        assert same == 3


def test_conflicting_rows_are_skipped_and_not_returned(store: Store) -> None:
    with write_transaction(store.sessions) as session:
        insert_rows(session, PAPERS, [_row(1)], conflict=["key"], returning=["id"])
    with write_transaction(store.sessions) as session:
        again = insert_rows(
            session,
            PAPERS,
            [_row(1, title="Changed"), _row(2)],
            conflict=["key"],
            returning=["key"],
        )
    assert again.rows == [("arxiv:2611.00002",)] and again.count == 1
    with store.sessions() as session:
        assert (
            session.scalar(select(Paper.title).where(Paper.key == "arxiv:2611.00001")) == "Paper 1"
        )


def test_on_conflict_set_updates_the_row_in_place(store: Store) -> None:
    with write_transaction(store.sessions) as session:
        source = Source(name="s", kind="feed", url="https://example.org/feed")
        session.add(source)
        session.flush()
        ((paper_id,),) = insert_rows(
            session, PAPERS, [_row(1)], conflict=["key"], returning=["id"]
        ).rows
        sighting = {
            "paper_id": paper_id,
            "source_id": source.id,
            "announce_type": "new",
            "upvotes": 5,
            "first_seen_at": NOW,
            "last_seen_at": NOW,
        }
        update = {
            "last_seen_at": "excluded.last_seen_at",
            "upvotes": "coalesce(excluded.upvotes, sightings.upvotes)",
        }
        insert_rows(
            session,
            SIGHTINGS,
            [sighting],
            conflict=["paper_id", "source_id"],
            on_conflict_set=update,
        )
        later = {**sighting, "upvotes": None, "last_seen_at": NOW + timedelta(hours=1)}
        insert_rows(
            session, SIGHTINGS, [later], conflict=["paper_id", "source_id"], on_conflict_set=update
        )
    with store.sessions() as session:
        (row,) = session.scalars(select(Sighting)).all()
        assert (row.upvotes, row.first_seen_at, row.last_seen_at) == (
            5,
            NOW,
            NOW + timedelta(hours=1),
        )


def test_more_rows_than_one_statement_can_bind(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "SQLITE_MAX_VARIABLES", 40)  # three rows per SQLite statement
    rows = [_row(n) for n in range(10)]
    with write_transaction(store.sessions) as session:
        written = insert_rows(session, PAPERS, rows, conflict=["key"], returning=["key"])
    assert sorted(key for (key,) in written.rows) == sorted(r["key"] for r in rows)
    assert written.count == len(rows)
    with write_transaction(store.sessions) as session:
        again = insert_rows(session, PAPERS, [*rows, _row(99)], conflict=["key"])
    assert again.count == 1  # counted without RETURNING: only the one new row


def test_rows_must_agree_on_their_columns(store: Store) -> None:
    with (
        write_transaction(store.sessions) as session,
        pytest.raises(ValueError, match="same columns"),
    ):
        insert_rows(session, PAPERS, [_row(1), {**_row(2), "comment": "x"}], conflict=["key"])
    with write_transaction(store.sessions) as session:
        assert insert_rows(session, PAPERS, [], conflict=["key"], returning=["id"]).rows == []


def test_values_every_row_shares_are_written_to_each(store: Store) -> None:
    shared = {"first_seen_at": NOW, "updated_at": NOW, "upvotes": 7, "categories": ["cs.AI"]}
    rows = [_row(n, **shared) for n in range(1, 4)]
    with write_transaction(store.sessions) as session:
        written = insert_rows(session, PAPERS, rows, conflict=["key"])
    assert written.count == 3
    with store.sessions() as session:
        papers = list(session.scalars(select(Paper).order_by(Paper.key)))
    assert [(p.upvotes, p.categories, p.first_seen_at) for p in papers] == [(7, ["cs.AI"], NOW)] * 3
    assert [p.title for p in papers] == ["Paper 1", "Paper 2", "Paper 3"]


def test_among_matches_a_batch_of_ids_and_an_empty_one(store: Store) -> None:
    with write_transaction(store.sessions) as session:
        insert_rows(session, PAPERS, [_row(n) for n in range(1, 6)], conflict=["key"])
    with store.sessions() as session:
        ids = sorted(session.scalars(select(Paper.id)))
        assert (
            sorted(session.scalars(select(Paper.id).where(sql.among(Paper.id, ids[1:3]))))
            == (ids[1:3])
        )
        assert list(session.scalars(select(Paper.id).where(sql.among(Paper.id, [])))) == []
        # the same statement shape with other ids gives their rows, not cached ones
        assert list(session.scalars(select(Paper.id).where(sql.among(Paper.id, [ids[4]])))) == [
            ids[4]
        ]


def test_among_is_looked_up_by_key_not_scanned_on_sqlite(tmp_path: Path) -> None:
    # Beside another condition (as every caller has one), the id list must stay an index
    # condition: rendered as `(id IN (...)) = 1` it made SQLite scan the table per batch.
    engine = create_engine_for(f"sqlite:///{tmp_path}/plan.db")
    init_store(engine)
    statement = select(Paper.id).where(sql.among(Paper.id, [3, 1, 2]), Paper.upvotes > 0)
    with engine.connect() as connection:
        compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
        assert "= 1" not in str(compiled)
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    engine.dispose()
    details = " ".join(str(row[-1]) for row in plan)
    assert "SEARCH papers USING INTEGER PRIMARY KEY" in details, details
