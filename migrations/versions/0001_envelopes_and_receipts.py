"""Sealed envelopes, receipt hashes and the submission serial counter.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "envelopes",
        sa.Column("id", sa.LargeBinary(16), primary_key=True),
        sa.Column("serial", sa.BigInteger, nullable=False, unique=True),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("received_on", sa.Date, nullable=False),
    )
    op.create_table(
        "receipts",
        sa.Column("lookup", sa.LargeBinary(32), primary_key=True),
        sa.Column("envelope_id", sa.LargeBinary(16), nullable=True, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_on", sa.Date, nullable=False),
    )
    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(counters, [{"name": "serial", "value": 0}])


def downgrade() -> None:
    op.drop_table("counters")
    op.drop_table("receipts")
    op.drop_table("envelopes")
