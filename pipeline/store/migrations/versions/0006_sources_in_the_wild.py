"""sources: options, failures, next_fetch_at; papers: listed_at, title_key and the HF fields

- sources.options (JSON): per-source parsing options, such as the id pattern of a site the
  aggregator table does not know;
- sources.failures, sources.next_fetch_at: failed fetches in a row and when the source may be
  fetched again (a 429/503's Retry-After, or exponential backoff);
- papers.listed_at: when a paper was first announced as a paper of the day; papers seen only
  as replacements of older papers have none. Existing papers were all listed when first seen.
  Ranking windows and ages count from it, so 0005's ranking indexes move from first_seen_at
  to listed_at (ix_papers_seen_order becomes ix_papers_listed_order), and first_seen_at,
  which no query filters on any more, loses its index (one less to write per paper);
- papers.title_key (indexed): the folded title an entry without an id is matched on;
- papers.summary, keywords, organization, featured_at: Hugging Face's ai_summary,
  ai_keywords, organization and submittedOnDailyAt.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:10:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

# The key must be the one ingestion computes today, so the function is shared, not copied.
from pipeline.ingest.twins import title_key

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 5000
RELISTED_BEFORE = "published_at > first_seen_at"
RELISTED = "published_at > listed_at"


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_fetch_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("keywords", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("organization", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("featured_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("title_key", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_papers_title_key", ["title_key"], unique=False)
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE papers SET listed_at = first_seen_at"))
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_index("ix_papers_relisted")
        batch_op.drop_index("ix_papers_seen_order")
        batch_op.drop_index("ix_papers_upvotes_order")
        batch_op.drop_index("ix_papers_first_seen_at")
        _ranking_indexes(batch_op, "listed_at", "ix_papers_listed_order", RELISTED)
    last = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT id, title FROM papers WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        bind.execute(
            sa.text("UPDATE papers SET title_key = :key WHERE id = :id"),
            [{"key": title_key(title or ""), "id": pid} for pid, title in rows],
        )
        last = rows[-1][0]


def _ranking_indexes(batch_op: Any, column: str, order_name: str, relisted: str) -> None:
    batch_op.create_index("ix_papers_upvotes_order", ["upvotes", column, "id"], unique=False)
    batch_op.create_index(order_name, [column, "id"], unique=False)
    batch_op.create_index(
        "ix_papers_relisted",
        ["published_at"],
        unique=False,
        postgresql_where=sa.text(relisted),
        sqlite_where=sa.text(relisted),
    )


def downgrade() -> None:
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_index("ix_papers_relisted")
        batch_op.drop_index("ix_papers_listed_order")
        batch_op.drop_index("ix_papers_upvotes_order")
        _ranking_indexes(batch_op, "first_seen_at", "ix_papers_seen_order", RELISTED_BEFORE)
        batch_op.create_index("ix_papers_first_seen_at", ["first_seen_at"], unique=False)
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_index("ix_papers_title_key")
        for name in ("listed_at", "title_key", "featured_at", "organization", "keywords"):
            batch_op.drop_column(name)
        batch_op.drop_column("summary")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("next_fetch_at")
        batch_op.drop_column("failures")
        batch_op.drop_column("options")
