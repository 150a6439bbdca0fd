"""Dialect helpers: the few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    Dialect,
    Table,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler


class _Among(ColumnElement[bool]):
    """`column IN ids`, spelled per dialect (see `among`)."""

    inherit_cache = False  # the ids are part of the SQL text on SQLite: nothing to reuse
    type = Boolean()
    # A condition in itself. Without this, SQLite (no native boolean) gets it as
    # `(id IN (...)) = 1`, an expression no index serves: every batch scanned its whole table.
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[Any], ids: list[int]) -> None:
        self.column = column
        self.ids = ids


@compiles(_Among)
def _among_in_list(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    if not element.ids:
        return "1 != 1"
    return f"{column} IN ({', '.join(str(i) for i in element.ids)})"


@compiles(_Among, "postgresql")
def _among_any_array(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    if not element.ids:
        return "1 != 1"
    ids = bindparam(f"among_{next(_AMONG)}", element.ids, type_=ARRAY(BigInteger))
    low, high = element.ids[0], element.ids[-1]
    return f"({column} BETWEEN {low} AND {high} AND {column} = ANY({compiler.process(ids, **kw)}))"


_AMONG = itertools.count(1)


def among(
    column: ColumnElement[int] | InstrumentedAttribute[int], ids: Iterable[int]
) -> ColumnElement[bool]:
    """`column IN (ids)` for a batch of ids, as cheap for the driver as it can be.

    PostgreSQL: one array parameter (`column = ANY(:ids)`); as thousands of bound
    parameters, or as literals, psycopg parses the statement's text on the client, which cost
    more than the query (5,000 ids: ~0.1 s). SQLite: the ints written into the SQL (its
    driver binds nothing it does not have to, and the bound-parameter limit is 32,766).

    On PostgreSQL the ids' range comes too, as a plain BETWEEN: when the table's statistics
    say the other key column's value is rare (an edition being filled, not analyzed since),
    the planner kept `= ANY` out of the index condition and filtered every entry of that
    value instead, once per batch (2.3 s per batch half way through a million readers). A
    range on the index's next column is always an index condition, so the scan is bounded
    by the batch whatever the statistics say."""
    element: ColumnElement[Any] = (
        column.__clause_element__() if isinstance(column, InstrumentedAttribute) else column
    )
    return _Among(element, sorted({int(i) for i in ids}))


def range_end(
    session: Session, column: InstrumentedAttribute[int], after: int, size: int
) -> int | None:
    """The last of the next `size` values of an indexed `column` above `after` (None when
    there are none): the bound of one chunk when a table is read in key order.

    Chunks read as `key > after AND key <= end` with their filters, not as `... ORDER BY key
    LIMIT size`: with filters and a LIMIT the database guesses how many rows to scan from the
    filters' selectivity, and on a table not analyzed since it was filled (a million readers
    imported an hour ago) it guessed a scan and sort of the whole table per chunk, readers^2
    for the pass. Stepping over the bare index never depends on statistics."""
    keys = select(column).where(column > after).order_by(column).limit(size).subquery()
    end = session.scalar(select(func.max(keys.c[0])))
    return None if end is None else int(end)


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
    column defaults: give every value a NOT NULL column needs.

    On PostgreSQL a column whose value every row shares (an edition id, a status, "now") is
    one scalar parameter, where an array of 5,000 copies cost the driver ~10 ms."""
    if not rows:
        return Written([], 0)
    if any(list(row) != list(rows[0]) for row in rows):
        raise ValueError("every row must carry the same columns, in the same order")
    shared: dict[str, Any] = {}
    if is_postgresql(session) and len(rows) > 1:
        shared = _constant_columns(rows)
        rows = [{k: v for k, v in row.items() if k not in shared} for row in rows]
    names = list(rows[0])
    dialect = session.get_bind().dialect
    quoted = dialect.identifier_preparer.quote
    columns = [*names, *shared]
    head = f"INSERT INTO {quoted(table.name)} ({', '.join(quoted(n) for n in columns)}) "
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
    scalars: dict[str, Any] = {}
    for position, (name, value) in enumerate(shared.items()):
        column = table.c[name]
        param = f"s{position}"
        scalars[param] = _bind_processor(column, dialect)(value)
        selects.append(f"CAST(:{param} AS {column.type.compile(dialect=dialect)})")
    statement = text(
        f"{head}SELECT {', '.join(selects)} FROM unnest({', '.join(casts)}) "
        f"AS u({', '.join(arrays)}){tail}"
    )
    result = session.execute(statement, {**arrays, **scalars})
    if returning:
        written = [tuple(row) for row in result]
        return Written(written, len(written))
    return Written([], max(0, int(result.rowcount)))  # type: ignore[attr-defined]


def _constant_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Columns whose value is the same in every row (a status, "now", a channel): bound once
    instead of as an array of copies, which psycopg builds value by value in Python (an
    import of 100,000 readers spent a third of its time there)."""
    first = rows[0]
    constant = dict(first)
    for row in rows[1:]:
        for name in [n for n, v in constant.items() if row[n] != v or type(row[n]) is not type(v)]:
            del constant[name]
        if not constant:
            break
    if len(constant) == len(first):  # keep one column per row for unnest to count rows
        constant.pop(next(iter(first)))
    return constant


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
