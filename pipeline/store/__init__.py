"""The store: SQLAlchemy 2.0 models, engines and sessions, Alembic migrations."""

from pipeline.store.db import create_engine_for, init_store, session_factory

__all__ = ["create_engine_for", "init_store", "session_factory"]
