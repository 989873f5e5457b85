"""Envelopes in a rowid table whose rowids are random (SQLite only).

A 33 KB envelope in a ``WITHOUT ROWID`` table is stored in an index b-tree, whose leaf keeps about 1 KB of
each row and whose balancing moves those pieces on every insert: SQLite's documentation advises against
``WITHOUT ROWID`` for rows larger than about a twentieth of a page. In a rowid table the same insert costs
about 40 % less CPU (bench/intake_bench.py, issue 21). A rowid that grows with each insert would store the
arrival order (invariant 15), so every envelope gets a random 63-bit rowid (``intake.storage``); this
revision gives the envelopes already stored random rowids too, copied in id order. ``id`` stays the primary
key (a unique index). PostgreSQL has no rowid: nothing changes there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# random() is SQLite's own generator, seeded from the system's; masked to a non-negative 63-bit value.
_COPY_WITH_RANDOM_ROWIDS = ("INSERT INTO envelopes (rowid, id, serial, envelope, received_on, sealed_to) "
                            "SELECT random() & 9223372036854775807, id, serial, envelope, received_on, sealed_to "
                            "FROM envelopes_old ORDER BY id")
_COPY = ("INSERT INTO envelopes (id, serial, envelope, received_on, sealed_to) "
         "SELECT id, serial, envelope, received_on, sealed_to FROM envelopes_old ORDER BY id")


def _columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.LargeBinary(16), primary_key=True),
        sa.Column("serial", sa.BigInteger, nullable=True, unique=True),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("received_on", sa.Date, nullable=False),
        sa.Column("sealed_to", sa.Text, nullable=True),
    ]


def _rebuild(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.rename_table("envelopes", "envelopes_old")
    op.create_table("envelopes", *_columns(), sqlite_with_rowid=with_rowid)
    op.execute(sa.text(_COPY_WITH_RANDOM_ROWIDS if with_rowid else _COPY))
    op.drop_table("envelopes_old")


def upgrade() -> None:
    _rebuild(with_rowid=True)


def downgrade() -> None:
    _rebuild(with_rowid=False)
