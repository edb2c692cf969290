"""api key scopes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 15:55:00.000000

Every API key gets a list of scopes. Keys made before scopes existed could do anything their
owner could; they keep every scope but `admin`, so what they automate keeps working while a
leaked key can no longer mint or revoke keys. The list is written out here rather than imported:
a migration must not change when the code's catalogue grows.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Scopes of the keys that exist when this runs (every scope of 2026-12 except `admin`).
_EXISTING_KEY_SCOPES = [
    "videos:read",
    "videos:write",
    "runs:read",
    "runs:write",
    "channels:read",
    "channels:write",
    "publications:read",
    "publish",
    "notifications:read",
    "notifications:write",
]


def upgrade() -> None:
    # A server default fills the rows already there; it is dropped afterwards because the model
    # sets scopes explicitly on every new key.
    default = sa.text("'" + json.dumps(_EXISTING_KEY_SCOPES) + "'")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.JSON(), nullable=False, server_default=default))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("scopes", server_default=None, existing_type=sa.JSON(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("scopes")
