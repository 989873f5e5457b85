"""Caseworker exchange: registered recipients, the bundle counter, applied acknowledgements.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recipients",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("public_text", sa.Text, nullable=False),
        sa.Column("added_on", sa.Date, nullable=False),
    )
    op.create_table(
        "applied_acks",
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("applied_on", sa.Date, nullable=False),
    )
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "bundle", "value": 0}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM counters WHERE name = 'bundle'"))
    op.drop_table("applied_acks")
    op.drop_table("recipients")
