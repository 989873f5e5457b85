"""Former recipients: a caseworker key removed while envelopes sealed to it wait keeps its public half.

Without it, an export after ``intake recipients remove`` could not name every reader of the envelopes
sealed to the removed key and stopped (issue 20). The rows are public keys only.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "former_recipients",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("public_text", sa.Text, nullable=False),
        sa.Column("removed_on", sa.Date, nullable=False),
    )


def downgrade() -> None:
    # Older code cannot use them: exports stop again until every envelope sealed to a removed key is gone.
    op.drop_table("former_recipients")
