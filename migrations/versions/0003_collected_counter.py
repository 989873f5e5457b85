"""A counter of envelopes deleted by acknowledgements, so the pending count is O(1) per submission.

pending = serial - collected: serials are never skipped (a rolled-back submission takes none) and only
an applied acknowledgement deletes an envelope, so the difference is exactly the envelopes stored.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO counters (name, value) SELECT 'collected', "
            "(SELECT value FROM counters WHERE name = 'serial') - (SELECT count(*) FROM envelopes)"
        )
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM counters WHERE name = 'collected'"))
