"""user profile and notification inbox

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04 02:30:00.000000

Users get a locale (BCP 47), a time zone (IANA) and a default language (ISO 639-1), all
optional. Events get `read_at`, the inbox's read state. The events written before the inbox
existed count as read: they were the event log, and an upgrade must not greet everyone with
every old event as unread.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kadr.core.db

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("default_language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_at", kadr.core.db.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE events SET read_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("read_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("default_language")
        batch_op.drop_column("timezone")
        batch_op.drop_column("locale")
