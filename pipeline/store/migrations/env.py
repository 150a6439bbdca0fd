"""Alembic environment: runs migrations on the engine handed over by pipeline.store.db."""

from __future__ import annotations

from alembic import context

from pipeline.store.models import Base, exists_on

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=exists_on(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
