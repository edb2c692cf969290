"""scenarios

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:00:00.000000

Scenarios (structured video scripts, written by hand or generated), every version of their
content, and their shares (read-only links, stored hashed, and grants to other users).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kadr.core.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("from_cache", sa.Boolean(), nullable=False),
        sa.Column("brief", sa.JSON(), nullable=True),
        sa.Column("source_run_id", sa.String(length=40), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("title_folded", sa.String(length=200), nullable=False),
        sa.Column("logline", sa.String(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("aspect", sa.String(length=8), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("target_duration_s", sa.Integer(), nullable=False),
        sa.Column("words_per_minute", sa.Integer(), nullable=False),
        sa.Column("hook", sa.String(), nullable=False),
        sa.Column("scenes", sa.JSON(), nullable=False),
        sa.Column("call_to_action", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("idempotency_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("created_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_scenarios_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenarios")),
        sa.UniqueConstraint("owner_id", "idempotency_key", name="uq_scenarios_owner_idempotency"),
    )
    with op.batch_alter_table("scenarios", schema=None) as batch_op:
        batch_op.create_index("ix_scenarios_owner_created", ["owner_id", "created_at"], unique=False)

    op.create_table(
        "scenario_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scenario_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("author_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_scenario_versions_scenario_id_scenarios"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_versions")),
        sa.UniqueConstraint("scenario_id", "number", name="uq_scenario_versions_scenario_number"),
    )

    op.create_table(
        "scenario_shares",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("scenario_id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("expires_at", kadr.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", kadr.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kadr.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_scenario_shares_scenario_id_scenarios"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_scenario_shares_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_shares")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_scenario_shares_token_hash")),
    )
    with op.batch_alter_table("scenario_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scenario_shares_scenario_id"), ["scenario_id"], unique=False)
        batch_op.create_index("ix_scenario_shares_user", ["user_id", "scenario_id"], unique=False)


def downgrade() -> None:
    op.drop_table("scenario_shares")
    op.drop_table("scenario_versions")
    op.drop_table("scenarios")
