"""glossaries

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-04 18:10:00.000000

A user's terms and their translations, one row per language pair.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kadr.core.db

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "glossaries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("source_language", sa.String(length=8), nullable=False),
        sa.Column("target_language", sa.String(length=8), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("created_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_glossaries_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_glossaries")),
        sa.UniqueConstraint(
            "owner_id", "source_language", "target_language", name="uq_glossaries_owner_pair"
        ),
    )
    with op.batch_alter_table("glossaries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_glossaries_owner_id"), ["owner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("glossaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_glossaries_owner_id"))
    op.drop_table("glossaries")
