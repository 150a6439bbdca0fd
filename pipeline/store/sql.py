"""Dialect helpers: the few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Connection, Table
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
