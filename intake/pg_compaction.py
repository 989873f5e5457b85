"""PostgreSQL's part of ``intake compact``: leave no trace of arrival order in a row's header or its TOAST value.

``CLUSTER`` rewrites a table's heap in primary-key order (random ids, keyed hashes), but it copies each row as
it is, and two things in every PostgreSQL row still say when it arrived:

- ``xmin``, the id of the transaction that inserted it: transaction ids only grow, so ordering the rows by
  ``xmin`` gives their arrival order exactly, and CLUSTER (like VACUUM FULL and freezing) keeps it;
- the OID of each value stored out of line in the table's TOAST table (every envelope, reply and 512 KiB blob
  chunk is far over the ~2 KB threshold, and ciphertext does not compress): OIDs come from one counter that
  only grows, and CLUSTER keeps them ("swap by content") so that pointers stay valid.

So before CLUSTER, each table's rows are rewritten one by one in primary-key order in one transaction: every
new row version has that transaction's ``xmin`` (one value for the whole table), its command number follows
the key order, and every out-of-line value is stored again (``col || ''`` makes a new value, where ``SET col
= col`` would keep the old pointer) under a new OID taken in key order. CLUSTER then drops the old versions
and writes heap and TOAST in key order. The cost is one more copy of each table in the WAL; writers to the
table wait while it is rewritten, as they already did for CLUSTER's lock.

A row version an older snapshot still needs (an export running at that moment) survives CLUSTER with its
old ``xmin`` until the next compaction: run ``intake compact`` after an export, not during one.
"""

from __future__ import annotations

from sqlalchemy import LargeBinary, String, Table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from intake import tables

# How long compaction waits for a table's lock. An export holds a read lock for as long as it writes its bundle,
# and PostgreSQL queues every later writer behind a lock request that waits: without a bound, submissions would
# wait for the whole export. Past it, compaction stops and says so (LockWaitError); run it again later.
LOCK_WAIT = "5s"
_LOCK_NOT_AVAILABLE = "55P03"

# The tables of submissions, receipts, replies and files, in the order compaction rewrites them.
KEYED = (tables.envelopes, tables.receipts, tables.replies, tables.reply_digests, tables.blobs, tables.blob_chunks)


def _fresh(column_name: str, column_type: object) -> str:
    """An expression equal to the column's value that PostgreSQL stores as a new value."""
    if isinstance(column_type, LargeBinary):
        return f"{column_name} || ''::bytea"
    if isinstance(column_type, String):  # Text is a String
        return f"{column_name} || ''"
    return column_name


def rewrite_sql(table: Table) -> str:
    """A DO block that updates every row of ``table`` on its own, in primary-key order."""
    keys = [column.name for column in table.primary_key.columns]
    others = [column for column in table.columns if not column.primary_key]
    assignments = ", ".join(f"{c.name} = {_fresh(c.name, c.type)}" for c in others) or f"{keys[0]} = {keys[0]}"
    match = " AND ".join(f"{key} = r.{key}" for key in keys)
    # Names come from intake.tables only, never from input.
    return (f"DO $$ DECLARE r record; BEGIN "  # noqa: S608
            f"FOR r IN SELECT {', '.join(keys)} FROM {table.name} ORDER BY {', '.join(keys)} LOOP "
            f"UPDATE {table.name} SET {assignments} WHERE {match}; "
            f"END LOOP; END $$")  # fmt: skip


class LockWaitError(Exception):
    """A table stayed locked (an export or a backup reading it) for longer than compaction waits."""


def _locked(error: OperationalError) -> bool:
    return str(getattr(error.orig, "sqlstate", "") or "") == _LOCK_NOT_AVAILABLE


def compact(conn: Connection) -> None:
    """Rewrite, then CLUSTER, each keyed table in its own transaction (one table locked at a time: no lock
    cycle with a writer). LockWaitError, naming the table, if its lock is not free within ``LOCK_WAIT``."""
    for step in ("rewrite", "cluster"):
        for table in KEYED:
            try:
                with conn.begin():
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
                    if step == "rewrite":
                        # EXCLUSIVE: readers go on, writers wait, so no row escapes the rewrite or is locked half
                        # way; CLUSTER then takes ACCESS EXCLUSIVE for the time of copying the table.
                        conn.exec_driver_sql(f"LOCK TABLE {table.name} IN EXCLUSIVE MODE")
                        conn.exec_driver_sql(rewrite_sql(table))
                    else:
                        conn.exec_driver_sql(f"CLUSTER {table.name} USING {table.name}_pkey")
            except OperationalError as error:
                if _locked(error):
                    raise LockWaitError(table.name) from None
                raise
