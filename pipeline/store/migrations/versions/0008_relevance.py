"""ratings, reader interests, relevance vectorizers and models; segments.reasons

- ratings: a reader's +1/-1 per paper ("more / less like this"), unique per (reader, paper);
- reader_interests: seeds, followed and muted authors, excluded keywords, the relevance
  weight, a minimum score and "skip the email when nothing is left", per reader;
- relevance_vectorizers: fitted tf-idf vocabularies, versioned; relevance_models: one per
  reader, naming the version it was trained with;
- segments.reasons: why each paper of a segment is there ("you follow ...", "similar to ..."),
  so readers with the same papers but different reasons get different segments;
  segments.followed: which of its papers are by followed authors (a section of their own).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("subscriber_id", BigId, nullable=False),
        sa.Column("paper_id", BigId, nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscriber_id", "paper_id", name="uq_rating_reader_paper"),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ix_ratings_paper_id", ["paper_id"], unique=False)
    op.create_table(
        "reader_interests",
        sa.Column("subscriber_id", BigId, nullable=False),
        sa.Column("seeds", sa.JSON(), nullable=False),
        sa.Column("follow_authors", sa.JSON(), nullable=False),
        sa.Column("mute_authors", sa.JSON(), nullable=False),
        sa.Column("exclude_keywords", sa.JSON(), nullable=False),
        sa.Column("relevance_weight", sa.Float(), nullable=True),
        sa.Column("min_score", sa.Float(), nullable=True),
        sa.Column("skip_empty", sa.Boolean(), nullable=False),
        sa.Column("changed_at", When, nullable=False),
        sa.Column("rated_at", When, nullable=True),
        sa.Column("trained_at", When, nullable=True),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscriber_id"),
    )
    op.create_table(
        "relevance_vectorizers",
        sa.Column("version", BigId, nullable=False),
        sa.Column("fitted_at", When, nullable=False),
        sa.Column("papers", sa.Integer(), nullable=False),
        sa.Column("terms", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "relevance_models",
        sa.Column("subscriber_id", BigId, nullable=False),
        sa.Column("vectorizer_version", BigId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("prototype_ids", sa.JSON(), nullable=False),
        sa.Column("trained_at", When, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vectorizer_version"], ["relevance_vectorizers.version"]),
        sa.PrimaryKeyConstraint("subscriber_id"),
    )
    with op.batch_alter_table("relevance_models", schema=None) as batch_op:
        batch_op.create_index(
            "ix_relevance_models_vectorizer_version", ["vectorizer_version"], unique=False
        )
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reasons", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("followed", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_column("followed")
        batch_op.drop_column("reasons")
    op.drop_table("relevance_models")
    op.drop_table("relevance_vectorizers")
    op.drop_table("reader_interests")
    op.drop_table("ratings")
