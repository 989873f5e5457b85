"""Blobs: the sealed files sent with requests and follow-ups, in bounded chunk rows (issue 24).

A blob is ciphertext only (crypto.filestream); its key lives only in its envelope's manifest. ``stager`` is
the random id of the server process that is still receiving it (NULL once it belongs to a receipted
envelope): what a killed process left staged is deleted at the next start (intake.blobs). Random ids,
``WITHOUT ROWID`` on SQLite: nothing stored says in which order files arrived.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("id", sa.LargeBinary(16), primary_key=True),
        sa.Column("envelope_id", sa.LargeBinary(16), nullable=True, index=True),
        sa.Column("stager", sa.LargeBinary(16), nullable=True, index=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("staged_on", sa.Date, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "blob_chunks",
        sa.Column("blob_id", sa.LargeBinary(16), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    # Older code cannot export files: the blobs go (their envelopes stay, and say which files they had).
    op.drop_table("blob_chunks")
    op.drop_table("blobs")
