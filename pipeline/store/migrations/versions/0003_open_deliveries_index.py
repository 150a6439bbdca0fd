"""deliveries: a partial index of the rows still open

The minutely sweeps look across editions: stale claims (claimed/sending), lost tasks
(pending/retry) and rows to reconcile (unknown). Without an index on status they read the
whole table, which keeps every delivery of every edition ever sent. This index holds only
the open rows, so it stays as small as the work in flight; a row that becomes sent, failed
or skipped leaves it. PostgreSQL only: SQLite cannot use a partial index whose predicate is an
IN list for `status = 'x'`, so there it would slow every send and help no sweep.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Written out, not imported from the models: a migration keeps meaning what it meant.
OPEN = "status IN ('pending', 'retry', 'claimed', 'sending', 'unknown')"


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if _postgresql():
        op.create_index(
            "ix_deliveries_open",
            "deliveries",
            ["status", "edition_id"],
            unique=False,
            postgresql_where=sa.text(OPEN),
        )


def downgrade() -> None:
    if _postgresql():
        op.drop_index("ix_deliveries_open", table_name="deliveries")
