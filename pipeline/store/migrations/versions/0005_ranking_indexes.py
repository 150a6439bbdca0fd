"""papers: the indexes the home page's top-N walk reads instead of the whole window

pipeline/ranking/top.py finds the few best papers of a window without reading every paper of
it, by reading papers in three orders and stopping once no paper left can make the top:

- ix_papers_upvotes_order (upvotes, first_seen_at, id): most upvoted first; first_seen_at lets
  the window's bound be checked in the index, id breaks ties so a walk resumes exactly;
- ix_papers_seen_order (first_seen_at, id): newest first, resumable inside the thousands of
  papers one ingestion stores at the same instant;
- ix_papers_relisted (published_at), partial: only papers published after they were first
  seen, whose age counts from publication, so they are found without reading the others.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Written out, not imported from the models: a migration keeps meaning what it meant.
RELISTED = "published_at > first_seen_at"


def upgrade() -> None:
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_papers_upvotes_order", ["upvotes", "first_seen_at", "id"], unique=False
        )
        batch_op.create_index("ix_papers_seen_order", ["first_seen_at", "id"], unique=False)
        batch_op.create_index(
            "ix_papers_relisted",
            ["published_at"],
            unique=False,
            postgresql_where=sa.text(RELISTED),
            sqlite_where=sa.text(RELISTED),
        )


def downgrade() -> None:
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_index("ix_papers_relisted")
        batch_op.drop_index("ix_papers_seen_order")
        batch_op.drop_index("ix_papers_upvotes_order")
