"""editions.status_reason, opaque subscriber link ids, the suppression log

- editions.status_reason: why an edition is paused or cancelled (shown by `paperround status`).
- subscribers.link_id: the opaque id signed links carry instead of the sequential row id, so a
  link says nothing about how many readers there are or who else subscribed. Existing readers
  get a random one; links they hold stop working (they carried the row id).
- suppression_log: every suppression added or lifted, by whom and why (audit).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_id", sa.String(length=32), nullable=True))
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM subscribers"))]
    for subscriber_id in ids:
        bind.execute(
            sa.text("UPDATE subscribers SET link_id = :link WHERE id = :id"),
            {"link": secrets.token_hex(12), "id": subscriber_id},
        )
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.alter_column("link_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint("uq_subscribers_link_id", ["link_id"])
    op.create_table(
        "suppression_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("suppression_log", schema=None) as batch_op:
        batch_op.create_index("ix_suppression_log_email_key", ["email_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("suppression_log", schema=None) as batch_op:
        batch_op.drop_index("ix_suppression_log_email_key")
    op.drop_table("suppression_log")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_subscribers_link_id", type_="unique")
        batch_op.drop_column("link_id")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("status_reason")
