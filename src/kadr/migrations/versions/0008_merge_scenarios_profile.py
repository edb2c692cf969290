"""merge: scenarios (0006) and user profile and inbox (0007)

Revision ID: 0008
Revises: 0006, 0007
Create Date: 2026-12-05 12:00:00.000000

Both were written on top of 0005 at the same time; this joins them into one head, so a
database at either (or at 0005) upgrades to the same schema. It changes nothing itself.
"""

from __future__ import annotations

revision = "0008"
down_revision = ("0006", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
