"""The Alembic migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from pipeline.store.models import Base
from tests.conftest import Store


def test_migrated_schema_matches_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_the_claim_order_has_its_index(store: Store) -> None:
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(store.engine).get_indexes(
        "deliveries")}
    assert indexes["ix_deliveries_claim_order"] == ["edition_id", "status", "segment_id", "id"]
    assert "ix_deliveries_edition_status" not in indexes
