"""One-time submission tokens (issue 19 item 2): the keyed hashes of the tokens already used.

A row is a keyed BLAKE2b of a random token and the day after which it may be forgotten; it names no
envelope or receipt. ``WITHOUT ROWID`` on SQLite, like every table since 0004 (no insertion order).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_tokens",
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("forget_after", sa.Date, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("used_tokens")
