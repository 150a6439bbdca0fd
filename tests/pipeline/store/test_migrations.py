"""The Alembic migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from pipeline.store.models import Base, exists_on
from tests.conftest import Store


def test_migrated_schema_matches_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": exists_on(conn.dialect.name)}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_claim_order_has_its_index(store: Store) -> None:
    indexes = {
        ix["name"]: ix["column_names"] for ix in inspect(store.engine).get_indexes("deliveries")
    }
    assert indexes["ix_deliveries_claim_order"] == ["edition_id", "status", "segment_id", "id"]
    assert "ix_deliveries_edition_status" not in indexes


def test_open_rows_index_is_partial_and_only_on_postgresql(store: Store) -> None:
    indexes = {ix["name"]: ix for ix in inspect(store.engine).get_indexes("deliveries")}
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            # Only this test's schema: other suites may share the server and have the index too.
            definition = conn.execute(
                text(
                    "SELECT indexdef FROM pg_indexes "
                    "WHERE schemaname = current_schema() AND indexname = 'ix_deliveries_open'"
                )
            ).scalar_one()
        assert "WHERE" in definition and "'unknown'" in definition and "'sent'" not in definition
    else:
        assert "ix_deliveries_open" not in indexes
