"""voice maps

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 21:40:00.000000

A team's speaker→voice maps, kept across videos and named by the runs that use them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kadr.core.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_maps",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("speakers", sa.JSON(), nullable=False),
        sa.Column("created_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_voice_maps_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_maps")),
        sa.UniqueConstraint("owner_id", "name", name="uq_voice_maps_owner_name"),
    )
    with op.batch_alter_table("voice_maps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voice_maps_owner_id"), ["owner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("voice_maps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_maps_owner_id"))
    op.drop_table("voice_maps")
