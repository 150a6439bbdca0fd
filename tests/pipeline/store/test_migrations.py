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
    indexes = {ix["name"]: ix for ix in inspect(store.engine).get_indexes("deliveries")}
    waiting = indexes["ix_deliveries_waiting"]
    assert waiting["column_names"] == ["waiting", "edition_id", "segment_id", "id"]
    assert "ix_deliveries_claim_order" not in indexes and "ix_deliveries_open" not in indexes
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            # Only this test's schema: other suites may share the server and have the index too.
            definition = conn.execute(
                text(
                    "SELECT indexdef FROM pg_indexes "
                    "WHERE schemaname = current_schema() AND indexname = 'ix_deliveries_waiting'"
                )
            ).scalar_one()
        assert "WHERE (waiting IS NOT NULL)" in definition


def test_no_index_of_deliveries_covers_what_a_message_changes(store: Store) -> None:
    """What claimed -> sending -> sent writes must be in no index (nor an index predicate):
    on PostgreSQL that is what makes those two updates per message HOT."""
    per_message = {
        "status",
        "attempts",
        "message_id",
        "claimed_at",
        "updated_at",
        "claim_token",
        "last_code",
        "last_error",
        "sent_at",
        "next_attempt_at",
    }
    for index in inspect(store.engine).get_indexes("deliveries"):
        assert not per_message & set(index["column_names"]), index
