"""run review

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 21:20:00.000000

A run may stop for a person after some of its components (`review`); `reviewed` lists those a
person has let go on from.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The server default fills the runs already there; dropped afterwards, as the model sets both.
    empty = sa.text("'[]'")
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("review", sa.JSON(), nullable=False, server_default=empty))
        batch.add_column(sa.Column("reviewed", sa.JSON(), nullable=False, server_default=empty))
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("review", server_default=None, existing_type=sa.JSON(), existing_nullable=False)
        batch.alter_column("reviewed", server_default=None, existing_type=sa.JSON(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("reviewed")
        batch.drop_column("review")
