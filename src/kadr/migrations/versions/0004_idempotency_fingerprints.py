"""idempotency fingerprints

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 23:30:00.000000

Runs and publications keep the fingerprint of the request that made them under an
Idempotency-Key, so the same key with a different request can be refused. Rows made before
have none (taken as the same request). Keys stored empty by earlier versions become NULL:
an empty header means no key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = ("runs", "publications")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("idempotency_fingerprint", sa.String(length=64), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET idempotency_key = NULL WHERE idempotency_key = ''"))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("idempotency_fingerprint")
