"""Questionnaire versions: the canonical bytes of every questionnaire the server served, keyed by SHA-256.

Every export carries them all (bundle version 5), so a laptop can show each answer with the words the person
saw and stop when a version it never accepted arrives (issue 23, invariant 20). The rows are the public
questions, never an answer.

Revision ID: 0009
Revises: 0007 (the lead re-chains it after 0008 when merging)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questionnaires",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("canonical", sa.LargeBinary, nullable=False),
        sa.Column("recorded_on", sa.Date, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    # Older code exports no questionnaire block; it serves only the built-in questionnaire, which every laptop knows.
    op.drop_table("questionnaires")
