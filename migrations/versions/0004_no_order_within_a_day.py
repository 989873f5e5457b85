"""No order within a day; acknowledgements bound to the keys an envelope was sealed to; replies.

* envelopes, receipts and applied_acks are rebuilt ``WITHOUT ROWID`` on SQLite (no insertion-ordered
  rowid), envelopes get a nullable serial (assigned at export, shuffled) and ``sealed_to``.
* Envelopes stored before this revision and never exported lose their serial (it was the order they
  came in); they get one, shuffled, at the next export. Exported ones keep theirs: a laptop knows them.
* A ``received`` counter (envelopes ever stored) replaces "serial" in the pending count.
* ``replies``: sealed caseworker replies under the hash of the requester's reply key.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NO_ROWID = {"sqlite_with_rowid": False}


def _rebuild(name: str, columns: list[sa.Column], copy: str) -> None:
    op.rename_table(name, f"{name}_old")
    op.create_table(name, *columns, **NO_ROWID)
    op.execute(sa.text(f"INSERT INTO {name} {copy} FROM {name}_old"))
    op.drop_table(f"{name}_old")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.execute(sa.text(
        "INSERT INTO counters (name, value) SELECT 'received', "
        "(SELECT value FROM counters WHERE name = 'serial')"
    ))  # fmt: skip
    # Every serial stays: the exported ones are known to laptops (their gap check depends on them), and
    # before 0004 nothing tells an exported envelope from one that was not. The shuffle starts now.
    if _sqlite():
        _rebuild("envelopes", [
            sa.Column("id", sa.LargeBinary(16), primary_key=True),
            sa.Column("serial", sa.BigInteger, nullable=True, unique=True),
            sa.Column("envelope", sa.LargeBinary, nullable=False),
            sa.Column("received_on", sa.Date, nullable=False),
            sa.Column("sealed_to", sa.Text, nullable=True),
        ], "(id, serial, envelope, received_on, sealed_to) SELECT id, serial, envelope, received_on, NULL")
        op.execute(sa.text("DROP INDEX IF EXISTS ix_receipts_envelope_id"))
        _rebuild("receipts", [
            sa.Column("lookup", sa.LargeBinary(32), primary_key=True),
            sa.Column("envelope_id", sa.LargeBinary(16), nullable=True),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("status_on", sa.Date, nullable=False),
        ], "(lookup, envelope_id, status, status_on) SELECT lookup, envelope_id, status, status_on")
        op.create_index("ix_receipts_envelope_id", "receipts", ["envelope_id"])
        _rebuild("applied_acks", [
            sa.Column("digest", sa.LargeBinary(32), primary_key=True),
            sa.Column("applied_on", sa.Date, nullable=False),
        ], "(digest, applied_on) SELECT digest, applied_on")
    else:
        # PostgreSQL has no rowid; its heap order remains (see docs/THREAT_MODEL.md).
        op.alter_column("envelopes", "serial", existing_type=sa.BigInteger, nullable=True)
        op.add_column("envelopes", sa.Column("sealed_to", sa.Text, nullable=True))
    op.create_table(
        "replies",
        sa.Column("id", sa.LargeBinary(16), primary_key=True),
        sa.Column("mailbox", sa.LargeBinary(32), nullable=False),
        sa.Column("container", sa.LargeBinary, nullable=False),
        sa.Column("stored_on", sa.Date, nullable=False),
        **NO_ROWID,
    )
    op.create_index("ix_replies_mailbox", "replies", ["mailbox"])


def downgrade() -> None:
    op.drop_index("ix_replies_mailbox", "replies")
    op.drop_table("replies")
    # Revision 0003 needs a serial on every envelope: number the unexported ones after the high-water mark.
    conn = op.get_bind()
    high = conn.execute(sa.text("SELECT value FROM counters WHERE name = 'serial'")).scalar_one()
    unnumbered = [row[0] for row in conn.execute(sa.text("SELECT id FROM envelopes WHERE serial IS NULL"))]
    for offset, entry_id in enumerate(unnumbered, start=1):
        conn.execute(sa.text("UPDATE envelopes SET serial = :s WHERE id = :i"), {"s": high + offset, "i": entry_id})
    # 0003 counts every envelope ever stored in "serial"; all of them now have one.
    received = conn.execute(sa.text("SELECT value FROM counters WHERE name = 'received'")).scalar_one()
    conn.execute(sa.text("UPDATE counters SET value = :v WHERE name = 'serial'"),
                 {"v": max(high + len(unnumbered), received)})  # fmt: skip
    op.execute(sa.text("DELETE FROM counters WHERE name = 'received'"))
    if not _sqlite():
        op.drop_column("envelopes", "sealed_to")
        op.alter_column("envelopes", "serial", existing_type=sa.BigInteger, nullable=False)
        return
    op.rename_table("envelopes", "envelopes_new")
    op.create_table(
        "envelopes",
        sa.Column("id", sa.LargeBinary(16), primary_key=True),
        sa.Column("serial", sa.BigInteger, nullable=False, unique=True),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("received_on", sa.Date, nullable=False),
    )
    op.execute(sa.text("INSERT INTO envelopes (id, serial, envelope, received_on) "
                       "SELECT id, serial, envelope, received_on FROM envelopes_new"))  # fmt: skip
    op.drop_table("envelopes_new")
