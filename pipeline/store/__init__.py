"""The store: SQLAlchemy 2.0 models with their status enums, engines and sessions, Alembic
migrations, dialect helpers and nightly maintenance."""

from pipeline.store.db import create_engine_for, init_store, session_factory, write_transaction

__all__ = ["create_engine_for", "init_store", "session_factory", "write_transaction"]
