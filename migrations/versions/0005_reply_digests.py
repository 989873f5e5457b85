"""Replies confirmed and stored once: the digests of the reply containers the server stored.

* ``reply_digests``: ``BLAKE2b-32`` of every reply container stored (kept for the replies' retention
  period, also after the person deleted the reply). Each bundle signs them (FORMAT.md §8.1, version 3),
  so a laptop knows which replies arrived; a reply carried again is not stored twice.
* Replies stored before this revision get their digest now, so a laptop learns they arrived.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import datetime
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _day(value: object) -> datetime.date:
    # SQLite hands a raw query's DATE back as text, PostgreSQL as a date.
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


def upgrade() -> None:
    table = op.create_table(
        "reply_digests",
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("stored_on", sa.Date, nullable=False),
        sqlite_with_rowid=False,
    )
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT container, stored_on FROM replies")).all()
    found = {hashlib.blake2b(bytes(row[0]), digest_size=32).digest(): _day(row[1]) for row in rows}
    if found:
        op.bulk_insert(table, [{"digest": digest, "stored_on": day} for digest, day in found.items()])


def downgrade() -> None:
    op.drop_table("reply_digests")
