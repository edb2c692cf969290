"""llm calls and render cache

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 01:40:00.000000

Every language model call is recorded (`llm_calls`: the budget and the audit trail), and
answers worth reusing are kept in `render_cache`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kadr.core.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_id", sa.String(length=64), nullable=False),
        sa.Column("prompt_version", sa.Integer(), nullable=False),
        sa.Column("prompt_hash", sa.String(length=64), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("subject_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_llm_calls_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_calls")),
    )
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.create_index("ix_llm_calls_owner_created", ["owner_id", "created_at"], unique=False)

    op.create_table(
        "render_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("prompt_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("tokens_saved", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("created_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_render_cache_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_render_cache")),
    )
    with op.batch_alter_table("render_cache", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_render_cache_owner_id"), ["owner_id"], unique=False)


def downgrade() -> None:
    op.drop_table("render_cache")
    op.drop_table("llm_calls")
