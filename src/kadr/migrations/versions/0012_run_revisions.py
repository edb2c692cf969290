"""run revisions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00.000000

A run made from another by a person's edits (a caption fixed, a highlight's times moved)
names the run it revises.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_run_id", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_runs_parent_run_id"), ["parent_run_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_runs_parent_run_id_runs"), "runs", ["parent_run_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_runs_parent_run_id_runs"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_runs_parent_run_id"))
        batch_op.drop_column("parent_run_id")
