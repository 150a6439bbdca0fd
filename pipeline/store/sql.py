"""Dialect helpers: the few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Dialect, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(bind: Session | Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with the dialect's ON CONFLICT clauses (both engines spell them alike)."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    if dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def is_postgresql(bind: Session | Connection) -> bool:
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    return bool(dialect.name == "postgresql")


@dataclass(frozen=True)
class Written:
    """What an insert_rows call wrote: the `returning` values, and how many rows it wrote
    (inserted, or updated on conflict; conflicts skipped are not counted)."""

    rows: list[tuple[Any, ...]]
    count: int


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str],
    returning: Sequence[str] = (),
    on_conflict_set: Mapping[str, str] | None = None,
) -> Written:
    """INSERT `rows` (every row with the same keys); a row that conflicts on the unique
    `conflict` columns is skipped, or, with `on_conflict_set` ({column: SQL expression over
    the table's and `excluded`'s columns}), updates the row it conflicts with. Returns
    `returning` of the rows written and their count (no RETURNING needed just to count).

    On PostgreSQL this is one statement with one array parameter per column, unnested on the
    server: a 500-row chunk of a 27-column table is 27 parameters, not 13,500 for the driver
    to splice into SQL text (psycopg parses a statement's placeholders on the client, and at
    that size the parse costs more than the insert). On SQLite, one multi-row INSERT handed
    to the driver with each value already converted by its column's type (SQLAlchemy's own
    statement machinery costs more per value than SQLite does). Rows get no Python-side
    column defaults: give every value a NOT NULL column needs."""
    if not rows:
        return Written([], 0)
    names = list(rows[0])
    if any(list(row) != names for row in rows):
        raise ValueError("every row must carry the same columns, in the same order")
    dialect = session.get_bind().dialect
    quoted = dialect.identifier_preparer.quote
    head = f"INSERT INTO {quoted(table.name)} ({', '.join(quoted(n) for n in names)}) "
    action = (
        "DO UPDATE SET " + ", ".join(f"{quoted(c)} = {e}" for c, e in on_conflict_set.items())
        if on_conflict_set
        else "DO NOTHING"
    )
    tail = f" ON CONFLICT ({', '.join(quoted(c) for c in conflict)}) {action}"
    if returning:
        tail += f" RETURNING {', '.join(quoted(r) for r in returning)}"
    if not is_postgresql(session):
        return _insert_rows_sqlite(session, table, rows, names, head, tail, bool(returning))
    arrays: dict[str, list[Any]] = {}
    casts: list[str] = []
    selects: list[str] = []
    for position, name in enumerate(names):
        column = table.c[name]
        param = f"a{position}"
        if isinstance(column.type, JSON):
            values = [None if row[name] is None else json.dumps(row[name]) for row in rows]
            casts.append(f"CAST(:{param} AS text[])")
            selects.append(f"u.{param}::json")
        else:
            process = _bind_processor(column, dialect)
            values = [process(row[name]) for row in rows]
            casts.append(f"CAST(:{param} AS {column.type.compile(dialect=dialect)}[])")
            selects.append(f"u.{param}")
        arrays[param] = values
    statement = text(
        f"{head}SELECT {', '.join(selects)} FROM unnest({', '.join(casts)}) "
        f"AS u({', '.join(arrays)}){tail}"
    )
    result = session.execute(statement, arrays)
    if returning:
        written = [tuple(row) for row in result]
        return Written(written, len(written))
    return Written([], max(0, int(result.rowcount)))  # type: ignore[attr-defined]


SQLITE_MAX_VARIABLES = 32_766  # SQLite >= 3.32


def _bind_processor(column: Any, dialect: Dialect) -> Callable[[Any], Any]:
    """How SQLAlchemy itself would convert a value for this column on this dialect: through
    the dialect's own type (SQLite's DATETIME writes "YYYY-MM-DD HH:MM:SS.ffffff", the form
    every comparison in SQL expects; the generic type would leave it to the driver). Times
    are converted once per distinct value: a batch mostly repeats one "now"."""
    processor: Callable[[Any], Any] | None = column.type.dialect_impl(dialect).bind_processor(
        dialect
    )
    if processor is None:
        return _as_is
    if not isinstance(getattr(column.type, "impl", column.type), DateTime):
        return processor
    convert = processor
    seen: dict[Any, Any] = {}

    def once_per_value(value: Any) -> Any:
        if value not in seen:
            seen[value] = convert(value)
        return seen[value]

    return once_per_value


def _as_is(value: Any) -> Any:
    return value


def _insert_rows_sqlite(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    names: list[str],
    head: str,
    tail: str,
    returns: bool,
) -> Written:
    dialect = session.get_bind().dialect
    processors = [_bind_processor(table.c[name], dialect) for name in names]
    placeholders = "(" + ", ".join("?" * len(names)) + ")"
    connection = session.connection()
    if not returns:  # one statement, compiled once, run per row: the cheapest SQLite has
        per_row = [tuple(p(row[n]) for n, p in zip(names, processors, strict=True)) for row in rows]
        result = connection.exec_driver_sql(f"{head}VALUES {placeholders}{tail}", per_row)
        return Written([], max(0, int(result.rowcount)))
    per_statement = max(1, SQLITE_MAX_VARIABLES // len(names))
    returned: list[tuple[Any, ...]] = []
    for begin in range(0, len(rows), per_statement):
        part = rows[begin : begin + per_statement]
        values = [p(row[n]) for row in part for n, p in zip(names, processors, strict=True)]
        sql = f"{head}VALUES {', '.join([placeholders] * len(part))}{tail}"
        returned.extend(tuple(row) for row in connection.exec_driver_sql(sql, tuple(values)))
    return Written(returned, len(returned))
